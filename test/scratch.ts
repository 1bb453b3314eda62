import { tmpdir } from 'node:os';

/** Name of the variable that points tests to this run's scratch folder. */
export const TEST_TMP_VARIABLE = 'WAPTO_TEST_TMP';

/** This test run's scratch folder, removed when the run ends. */
export const scratchFolder = (): string =>
  process.env[TEST_TMP_VARIABLE] ?? tmpdir();
