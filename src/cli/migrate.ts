import { loadConfig } from '../config/config.loader.js';
import { openConfiguredStore, runCommand } from './run-command.js';
import { pendingMigrations, runMigrations } from '../store/migrate.js';

/**
 * `npm run migrate`: brings the configured store (DATABASE_URL, or the embedded store under DATA_DIR) up
 * to date and says what it applied. Start-up does the same; this is for deploying the schema ahead of a
 * release, or checking a store with `--check` (exit 1 when migrations are pending).
 */
async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const config = loadConfig({ argv, env: process.env });
  const store = await openConfiguredStore(config);
  const say = (line: string): void => void process.stdout.write(`${line}\n`);
  try {
    say(`store: ${store.engine === 'pglite' ? `embedded PGlite in ${store.location}` : store.location}`);
    const pending = await pendingMigrations(store.db);
    if (argv.includes('--check')) {
      say(pending.length === 0 ? 'schema is up to date' : `pending migrations: ${pending.join(', ')}`);
      return pending.length === 0 ? 0 : 1;
    }
    if (pending.length > 0) say(`applying ${pending.length} migration(s): ${pending.join(', ')}`);
    const applied = await runMigrations(store.db);
    for (const name of applied) say(`  applied ${name}`);
    say(applied.length === 0 ? 'schema is up to date; nothing to apply' : `done: ${applied.length} applied`);
    return 0;
  } finally {
    await store.close();
  }
}

runCommand('migration', main);
