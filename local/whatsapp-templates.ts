import { readFileSync } from 'node:fs';
import { z } from 'zod';

/**
 * The template registry: approved WhatsApp templates in the shape Meta's
 * `GET /{waba-id}/message_templates` returns (`{ data: [template] }`), so
 * a real export can replace the file. A template has:
 *
 * - `name`, `language` (the exact locale, `en_US` is not `en`), `status`
 *   (`APPROVED`, `PAUSED`, `DISABLED`, ...), `category`;
 * - `parameter_format`: `POSITIONAL` (`{{1}}`, `{{2}}`) or `NAMED`
 *   (`{{customer_name}}`);
 * - `components`: `HEADER` (`format` `TEXT` with at most one variable, or
 *   `IMAGE`/`VIDEO`/`DOCUMENT`/`LOCATION`), `BODY` (`text` with the
 *   variables), `FOOTER` (fixed text), `BUTTONS` (`buttons` in index
 *   order: `URL` whose `url` may end in `{{1}}`, `QUICK_REPLY`,
 *   `COPY_CODE`, `PHONE_NUMBER`). `example` holds sample values, as Meta
 *   requires when a template is created.
 */
export const TEMPLATE_REGISTRY_FILE = new URL(
  './whatsapp-templates.json',
  import.meta.url
);

const buttonSchema = z.looseObject({
  type: z.enum(['URL', 'QUICK_REPLY', 'COPY_CODE', 'PHONE_NUMBER']),
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
  z.looseObject({ type: z.literal('FOOTER'), text: z.string() }),
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

const registrySchema = z.looseObject({ data: z.array(templateSchema) });

export type TemplateDefinition = z.infer<typeof templateSchema>;
export type TemplateButton = z.infer<typeof buttonSchema>;
export type TemplateComponentDefinition = z.infer<typeof componentSchema>;

/** Reads and checks a registry file; a malformed file is a clear error. */
export const loadTemplates = (
  file: URL | string = TEMPLATE_REGISTRY_FILE
): TemplateDefinition[] => {
  const parsed = registrySchema.safeParse(
    JSON.parse(readFileSync(file, 'utf8'))
  );
  if (!parsed.success) {
    throw new Error(
      `Template registry ${String(file)} is malformed: ` +
        z.prettifyError(parsed.error)
    );
  }

  return parsed.data.data;
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
