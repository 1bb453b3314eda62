import { z } from 'zod';

/**
 * Approved WhatsApp templates, in the shape Meta's Business Management API
 * answers `GET /{waba-id}/message_templates` with (`{ data, paging }`). A
 * template has:
 *
 * - `name`, `language` (the exact locale, `en_US` is not `en`), `status`
 *   (`APPROVED`, `PAUSED`, `DISABLED`, ...), `category`;
 * - `parameter_format`: `POSITIONAL` (`{{1}}`, `{{2}}`) or `NAMED`
 *   (`{{customer_name}}`);
 * - `components`: `HEADER` (`format` `TEXT` with at most one variable, or
 *   `IMAGE`/`VIDEO`/`DOCUMENT`/`LOCATION`), `BODY` (`text` with the
 *   variables), `FOOTER` (fixed text), `BUTTONS` (`buttons` in index
 *   order: `URL` whose `url` may end in `{{1}}`, `QUICK_REPLY`,
 *   `COPY_CODE`, `PHONE_NUMBER`; an authentication template's code button
 *   is listed as a `URL` button). `example` holds sample values, as Meta
 *   requires when a template is created.
 *
 * The admin API, the mapper and the local WhatsApp stand-in all read
 * templates through this module.
 */

/** WhatsApp's limits on filled-in templates (FACTS A2, A9). */
export const TemplateLimits = {
  /** The body once every variable is filled in (132005). */
  bodyChars: 1024,
  /** A text header, filled in. */
  headerTextChars: 60,
  /** A coupon code, and each value of an authentication template. */
  codeChars: 15,
} as const;

/** What a parameter value may not contain (132018). */
export const FORBIDDEN_PARAMETER_TEXT = /[\n\r\t]| {5,}/;

const buttonSchema = z.looseObject({
  // Meta adds button types over time (FLOW, CATALOG, ...): any is read.
  type: z.string(),
  text: z.string().optional(),
  url: z.string().optional(),
  phone_number: z.string().optional(),
  example: z.union([z.string(), z.array(z.string())]).optional(),
});

const componentSchema = z.discriminatedUnion('type', [
  z.looseObject({
    type: z.literal('HEADER'),
    format: z.enum(['TEXT', 'IMAGE', 'VIDEO', 'DOCUMENT', 'LOCATION']),
    text: z.string().optional(),
  }),
  z.looseObject({ type: z.literal('BODY'), text: z.string() }),
  z.looseObject({ type: z.literal('FOOTER'), text: z.string().optional() }),
  z.looseObject({ type: z.literal('BUTTONS'), buttons: z.array(buttonSchema) }),
]);

const templateSchema = z.looseObject({
  name: z.string().regex(/^[a-z][a-z0-9_]*$/),
  language: z.string().min(2),
  status: z.string(),
  category: z.enum(['UTILITY', 'MARKETING', 'AUTHENTICATION']),
  parameter_format: z.enum(['POSITIONAL', 'NAMED']).default('POSITIONAL'),
  components: z.array(componentSchema),
});

const pageSchema = z.looseObject({
  data: z.array(z.unknown()),
  paging: z
    .looseObject({
      next: z.string().optional(),
      cursors: z.looseObject({ after: z.string().optional() }).optional(),
    })
    .optional(),
});

export type TemplateDefinition = z.infer<typeof templateSchema>;
export type TemplateButton = z.infer<typeof buttonSchema>;
export type TemplateComponentDefinition = z.infer<typeof componentSchema>;

/** A template in the list that this product cannot read, and why. */
export interface UnreadableTemplate {
  readonly name: string;
  readonly language: string;
  readonly problem: string;
}

export interface TemplatePage {
  readonly templates: TemplateDefinition[];
  readonly unreadable: UnreadableTemplate[];
  /** The next page's address, when Meta has more. */
  readonly next?: string;
}

/**
 * Reads one page of Meta's template list. Templates with parts this
 * product does not know (carousels, offers) are set aside one by one, so
 * they never hide the others. Throws when the page itself is malformed.
 */
export const parseTemplatePage = (json: unknown): TemplatePage => {
  const page = pageSchema.safeParse(json);
  if (!page.success) {
    throw new Error(
      `the template list is malformed: ${z.prettifyError(page.error)}`
    );
  }
  const templates: TemplateDefinition[] = [];
  const unreadable: UnreadableTemplate[] = [];
  for (const item of page.data.data) {
    const parsed = templateSchema.safeParse(item);
    if (parsed.success) {
      templates.push(parsed.data);
      continue;
    }
    const raw = (item ?? {}) as { name?: unknown; language?: unknown };
    unreadable.push({
      name: String(raw.name ?? '(no name)'),
      language: String(raw.language ?? '(no language)'),
      problem: z.prettifyError(parsed.error).replace(/\s+/g, ' '),
    });
  }
  const next = page.data.paging?.next;

  return { templates, unreadable, ...(next ? { next } : {}) };
};

const PLACEHOLDER = /\{\{\s*([a-z0-9_]+)\s*\}\}/g;

/** Variable names of a text, in order of first appearance (`1`, `name`). */
export const placeholders = (text: string | undefined): string[] => [
  ...new Set(
    [...(text ?? '').matchAll(PLACEHOLDER)].map((match) => match[1] ?? '')
  ),
];

/** Fills a template text with values, by position or by name. */
export const hydrate = (
  text: string,
  values: ReadonlyMap<string, string>
): string =>
  text.replace(PLACEHOLDER, (whole, name: string) => values.get(name) ?? whole);

export const findComponent = <T extends TemplateComponentDefinition['type']>(
  template: TemplateDefinition,
  type: T
): Extract<TemplateComponentDefinition, { type: T }> | undefined =>
  template.components.find(
    (
      component
    ): component is Extract<TemplateComponentDefinition, { type: T }> =>
      component.type === type
  );

/** True when a button takes a value at send time. */
export const buttonNeedsParameter = (button: TemplateButton): boolean =>
  button.type === 'COPY_CODE' ||
  (button.type === 'URL' && placeholders(button.url).length > 0);

/**
 * What the mapper needs of an approved template to apply the length rules
 * before sending; kept with a mapping when it is saved.
 */
export interface TemplateShape {
  readonly category: TemplateDefinition['category'];
  readonly headerText?: string;
  readonly bodyText: string;
}

export const templateShape = (template: TemplateDefinition): TemplateShape => {
  const header = findComponent(template, 'HEADER');

  return {
    category: template.category,
    ...(header?.format === 'TEXT' && header.text
      ? { headerText: header.text }
      : {}),
    bodyText: findComponent(template, 'BODY')?.text ?? '',
  };
};

/** Templates statuses that can be mapped: a pause lifts by itself. */
export const SENDABLE_STATUSES: ReadonlySet<string> = new Set([
  'APPROVED',
  'PAUSED',
]);
