import { mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminClient } from '../../local/admin-client.js';
import { PAYMENT_LINK, WORKED_EXAMPLES } from '../../local/examples.js';
import { type Runtime, startRuntime } from '../../local/runtime.js';
import {
  type PreviewedExample,
  previewExamples,
  README_FILE,
  renderSection,
  sectionOf,
} from '../../local/worked-examples.js';
import { scratchFolder } from '../scratch.js';

/**
 * The README's worked examples are what the admin API's preview answers
 * for the example mappings today: the JSON blocks, and the section word
 * for word (rewrite it with `npm run docs:examples`).
 */
const START_MS = 90_000;
const TEST_MS = 60_000;

let runtime: Runtime;
let previewed: PreviewedExample[];

beforeAll(async () => {
  runtime = await startRuntime({
    port: 0,
    logDir: mkdtempSync(join(scratchFolder(), 'worked-examples-')),
  });
  previewed = await previewExamples(adminClient(runtime.apiUrl));
}, START_MS + TEST_MS);

afterAll(async () => {
  await runtime?.stop();
});

const readmeSection = () => sectionOf(readFileSync(README_FILE, 'utf8')) ?? '';

/** The mapping sent with each PUT, and each previewed answer, in order. */
const jsonBlocks = (section: string) => ({
  mappings: [...section.matchAll(/<<'JSON'\n([\s\S]*?)\nJSON\n/g)].map(
    (match) => JSON.parse(match[1] ?? '') as unknown
  ),
  previews: [...section.matchAll(/```json\n([\s\S]*?)\n```/g)].map(
    (match) => JSON.parse(match[1] ?? '') as unknown
  ),
});

describe('README worked examples', { timeout: TEST_MS }, () => {
  it('previews every seed scenario to a message for its customer', () => {
    expect(
      previewed.map(({ preview }) => [
        preview.status,
        preview.messages?.map((message) => message.request.template.name),
        preview.rejected,
      ])
    ).toEqual([
      ['matched', ['order_status_update'], []],
      ['matched', ['order_status_update'], []],
      ['matched', ['payment_link'], []],
      ['matched', ['payment_link'], []],
    ]);
  });

  it('shows the example mappings and the previews exactly', () => {
    const blocks = jsonBlocks(readmeSection());

    expect(blocks.mappings).toEqual(
      WORKED_EXAMPLES.map((example) => example.mapping)
    );
    expect(blocks.previews).toEqual(previewed.map(({ preview }) => preview));
  });

  it('has the section word for word as npm run docs:examples writes it', () => {
    expect(readmeSection()).toBe(renderSection(previewed));
  });

  it('uses the Stripe example in "Try it by hand" too', () => {
    const readme = readFileSync(README_FILE, 'utf8');
    const byHand = readme.slice(0, readme.indexOf('## Worked examples'));
    const [mapping] = jsonBlocks(byHand).mappings;

    expect(mapping).toEqual(PAYMENT_LINK);
  });

  it('carries the checkout path on the payment links URL button', () => {
    const buttons = previewed
      .slice(2)
      .map(
        ({ preview }) => preview.messages?.[0]?.request.template.components[1]
      );

    expect(buttons).toEqual([
      {
        type: 'button',
        sub_type: 'url',
        index: '0',
        parameters: [
          { type: 'text', text: 'checkout/pi_000000000000000000000000' },
        ],
      },
      {
        type: 'button',
        sub_type: 'url',
        index: '0',
        parameters: [{ type: 'text', text: 'checkout/order_DEATVTRRctwEGb' }],
      },
    ]);
  });
});
