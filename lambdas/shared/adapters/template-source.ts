import { Env } from '../../../lib/definitions.js';
import { requireEnv } from '../config.js';
import { UnavailableError } from '../domain/errors.js';
import {
  parseTemplatePage,
  type TemplateDefinition,
  type UnreadableTemplate,
} from '../domain/templates.js';
import { readWhatsAppToken } from './secret-store.js';

/** Approved templates change rarely; a new one is seen within this time. */
const CACHE_MS = 60_000;
const PAGE_TIMEOUT_MS = 5_000;
const PAGE_SIZE = 100;
/** Far beyond any account's template count; guards a looping `next`. */
const MAX_PAGES = 100;
const FIELDS = 'name,language,status,category,parameter_format,components';

export interface TemplateList {
  readonly templates: readonly TemplateDefinition[];
  readonly unreadable: readonly UnreadableTemplate[];
  /** True when the list came from the cache rather than from Meta now. */
  readonly cached: boolean;
}

let cache: { at: number; list: TemplateList } | undefined;

/**
 * The WhatsApp Business Account's templates, from the Business Management
 * API (`GET /{waba-id}/message_templates`, every page), cached briefly.
 * `fresh` skips the cache, to see a template approved a moment ago.
 * Throws `UnavailableError` when Meta cannot be read.
 */
export const readTemplates = async ({
  fresh = false,
} = {}): Promise<TemplateList> => {
  if (!fresh && cache !== undefined && Date.now() - cache.at < CACHE_MS) {
    return { ...cache.list, cached: true };
  }
  const list = await fetchAllPages();
  cache = { at: Date.now(), list };

  return list;
};

const fetchAllPages = async (): Promise<TemplateList> => {
  const base = requireEnv(Env.WhatsAppApiUrl).replace(/\/+$/, '');
  const first = new URL(
    [
      base,
      requireEnv(Env.WhatsAppApiVersion),
      requireEnv(Env.WhatsAppBusinessAccountId),
      'message_templates',
    ].join('/')
  );
  first.searchParams.set('fields', FIELDS);
  first.searchParams.set('limit', String(PAGE_SIZE));
  const token = await readToken();
  const templates: TemplateDefinition[] = [];
  const unreadable: UnreadableTemplate[] = [];
  let next: string | undefined = first.toString();
  for (let page = 0; next !== undefined && page < MAX_PAGES; page++) {
    // The token goes only to the configured Graph API host.
    if (new URL(next).origin !== first.origin) {
      throw unavailable(
        `the next page is on another host: ${new URL(next).origin}`
      );
    }
    const parsed = await fetchPage(next, token);
    templates.push(...parsed.templates);
    unreadable.push(...parsed.unreadable);
    next = parsed.next;
  }

  return { templates, unreadable, cached: false };
};

const readToken = async (): Promise<string> => {
  try {
    return await readWhatsAppToken();
  } catch (error) {
    throw unavailable(
      `the WhatsApp access token cannot be read: ${(error as Error).message}`
    );
  }
};

const fetchPage = async (url: string, token: string) => {
  let response: Response;
  let text: string;
  try {
    response = await fetch(url, {
      headers: { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(PAGE_TIMEOUT_MS),
    });
    text = await response.text();
  } catch (error) {
    throw unavailable(`WhatsApp did not answer: ${(error as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw unavailable(`WhatsApp answered HTTP ${response.status} without JSON`);
  }
  if (!response.ok) {
    const error = (json as { error?: { message?: string } }).error;
    throw unavailable(
      `WhatsApp answered HTTP ${response.status}: ${error?.message ?? 'no message'}`
    );
  }
  try {
    return parseTemplatePage(json);
  } catch (error) {
    throw unavailable((error as Error).message);
  }
};

const unavailable = (detail: string) =>
  new UnavailableError(
    'templates_unavailable',
    'The approved WhatsApp templates could not be read, so the mapping ' +
      'cannot be checked; nothing was saved. Try again shortly.',
    [detail]
  );
