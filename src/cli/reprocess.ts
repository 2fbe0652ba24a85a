import { loadConfig } from '../config/config.loader.js';
import { cliOption, openConfiguredStore, runCommand, UsageError } from './run-command.js';
import { RULE_VERSION } from '../derive/derive.js';
import { stitchOptions } from '../derive/episode-stitcher.js';
import { reprocess } from '../derive/reprocess.js';
import { loadDerivationTables } from '../derive/tables.js';
import { fhirDatePeriod } from '../fhir/fhir-time.js';
import { runMigrations } from '../store/migrate.js';

/**
 * `npm run reprocess -- --from 2026-11-01 --to 2026-12-01`: rebuilds the events of the exchanges
 * received in [from, to) with the current rules and tables (after the disposition table or a rule
 * changed). Dates are days (London) or instants with an offset; `--from` defaults to the beginning,
 * `--to` to now. Prints a progress line per page. Safe to run again: it gives the same events.
 */

function date(argv: string[], name: string, fallback: Date): Date {
  const raw = cliOption(argv, name);
  if (raw === undefined) return fallback;
  const parsed = fhirDatePeriod(raw)?.start;
  if (!parsed)
    throw new UsageError(
      `--${name}: found "${raw}"; expected a date (2026-11-01) or an instant with an offset (2026-11-01T09:00:00Z)`,
    );
  return parsed;
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const from = date(argv, 'from', new Date(0));
  const to = date(argv, 'to', new Date());
  if (from >= to)
    throw new UsageError(`--from (${from.toISOString()}) must be before --to (${to.toISOString()})`);
  const config = loadConfig({ argv, env: process.env });
  const tables = loadDerivationTables(config.tables);
  const store = await openConfiguredStore(config);
  const say = (line: string): void => void process.stderr.write(`${line}\n`);
  try {
    await runMigrations(store.db);
    say(
      `reprocessing exchanges captured and events ingested from ${from.toISOString()} to ${to.toISOString()} with rules ${RULE_VERSION}`,
    );
    const started = Date.now();
    const result = await reprocess(store.db, tables, {
      from,
      to,
      onProgress: ({ done, total, events }) =>
        say(`  ${done}/${total} exchanges and ingest records, ${events} events`),
      stitch: stitchOptions(config.episodes),
      onStitched: (stitched) => say(`  ${stitched} events stitched into episodes`),
    });
    process.stdout.write(
      `done: ${result.exchanges} exchanges, ${result.ingested} ingest records, ${result.events} events (${result.stitched} stitched into episodes) in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
    );
    return 0;
  } finally {
    await store.close();
  }
}

runCommand('reprocess', main);
