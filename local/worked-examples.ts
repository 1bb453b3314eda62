import { join } from 'node:path';
import type { AdminClient, MappingPreview } from './admin-client.js';
import { testSecrets } from './deliveries.js';
import { WORKED_EXAMPLES, type WorkedExample } from './examples.js';
import { PROJECT_ROOT } from './paths.js';

/**
 * The README's "Worked examples" section, written from the example
 * mappings and what the admin API's preview answers for them, so the
 * README never shows a request the product would not make
 * (`npm run docs:examples` rewrites it; local/docs-examples.ts).
 */

export const README_FILE = join(PROJECT_ROOT, 'README.md');
const START = '<!-- worked-examples:start (npm run docs:examples) -->';
const END = '<!-- worked-examples:end -->';
const API = 'http://127.0.0.1:3000';

export interface PreviewedExample {
  readonly example: WorkedExample;
  readonly preview: MappingPreview;
}

/** Creates each example's webhook and mapping, and previews it. */
export const previewExamples = async (
  admin: AdminClient
): Promise<PreviewedExample[]> => {
  const secrets = testSecrets();
  const results: PreviewedExample[] = [];
  for (const example of WORKED_EXAMPLES) {
    const { provider } = example.webhook;
    const secret =
      provider === 'shopify' || provider === 'stripe'
        ? { secret: secrets[provider] }
        : {};
    const { webhook } = await admin.createWebhook({
      ...example.webhook,
      ...secret,
    });
    await admin.putMapping(
      webhook.webhookId,
      example.mappingId,
      example.mapping
    );
    const preview = await admin.previewMapping(
      webhook.webhookId,
      example.mappingId,
      { payload: { eventKey: example.eventKey, body: example.body() } }
    );
    results.push({ example, preview });
  }

  return results;
};

/** Placeholders for the secrets these providers issue. */
const ISSUED_SECRETS: Partial<Record<string, string>> = {
  shopify: '<the secret Shopify shows>',
  stripe: '<the whsec_ secret Stripe shows>',
};

const json = (value: unknown): string => JSON.stringify(value, null, 2);

const renderExample = ({ example, preview }: PreviewedExample): string => {
  const hook = `${API}/admin/webhooks/wh_...`;
  const create = {
    ...example.webhook,
    ...(example.webhook.provider in ISSUED_SECRETS
      ? { secret: ISSUED_SECRETS[example.webhook.provider] }
      : {}),
  };

  return [
    `### ${example.title}`,
    '',
    `The webhook: \`POST /admin/webhooks\` with \`${JSON.stringify(create)}\`. The mapping:`,
    '',
    '```sh',
    `curl -s -X PUT ${hook}/mappings/${example.mappingId} \\`,
    `  -H 'content-type: application/json' -d @- <<'JSON'`,
    json(example.mapping),
    'JSON',
    '```',
    '',
    `Previewed with \`POST ${hook}/mappings/${example.mappingId}/preview\` and`,
    `\`{"payload": {"eventKey": "${example.eventKey}", "body": <the event>}}\`, where the event is`,
    `${example.payloadNote} The answer, with the exact request the sender would post to WhatsApp:`,
    '',
    '```json',
    json(preview),
    '```',
    ...(example.caveat ? ['', example.caveat] : []),
  ].join('\n');
};

/** The section's text, markers included. */
export const renderSection = (results: readonly PreviewedExample[]): string =>
  [
    START,
    '',
    'Each seed scenario as an admin sets it up, and what the preview API',
    'answers for it. This section is written by `npm run docs:examples`',
    'from `local/examples.ts`, and a test checks it against a fresh preview.',
    '',
    results.map(renderExample).join('\n\n'),
    '',
    END,
  ].join('\n');

/** The section as it stands in a README, or `undefined` without markers. */
export const sectionOf = (readme: string): string | undefined => {
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) return undefined;

  return readme.slice(start, end + END.length);
};
