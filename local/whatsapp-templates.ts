import { readFileSync } from 'node:fs';
import {
  parseTemplatePage,
  type TemplateDefinition,
} from '../lambdas/shared/domain/templates.js';

export type { TemplateDefinition };

/**
 * The local template registry: approved WhatsApp templates in the shape
 * Meta's `GET /{waba-id}/message_templates` returns (`{ data: [template] }`),
 * so a real export can replace the file. The stand-in serves it on that
 * same endpoint; `lambdas/shared/domain/templates.ts` describes the fields.
 */
export const TEMPLATE_REGISTRY_FILE = new URL(
  './whatsapp-templates.json',
  import.meta.url
);

/** Reads and checks a registry file; a malformed file is a clear error. */
export const loadTemplates = (
  file: URL | string = TEMPLATE_REGISTRY_FILE
): TemplateDefinition[] => {
  const where = `Template registry ${String(file)}`;
  let page: ReturnType<typeof parseTemplatePage>;
  try {
    page = parseTemplatePage(JSON.parse(readFileSync(file, 'utf8')));
  } catch (error) {
    throw new Error(`${where} is malformed: ${(error as Error).message}`);
  }
  const [first] = page.unreadable;
  if (first !== undefined) {
    throw new Error(
      `${where} is malformed: template ${first.name} (${first.language}): ${first.problem}`
    );
  }

  return page.templates;
};
