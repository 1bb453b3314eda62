/**
 * Rewrites the README's "Worked examples" section from local/examples.ts
 * and the admin API's previews, on a local runtime of its own.
 *
 *   npm run docs:examples
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { adminClient } from './admin-client.js';
import { LOCAL_DIR } from './paths.js';
import { startRuntime } from './runtime.js';
import {
  previewExamples,
  README_FILE,
  renderSection,
  sectionOf,
} from './worked-examples.js';

const writeReadme = async () => {
  const runtime = await startRuntime({
    port: 0,
    logDir: join(LOCAL_DIR, 'logs', 'docs'),
  });
  try {
    const results = await previewExamples(adminClient(runtime.apiUrl));
    const readme = readFileSync(README_FILE, 'utf8');
    const current = sectionOf(readme);
    if (current === undefined) {
      throw new Error('README.md has no worked-examples markers.');
    }
    writeFileSync(README_FILE, readme.replace(current, renderSection(results)));
    console.log(`Wrote ${results.length} worked examples into README.md.`);
  } finally {
    await runtime.stop();
  }
};

await writeReadme();
