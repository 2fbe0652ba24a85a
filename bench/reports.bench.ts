import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql, type Kysely } from 'kysely';
import { RULE_VERSION } from '../src/derive/derive.js';
import { ALL_REPORTS } from '../src/reports/catalogue.js';
import { refreshRollups } from '../src/reports/rollup-build.js';
import { runReport } from '../src/reports/run-report.js';
import type { Database } from '../src/store/database.js';
import { runMigrations } from '../src/store/migrate.js';
import { openStore, type Store } from '../src/store/store.js';
import { keptDatabase } from './processes.js';
import { printTable } from './table.js';

/*
 * `npm run bench -- reports`: every report over 12 months, grouped by month and provider, read from the
 * roll-ups (built first, and timed),
 * on a store seeded with BENCH_REPORT_EVENTS events (default 10 million on PostgreSQL) and
 * BENCH_REPORT_PGLITE_EVENTS on PGlite (default 1 million; 0 skips it). The events are made by SQL
 * (generate_series) in the shape derivation gives them: five-event episodes of a referral, searches
 * offering three slots each, a booking or a failure, cancellations and re-bookings, over 20 providers,
 * 100 services and 12 dispositions.
 */

const PG_EVENTS = Number(process.env.BENCH_REPORT_EVENTS ?? 10_000_000);
const PGLITE_EVENTS = Number(process.env.BENCH_REPORT_PGLITE_EVENTS ?? 1_000_000);
const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const PG_DATABASE = process.env.BENCH_REPORT_DATABASE ?? 'collector_bench_reports';
const CHUNK = 500_000;

/** Seeds `total` events over the 12 months from 1 November 2025, in chunks (one statement each). */
export async function seed(db: Kysely<Database>, total: number, say: (line: string) => void): Promise<void> {
  for (let start = 0; start < total; start += CHUNK) {
    const end = Math.min(total, start + CHUNK) - 1;
    // Event i belongs to episode i / 5; its place in the episode says what it is.
    await sql`insert into events (id, occurred_at, type, source_kind, source_id, ordinal, rule_version,
        provider_id, service_id, consumer_org, disposition, episode_id, attributes, data_quality, correlation_keys)
      select
        md5('e' || i)::uuid,
        timestamptz '2025-11-01T00:00:00Z' + ((i / 5) * (interval '365 days' / ${Math.max(1, total / 5)}))
          + (i % 5) * interval '1 minute',
        case i % 5 when 0 then 'referral.made' when 1 then 'slot.searched' when 2 then 'booking.attempted'
          when 3 then (case when i % 15 = 3 then 'booking.cancelled' else 'slot.searched' end)
          else (case when i % 35 = 4 then 'booking.rebooked' when i % 45 = 14 then 'service.selected'
            else 'appointment.read' end) end,
        case when i % 5 = 0 and i % 10 = 0 then 'ingest' else 'exchange' end,
        md5('s' || i)::uuid,
        0, ${RULE_VERSION},
        'provider-' || ((i / 5) % 20),
        'service-' || ((i / 5) % 100),
        'ODS' || ((i / 5) % 40),
        'Dx' || lpad(((i / 5) % 12)::text, 2, '0'),
        md5('p' || (i / 5))::uuid,
        case i % 5
          when 0 then jsonb_build_object('succeeded', true)
          when 2 then jsonb_build_object('succeeded', true, 'outcome',
            case when (i / 5) % 4 = 0 then 'slot_unavailable' when (i / 5) % 4 = 1 then 'rejected' else 'booked' end,
            'issueCodes', jsonb_build_array('conflict'))
          when 3 then jsonb_build_object('succeeded', true, 'sameEncounter', (i / 5) % 2 = 0,
            'partOfRebooking', false, 'offered', 3, 'slots', jsonb_build_array(
              jsonb_build_object('key', 'provider-' || ((i / 5) % 20) || '|s' || ((i / 5) % 5000), 'wouldBreach', i % 3 = 0),
              jsonb_build_object('key', 'provider-' || ((i / 5) % 20) || '|t' || ((i / 5) % 7000), 'wouldBreach', (i / 5) % 3 = 0)))
          when 1 then jsonb_build_object('succeeded', true, 'offered', case when (i / 5) % 7 = 0 then 0 else 3 end,
            'slots', case when (i / 5) % 7 = 0 then '[]'::jsonb else jsonb_build_array(
              jsonb_build_object('key', 'provider-' || ((i / 5) % 20) || '|s' || ((i / 5) % 5000), 'wouldBreach', i % 2 = 0),
              jsonb_build_object('key', 'provider-' || ((i / 5) % 20) || '|u' || ((i / 5) % 9000), 'wouldBreach', true),
              jsonb_build_object('key', 'provider-' || ((i / 5) % 20) || '|v' || ((i / 5) % 3000), 'wouldBreach', (i / 5) % 3 = 0)) end)
          else jsonb_build_object('succeeded', true, 'how', 'cancel-and-book', 'topBookableRejected', (i / 5) % 2 = 0) end
        -- What an exchange tells of its provider: latency and conformance (ingested referrals have none).
        -- The patient's registered practice (one of 50), on every event of the episode.
        || jsonb_build_object('practice', 'P' || lpad(((i / 5) % 50)::text, 5, '0'))
        || case when i % 10 = 0 then '{}'::jsonb else jsonb_build_object('upstreamMs', 5 + (i * 7919) % 900,
          'conformance', jsonb_build_object('checks', jsonb_build_object('status', i % 13 <> 0),
            'conforms', i % 13 <> 0, 'errorClass', case when i % 29 = 0 then 'server'
              when i % 31 = 0 then 'client' else 'none' end)) end,
        case when i % 97 = 0 then array['deadline-inferred'] else '{}'::text[] end,
        array['case:' || (i / 5)]
      from generate_series(${start}::bigint, ${end}::bigint) i`.execute(db);
    say(`  seeded ${end + 1} / ${total} events`);
  }
  // Each episode as resolution keeps it, with the counts the reports read.
  await sql`insert into episodes (id, opened_at, last_activity_at, attributes)
    select episode_id, min(occurred_at), max(occurred_at), jsonb_build_object(
      'events', count(*),
      'bookings', count(*) filter (where type = 'booking.attempted' and attributes->>'outcome' = 'booked'),
      'searches', count(*) filter (where type = 'slot.searched'),
      'searchesOffering', count(*) filter (where type = 'slot.searched' and (attributes->>'offered')::int > 0),
      'slotsInTime', coalesce(sum((select count(*) from jsonb_array_elements(coalesce(attributes->'slots', '[]'::jsonb)) slot
        where coalesce((slot->>'wouldBreach')::boolean, false) = false)) filter (where type = 'slot.searched'), 0))
    from events group by episode_id`.execute(db);
  say('  episodes resolved');
  await sql`analyze events`.execute(db);
  await sql`analyze episodes`.execute(db);
}

/** Builds the roll-ups of the seeded year, with a progress line, and says how long it took. */
async function buildRollups(store: Store, engine: string, say: (line: string) => void): Promise<number> {
  const started = process.hrtime.bigint();
  await refreshRollups(store.db, 'Europe/London', {
    chunkDays: 31,
    onProgress: (built, waiting) => say(`  ${engine}: roll-ups of ${built} days built, ${waiting} to go`),
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  say(`  ${engine}: roll-ups built in ${seconds.toFixed(1)} s`);
  return seconds;
}

async function timeReports(
  store: Store,
  engine: string,
  events: number,
  build: number,
): Promise<(string | number)[][]> {
  const rows: (string | number)[][] = [];
  for (const report of ALL_REPORTS) {
    const started = process.hrtime.bigint();
    const answer = await runReport(store.db, {
      report,
      from: { date: '2025-11-01' },
      to: { date: '2026-11-01' },
      groupBy: ['month', 'provider'],
      filters: {},
      timezone: 'Europe/London',
    });
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    rows.push([engine, events, build.toFixed(0), report.id, answer.rows.length, ms.toFixed(0)]);
    process.stdout.write(`  ${engine} ${report.id}: ${ms.toFixed(0)} ms\n`);
  }
  return rows;
}

/** What a seeded bench database's comment says of it: reused only when it matches. */
const SEED_MARK = `reports-seed-1: ${PG_EVENTS} events`;

/**
 * The PostgreSQL bench database (BENCH_REPORT_DATABASE, default collector_bench_reports), seeded unless
 * it already holds this seed, and kept: seeding and building ten million events' roll-ups takes the
 * better part of an hour, so a second run reuses both (roll-ups whose rules changed are rebuilt).
 */
async function pgBenchStore(say: (line: string) => void): Promise<Store> {
  const database = await keptDatabase(ADMIN_URL, PG_DATABASE, SEED_MARK);
  const store = await openStore({ databaseUrl: database.url });
  await runMigrations(store.db);
  if (database.reuse) {
    say(`  PostgreSQL: reusing database ${PG_DATABASE} (${SEED_MARK})`);
    return store;
  }
  say(`  PostgreSQL: seeding ${PG_EVENTS} events into database ${PG_DATABASE} ...`);
  await seed(store.db, PG_EVENTS, say);
  await database.seeded();
  return store;
}

/** `npm run bench -- reports` */
export async function benchReports(): Promise<void> {
  const say = (line: string) => void process.stdout.write(`${line}\n`);
  const rows: (string | number)[][] = [];
  if (PG_EVENTS > 0) {
    const store = await pgBenchStore(say);
    try {
      const build = await buildRollups(store, 'postgres', say);
      rows.push(...(await timeReports(store, 'postgres', PG_EVENTS, build)));
    } finally {
      await store.close();
    }
  }
  if (PGLITE_EVENTS > 0) {
    const dir = mkdtempSync(path.join(tmpdir(), 'bench-reports-'));
    const store = await openStore({ pgliteDir: path.join(dir, 'pglite') });
    try {
      await runMigrations(store.db);
      say(`  PGlite: seeding ${PGLITE_EVENTS} events ...`);
      await seed(store.db, PGLITE_EVENTS, say);
      const build = await buildRollups(store, 'pglite', say);
      rows.push(...(await timeReports(store, 'pglite', PGLITE_EVENTS, build)));
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }
  printTable(
    ['engine', 'events', 'roll-up build s', 'report', 'rows', 'ms (12 months, by month and provider)'],
    rows,
  );
}
