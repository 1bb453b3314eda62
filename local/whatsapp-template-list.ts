import type { IncomingMessage } from 'node:http';
import type { TemplateDefinition } from '../lambdas/shared/domain/templates.js';
import type { GraphFailure } from './whatsapp-check.js';

/**
 * The stand-in's `GET /{version}/{waba-id}/message_templates`: the local
 * registry, paged as Meta pages it (`data`, `paging.cursors`, and
 * `paging.next` while more remain), so the admin API reads templates
 * through the same code locally and in production.
 */
const LIST_PATH = /^\/(v\d+\.\d+)\/([^/]+)\/message_templates$/;
const DEFAULT_PAGE_SIZE = 25;
const MAX_PAGE_SIZE = 100;

export interface TemplateListOptions {
  readonly token: string;
  readonly businessAccountId?: string;
}

export type TemplateListAnswer =
  | { readonly status: number; readonly answer: unknown }
  | { readonly failure: GraphFailure };

/** The answer to a template-list request, or `undefined` for other paths. */
export const answerTemplateList = (
  options: TemplateListOptions,
  templates: readonly TemplateDefinition[],
  request: IncomingMessage,
  baseUrl: string
): TemplateListAnswer | undefined => {
  const url = new URL(request.url ?? '/', baseUrl);
  const match = LIST_PATH.exec(url.pathname);
  if (request.method !== 'GET' || match === null) return undefined;
  if (request.headers.authorization !== `Bearer ${options.token}`) {
    return {
      failure: {
        status: 401,
        code: 190,
        message: '(#190) Invalid OAuth access token',
        details: 'the bearer token is missing or is not the configured one',
      },
    };
  }
  if (match[2] !== options.businessAccountId) {
    return {
      failure: {
        status: 400,
        code: 100,
        message: `(#100) Object with ID '${match[2]}' does not exist`,
        details: 'the WhatsApp Business Account id is not the configured one',
      },
    };
  }
  const limit = Math.min(
    Number(url.searchParams.get('limit')) || DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE
  );
  const start = Number(cursorIndex(url.searchParams.get('after')) ?? 0);
  const data = templates.slice(start, start + limit);
  const end = start + data.length;
  const next = new URL(url);
  next.searchParams.set('limit', String(limit));
  next.searchParams.set('after', cursor(end));

  return {
    status: 200,
    answer: {
      data,
      paging: {
        cursors: { before: cursor(start), after: cursor(end) },
        ...(end < templates.length ? { next: next.toString() } : {}),
      },
    },
  };
};

const cursor = (index: number): string =>
  Buffer.from(String(index)).toString('base64url');

const cursorIndex = (value: string | null): string | undefined => {
  if (value === null) return undefined;
  const index = Buffer.from(value, 'base64url').toString('utf8');
  return /^\d+$/.test(index) ? index : undefined;
};
