import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { TEST_TMP_VARIABLE } from './scratch.js';

/**
 * One scratch folder per test run, for synthesised templates and logs;
 * removed when the run ends, whatever other runs on the machine do.
 */
export default function setup(): () => void {
  const folder = mkdtempSync(join(tmpdir(), 'wapto-test-'));
  process.env[TEST_TMP_VARIABLE] = folder;

  return () => rmSync(folder, { recursive: true, force: true });
}
