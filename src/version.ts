import { readFileSync } from 'node:fs';

/** Airlock's version, read once from package.json (beside both src/ and dist/) so a release changes one place. */
export const AIRLOCK_VERSION: string = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;
