import path from 'node:path';
import { ConfigError } from '../config/config-error.js';
import type { Config } from '../config/config.types.js';
import { openStore, type Store } from '../store/store.js';

/** The value of `--name value` or `--name=value` in a command line. */
export function cliOption(argv: string[], name: string): string | undefined {
  const at = argv.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (at < 0) return undefined;
  const arg = argv[at]!;
  return arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : argv[at + 1];
}

/** A command line that cannot be used: exit 2, with the message. */
export class UsageError extends Error {}

/** The configured store: PostgreSQL at DATABASE_URL, else the embedded one under DATA_DIR. */
export function openConfiguredStore(config: Config): Promise<Store> {
  return openStore(
    config.databaseUrl
      ? { databaseUrl: config.databaseUrl }
      : { pgliteDir: path.join(config.dataDir, 'pglite') },
  );
}

/**
 * Runs a command's `main` and exits with its code: 78 for a bad configuration, 2 for a bad command
 * line, 1 (with `what failed: message`) for anything else.
 */
export function runCommand(what: string, main: () => Promise<number>): void {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      if (error instanceof ConfigError) {
        process.stderr.write(`${error.message}\n`);
        process.exit(78);
      }
      process.stderr.write(`${what} failed: ${(error as Error).message}\n`);
      process.exit(error instanceof UsageError ? 2 : 1);
    },
  );
}
