import { createHash } from 'node:crypto';
import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Database } from '../store/database.js';
import { ALL_REPORTS, type ReportDefinition } from './catalogue.js';
import { MEASURES, SLOTS_BREACH_UNKNOWN, type MeasureId } from './measures.js';
import type { ReportQuery } from './report-query.js';

/*
 * Report roll-ups: every measure's rows counted per local day (reporting timezone) and per combination of
 * the columns reports group and filter by, so a report over a year reads the roll-ups of its whole days
 * and only the rest (today, a partial day at either end, a day changed since it was built) from the
 * events. The counts are the same either way: a roll-up row is the measure's own rows, counted; a
 * distinct measure keeps its keys (a slot offered on two days of a month counts once in the month).
 *
 * Consistency: triggers (migration 0004) mark a past day dirty in the transaction that changes its
 * events or the episodes they are in (a late ingest, a stitch, a reprocess); a dirty day is counted from
 * the events until it is rebuilt, and only the marks seen before a rebuild are cleared by it.
 *
 * What is rolled up and at which levels (this file); reading roll-ups beside events (rollup-query.ts);
 * building them (rollup-build.ts); keeping them in step in a running collector (rollup-keeper.ts).
 */

/** The columns a roll-up row keeps of a measure's rows: what reports group and filter by. */
export const ROLLUP_COLUMNS = [
  'provider_id',
  'service_id',
  'consumer_org',
  'disposition',
  'outcome',
  'error_code',
  'activity',
  'practice',
] as const;

/** Something rolled up: a measure, a report's data-quality flags, the slots of unknown breach, latencies. */
export interface Rolled {
  name: string;
  /** The rows, with the measure rows' columns (`flag` and `count_key` included). */
  rows: RawBuilder<unknown>;
  /** Keys are kept; otherwise rows are only counted. */
  keyed: boolean;
  /**
   * Counted by distinct key (a measure that is not additive): its levels are KEYED_LEVELS. A report's
   * data-quality flags keep their flag as the key but are summed, so they keep the usual levels.
   */
  distinct: boolean;
  /** The latency histogram: rows counted per upstream millisecond. */
  latency?: boolean;
}

/** The data-quality flags of the events behind a report: one row per event and flag (none-flagged: no row). */
export function qualityRows(report: ReportDefinition): RawBuilder<unknown> {
  const columns = sql.raw(
    ['event_id', 'occurred_at', 'data_quality', 'episode_id', ...ROLLUP_COLUMNS].join(', '),
  );
  const events = sql.join(
    report.measures.map((m) => sql`select ${columns} from (${MEASURES[m].rows}) r`),
    sql` union `,
  );
  return sql`select c.*, f.flag as count_key, true as flag, null::float8 as upstream_ms from (${events}) c
    cross join lateral unnest(c.data_quality || case when c.episode_id is null
      then array['not-yet-stitched'] else array[]::text[] end) f(flag)`;
}

/** The name a report's data-quality block is rolled up under. */
export const qualityName = (report: ReportDefinition) => `quality:${report.id}`;
export const LATENCY = 'latency';
export const BREACH_UNKNOWN = 'slotsBreachUnknown';

/** Everything rolled up. */
export function rolled(): Rolled[] {
  return [
    ...(Object.keys(MEASURES) as MeasureId[]).map((id) => ({
      name: id,
      rows: MEASURES[id].rows,
      keyed: !MEASURES[id].additive,
      distinct: !MEASURES[id].additive,
    })),
    ...ALL_REPORTS.map((report) => ({
      name: qualityName(report),
      rows: qualityRows(report),
      keyed: true,
      distinct: false,
    })),
    { name: BREACH_UNKNOWN, rows: SLOTS_BREACH_UNKNOWN, keyed: true, distinct: true },
    { name: LATENCY, rows: MEASURES.exchanges.rows, keyed: false, distinct: false, latency: true },
  ];
}

/** Whether the roll-up of this name is counted by distinct key (and so has the keyed levels). */
export function isDistinct(name: string): boolean {
  distinctNames ??= new Set(
    rolled()
      .filter((r) => r.distinct)
      .map((r) => r.name),
  );
  return distinctNames.has(name);
}
let distinctNames: Set<string> | undefined;

/**
 * A fingerprint of what the roll-ups count (the SQL of every measure): a build whose measures differ
 * rebuilds them all rather than read counts made by other rules.
 */
export function rollupFingerprint(db: Kysely<Database>): string {
  const known = FINGERPRINTS.get(db);
  if (known) return known;
  const hash = createHash('sha256');
  for (const r of rolled()) {
    const compiled = r.rows.compile(db);
    hash.update(
      `${r.name}|${r.keyed}|${r.distinct}|${r.latency ?? false}|${compiled.sql}|${JSON.stringify(compiled.parameters)}`,
    );
  }
  // And the levels: rows kept at other levels are other rows.
  hash.update(JSON.stringify([LEVELS, KEYED_LEVELS, MONTHLY]));
  const fingerprint = hash.digest('hex').slice(0, 16);
  FINGERPRINTS.set(db, fingerprint);
  return fingerprint;
}
const FINGERPRINTS = new WeakMap<Kysely<Database>, string>();

/**
 * The columns each level keeps (the others are null there). Levels 0–3 count per day; a complete month
 * is also counted at levels 1–3 (level + MONTHLY, `day` the month's first), so a year reads twelve
 * months' rows rather than 365 days'.
 */
export const LEVELS: (typeof ROLLUP_COLUMNS)[number][][] = [
  [...ROLLUP_COLUMNS],
  ['provider_id', 'disposition', 'outcome', 'error_code', 'activity'],
  ['provider_id', 'outcome', 'error_code', 'activity'],
  ['provider_id', 'service_id', 'outcome', 'error_code', 'activity'],
];

/**
 * The levels of a keyed (distinct) roll-up: by provider, disposition and service only. Its rows are
 * then one per key in each cell of a query grouped by exactly those columns and month (a slot offered
 * in a month is one row), so such a query counts them without grouping by key again (`keysUniquePerCell`).
 * A query that groups or filters a distinct measure by outcome, error or activity reads level 0.
 */
export const KEYED_LEVELS: (typeof ROLLUP_COLUMNS)[number][][] = [
  [...ROLLUP_COLUMNS],
  ['provider_id', 'disposition'],
  ['provider_id'],
  ['provider_id', 'service_id'],
];
export const MONTHLY = 10;

/** The columns a dimension or filter reads. */
const COLUMN_OF: Record<string, (typeof ROLLUP_COLUMNS)[number] | undefined> = {
  provider: 'provider_id',
  region: 'provider_id',
  service: 'service_id',
  consumer: 'consumer_org',
  disposition: 'disposition',
  outcome: 'outcome',
  errorCode: 'error_code',
  activity: 'activity',
  practice: 'practice',
};

type RollupQuery = Pick<ReportQuery, 'groupBy' | 'filters' | 'report'>;

/** The coarsest level with every column a query groups or filters by (of a keyed roll-up, or not). */
export function levelFor(query: RollupQuery, keyed = false): number {
  const needed = [...query.groupBy, ...(query.report.alwaysGroupBy ?? []), ...Object.keys(query.filters)]
    .map((d) => COLUMN_OF[d])
    .filter((c) => c !== undefined);
  const levels = keyed ? KEYED_LEVELS : LEVELS;
  return [2, 1, 3, 0].find((level) => needed.every((c) => levels[level]!.includes(c)))!;
}

/**
 * Whether a keyed roll-up's monthly rows hold each key at most once per cell of the query: its cells are
 * months, and every column of the level it reads is grouped by, or filtered to one value (a region holds
 * several providers, so it fixes no provider).
 */
export function keysUniquePerCell(query: RollupQuery): boolean {
  const dims = [...query.groupBy, ...(query.report.alwaysGroupBy ?? [])];
  if (!dims.includes('month') || dims.some((d) => d === 'day' || d === 'week' || d === 'weekday'))
    return false;
  const level = levelFor(query, true);
  if (level === 0) return false;
  const filtered = Object.entries(query.filters)
    .filter(([, value]) => value !== undefined)
    .map(([filter]) => filter);
  const fixed = new Set([...dims, ...filtered].filter((d) => d !== 'region').map((d) => COLUMN_OF[d]));
  return KEYED_LEVELS[level]!.every((c) => fixed.has(c));
}
