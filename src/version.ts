import { existsSync, readFileSync } from 'node:fs';

/** The package.json beside src/ (run from source) or two levels up (compiled into dist/src/). */
function packageFile(): URL {
  const beside = new URL('../package.json', import.meta.url);
  return existsSync(beside) ? beside : new URL('../../package.json', import.meta.url);
}

/** The collector's version, from its package.json (named as the creator of HAR exports). */
export const VERSION: string = (JSON.parse(readFileSync(packageFile(), 'utf8')) as { version: string })
  .version;
