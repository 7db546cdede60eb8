import { fileURLToPath } from 'node:url';
import { join, dirname } from 'node:path';

/** Absolute path of the compiled CLI entry point, for printing runnable commands. */
export const BIN_PATH = join(dirname(fileURLToPath(import.meta.url)), 'main.js');
