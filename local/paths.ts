import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project root, whatever the working directory. */
export const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Where the local runtime keeps its files (gitignored). */
export const LOCAL_DIR = join(PROJECT_ROOT, '.local');

/** Written by `npm start` so other tools can find the running runtime. */
export const RUNTIME_FILE = join(LOCAL_DIR, 'runtime.json');
