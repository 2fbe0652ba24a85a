import { createHash } from 'node:crypto';
import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Logger } from '../logger.js';
import type { Database } from '../store/database.js';
import { ALL_REPORTS, type ReportDefinition } from './catalogue.js';
import { MEASURES, SLOTS_BREACH_UNKNOWN, type MeasureId } from './measures.js';
import {
  bound,
  CURRENT,
  eventsWhere,
  filterConditions,
  type ReportQuery,
  type RollupSplit,
} from './report-query.js';

/*
 * Report roll-ups: every measure's rows counted per local day (reporting timezone) and per combination of
 * the columns reports group and filter by, so a report over a year reads the roll-ups of its whole days
 * and only the rest (today, a partial day at either end, a day changed since it was built) from the
 * events. The counts are the same either way: a roll-up row is the measure's own rows, counted; a
 * distinct measure keeps its keys (a slot offered on two days of a month counts once in the month).
 *
 * Consistency: triggers (migration 0004) mark a built day dirty in the transaction that changes its
 * events or the episodes they are in (a late ingest, a stitch, a reprocess); a dirty day is counted from
 * the events until it is rebuilt, and only the marks seen before a rebuild are cleared by it.
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
interface Rolled {
  name: string;
  /** The rows, with the measure rows' columns (`flag` and `count_key` included). */
  rows: RawBuilder<unknown>;
  /** Keys are kept (a distinct count); otherwise rows are only counted. */
  keyed: boolean;
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
function rolled(): Rolled[] {
  return [
    ...(Object.keys(MEASURES) as MeasureId[]).map((id) => ({
      name: id,
      rows: MEASURES[id].rows,
      keyed: !MEASURES[id].additive,
    })),
    ...ALL_REPORTS.map((report) => ({ name: qualityName(report), rows: qualityRows(report), keyed: true })),
    { name: BREACH_UNKNOWN, rows: SLOTS_BREACH_UNKNOWN, keyed: true },
    { name: LATENCY, rows: MEASURES.exchanges.rows, keyed: false, latency: true },
  ];
}

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
      `${r.name}|${r.keyed}|${r.latency ?? false}|${compiled.sql}|${JSON.stringify(compiled.parameters)}`,
    );
  }
  const fingerprint = hash.digest('hex').slice(0, 16);
  FINGERPRINTS.set(db, fingerprint);
  return fingerprint;
}
const FINGERPRINTS = new WeakMap<Kysely<Database>, string>();

/** A roll-up's rows as a measure's rows look (`occurred_at` the local day's midnight), with their count. */
export function rolledRows(query: ReportQuery, name: string): RawBuilder<unknown> | undefined {
  const days = query.split?.days ?? [];
  if (days.length === 0) return undefined;
  const columns = sql.raw(ROLLUP_COLUMNS.map((c) => `u.${c}`).join(', '));
  const level = levelFor(query);
  // Monthly rows know no day: only for a query whose time buckets are months or none.
  const byDay = [...query.groupBy, ...(query.report.alwaysGroupBy ?? [])].some(
    (d) => d === 'day' || d === 'week' || d === 'weekday',
  );
  // Level 0 (every column) has no monthly rows: its many keys would make them nearly as many as the days'.
  const { months, rest } = byDay || level === 0 ? { months: [], rest: days } : wholeMonths(days);
  const which = sql`((u.level = ${level} and u.day = any(${rest}::date[]))
    or (u.level = ${level + MONTHLY} and u.day = any(${months}::date[])))`;
  return sql`select ${columns}, (u.day::timestamp at time zone ${query.timezone}) as occurred_at, u.count_key,
      u.any_flag, u.all_flag, u.latency_ms, u.n
    from report_rollups u
    where ${sql.join([sql`u.measure = ${name}`, which, ...filterConditions(query, 'u')], sql` and `)}`;
}

/** The days that make whole months (as their months' first days), and the other days. */
export function wholeMonths(days: string[]): { months: string[]; rest: string[] } {
  const byMonth = new Map<string, string[]>();
  for (const day of days) byMonth.set(day.slice(0, 7), [...(byMonth.get(day.slice(0, 7)) ?? []), day]);
  const months: string[] = [];
  const rest: string[] = [];
  for (const [month, inMonth] of byMonth) {
    const [year, m] = month.split('-').map(Number) as [number, number];
    const length = new Date(Date.UTC(year, m, 0)).getUTCDate();
    if (inMonth.length === length) months.push(`${month}-01`);
    else rest.push(...inMonth);
  }
  return { months, rest };
}

/** A measure's own rows in the same shape (each row counted once). */
export function rawRows(rows: RawBuilder<unknown>): RawBuilder<unknown> {
  const columns = sql.raw(ROLLUP_COLUMNS.map((c) => `r.${c}`).join(', '));
  return sql`select ${columns}, r.occurred_at, r.count_key::text as count_key, r.flag as any_flag,
      r.flag as all_flag, round(r.upstream_ms)::int as latency_ms, 1::bigint as n
    from (${rows}) r`;
}

/** A measure's rows: the events' of the ranges not rolled up, and the roll-ups' of the days that are. */
export function unionRows(query: ReportQuery, name: string, rows: RawBuilder<unknown>): RawBuilder<unknown> {
  const rolledUp = rolledRows(query, name);
  return rolledUp ? sql`${rawRows(rows)} union all ${rolledUp}` : rawRows(rows);
}

/**
 * How a report's period splits: its whole local days that are built, in the timezone and by the rules of
 * the query, and unchanged since, from the roll-ups; the rest from the events.
 */
export async function splitPeriod(db: Kysely<Database>, query: ReportQuery): Promise<RollupSplit> {
  const from = bound(query.from, query.timezone);
  const to = bound(query.to, query.timezone);
  const { rows } = await sql<{ day: string; starts: Date; ends: Date; period_from: Date; period_to: Date }>`
    select d.day::text as day, d.day::timestamp at time zone ${query.timezone} as starts,
      (d.day + 1)::timestamp at time zone ${query.timezone} as ends, ${from} as period_from, ${to} as period_to
    from report_rollup_days d join report_rollup_settings s
      on s.timezone = ${query.timezone} and s.rules = ${rollupFingerprint(db)}
    where d.day >= (${from} at time zone ${query.timezone})::date - 1
      and d.day <= (${to} at time zone ${query.timezone})::date
      and d.day::timestamp at time zone ${query.timezone} >= ${from}
      and (d.day + 1)::timestamp at time zone ${query.timezone} <= ${to}
      and not exists (select 1 from report_rollup_dirty x where x.day = d.day)
    order by d.day`.execute(db);
  const iso = (value: Date | string) => new Date(value).toISOString();
  if (rows.length === 0) {
    const { rows: period } = await sql<{ f: Date; t: Date }>`select ${from} as f, ${to} as t`.execute(db);
    return { days: [], raw: [{ from: iso(period[0]!.f), to: iso(period[0]!.t) }] };
  }
  // The period less the days rolled up: the gaps between runs of consecutive days, and both ends.
  const raw: { from: string; to: string }[] = [];
  let cursor = iso(rows[0]!.period_from);
  for (const row of rows) {
    if (iso(row.starts) > cursor) raw.push({ from: cursor, to: iso(row.starts) });
    cursor = iso(row.ends);
  }
  const end = iso(rows[0]!.period_to);
  if (end > cursor) raw.push({ from: cursor, to: end });
  return { days: rows.map((r) => r.day), raw };
}

/**
 * The columns each level keeps (the others are null there). Levels 0–3 count per day; a complete month
 * is also counted at levels 1–3 (level + MONTHLY, `day` the month's first), so a year reads twelve
 * months' rows rather than 365 days'.
 */
const LEVELS: (typeof ROLLUP_COLUMNS)[number][][] = [
  [...ROLLUP_COLUMNS],
  ['provider_id', 'disposition', 'outcome', 'error_code', 'activity'],
  ['provider_id', 'outcome', 'error_code', 'activity'],
  ['provider_id', 'service_id', 'outcome', 'error_code', 'activity'],
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

/** The coarsest level with every column a query groups or filters by. */
export function levelFor(query: Pick<ReportQuery, 'groupBy' | 'filters' | 'report'>): number {
  const needed = [...query.groupBy, ...(query.report.alwaysGroupBy ?? []), ...Object.keys(query.filters)]
    .map((d) => COLUMN_OF[d])
    .filter((c) => c !== undefined);
  return [2, 1, 3, 0].find((level) => needed.every((c) => LEVELS[level]!.includes(c)))!;
}

/**
 * Builds the roll-ups of the days from `first` to `last` (local, inclusive): the days' current events
 * are read once (into a temporary table), each measure counted from them at level 0 in one statement,
 * and the coarser levels summed from level 0.
 */
async function buildDays(db: Kysely<Database>, timezone: string, first: string, last: string): Promise<void> {
  await sql`delete from report_rollups where level < ${MONTHLY} and day between ${first}::date and ${last}::date`.execute(
    db,
  );
  await sql`create temporary table rollup_chunk on commit drop as select c.* from ${CURRENT} c
    where c.occurred_at >= (${first}::date::timestamp at time zone ${timezone})
      and c.occurred_at < ((${last}::date + 1)::timestamp at time zone ${timezone})`.execute(db);
  await sql`analyze rollup_chunk`.execute(db);
  const dims = sql.raw(ROLLUP_COLUMNS.map((c) => `r.${c}`).join(', '));
  for (const r of rolled()) {
    const key = r.keyed ? sql`r.count_key::text` : sql`null::text`;
    const latency = r.latency ? sql`round(r.upstream_ms)::int` : sql`null::int`;
    const where = r.latency ? sql`where r.upstream_ms is not null` : sql``;
    const body = sql`insert into report_rollups (level, day, measure, ${sql.raw(ROLLUP_COLUMNS.join(', '))},
        count_key, any_flag, all_flag, latency_ms, n)
      select 0, (r.occurred_at at time zone ${timezone})::date, ${r.name}, ${dims}, ${key}, bool_or(r.flag),
        bool_and(r.flag), ${latency}, count(*)
      from (${r.rows}) r ${where}
      group by 2, ${dims}, ${key}, ${latency}`;
    await eventsWhere([sql`true`], body, sql`rollup_chunk`).execute(db);
  }
  for (const [level, kept] of LEVELS.entries()) {
    if (level === 0) continue;
    const columns = ROLLUP_COLUMNS.map((c) => (kept.includes(c) ? c : `null`));
    const groups = ['day', 'measure', ...kept, 'count_key', 'latency_ms'];
    await sql`insert into report_rollups (level, day, measure, ${sql.raw(ROLLUP_COLUMNS.join(', '))},
        count_key, any_flag, all_flag, latency_ms, n)
      select ${level}, day, measure, ${sql.raw(columns.join(', '))}, count_key, bool_or(any_flag), bool_and(all_flag),
        latency_ms, sum(n)
      from report_rollups where level = 0 and day between ${first}::date and ${last}::date
      group by ${sql.raw(groups.join(', '))}`.execute(db);
  }
  await sql`insert into report_rollup_days (day)
    select d::date from generate_series(${first}::date, ${last}::date, interval '1 day') d
    on conflict (day) do update set built_at = now()`.execute(db);
}

/**
 * Counts again the months the days from `first` to `last` fall in, from their days' rows: a month whose
 * every day is built gets its monthly rows; one that is not yet complete has none.
 */
async function buildMonths(db: Kysely<Database>, first: string, last: string): Promise<void> {
  const { rows } = await sql<{ month: string; complete: boolean }>`
    select m::date::text as month, (select count(*) from report_rollup_days d
        where d.day >= m::date and d.day < (m + interval '1 month')::date)
      = extract(day from m + interval '1 month' - interval '1 day') as complete
    from generate_series(date_trunc('month', ${first}::date), date_trunc('month', ${last}::date),
      interval '1 month') m`.execute(db);
  const columns = sql.raw(ROLLUP_COLUMNS.join(', '));
  for (const { month, complete } of rows) {
    const inMonth = sql`day >= ${month}::date and day < (${month}::date + interval '1 month')::date`;
    await sql`delete from report_rollups where level >= ${MONTHLY} and day = ${month}::date`.execute(db);
    if (!complete) continue;
    await sql`insert into report_rollups (level, day, measure, ${columns}, count_key, any_flag, all_flag,
        latency_ms, n)
      select level + ${MONTHLY}, ${month}::date, measure, ${columns}, count_key, bool_or(any_flag),
        bool_and(all_flag), latency_ms, sum(n)
      from report_rollups where level between 1 and ${MONTHLY - 1} and ${inMonth}
      group by level, measure, ${columns}, count_key, latency_ms`.execute(db);
  }
}

/**
 * The roll-up builder's lock, for the transaction (one per schema: collectors sharing a database build
 * in turn; tests in schemas of their own do not wait for each other). False: another builder has it.
 */
async function builderLock(tx: Kysely<Database>): Promise<boolean> {
  const { rows } = await sql<{
    got: boolean;
  }>`select pg_try_advisory_xact_lock(hashtext(current_schema() || '.report-rollups')) as got`.execute(tx);
  return rows[0]?.got === true;
}

export interface RollupRound {
  /** Days built (or rebuilt) this round. */
  built: number;
  /** Days still to build (a round builds at most `maxDays`). */
  waiting: number;
}

/** Runs of consecutive days (YYYY-MM-DD, sorted), at most `size` days each. */
function runs(days: string[], size: number): [string, string][] {
  const out: [string, string][] = [];
  let start: string | undefined;
  let prev: string | undefined;
  let length = 0;
  for (const day of days) {
    const next = prev
      ? new Date(Date.parse(`${prev}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10)
      : '';
    // A run stays within one month: each month's rows are counted once, when its last run is built.
    if (start && prev && day === next && length < size && day.slice(0, 7) === start.slice(0, 7)) {
      prev = day;
      length += 1;
      continue;
    }
    if (start && prev) out.push([start, prev]);
    start = day;
    prev = day;
    length = 1;
  }
  if (start && prev) out.push([start, prev]);
  return out;
}

/**
 * One round of roll-up upkeep: (re)builds the days that are dirty and the days before today not yet
 * built (from the first event's), a run of at most `chunkDays` days per transaction. Another timezone or
 * other measures than the roll-ups were built with: everything is dropped and built again.
 */
export async function refreshRollups(
  db: Kysely<Database>,
  timezone: string,
  options: {
    maxDays?: number;
    chunkDays?: number;
    onProgress?: (built: number, waiting: number) => void;
    /** Asked between runs of days: true stops the round there (shutdown). */
    stopping?: () => boolean;
  } = {},
): Promise<RollupRound> {
  const rules = rollupFingerprint(db);
  const current = (tx: Kysely<Database>) =>
    tx
      .selectFrom('report_rollup_settings')
      .selectAll()
      .executeTakeFirst()
      .then((settings) => settings?.timezone === timezone && settings.rules === rules);
  if (!(await current(db)))
    await db.transaction().execute(async (tx) => {
      if (!(await builderLock(tx))) return;
      await sql`delete from report_rollups`.execute(tx);
      await sql`delete from report_rollup_days`.execute(tx);
      await sql`delete from report_rollup_dirty`.execute(tx);
      await sql`insert into report_rollup_settings (id, timezone, rules) values (1, ${timezone}, ${rules})
        on conflict (id) do update set timezone = excluded.timezone, rules = excluded.rules`.execute(tx);
    });
  // A day is built an hour after it ends: a write begun before midnight has long committed (the triggers
  // mark past days only).
  const lastDay = sql`((now() - interval '1 hour') at time zone ${timezone})::date`;
  const { rows } = await sql<{ day: string }>`
    select day::text as day from (
      select distinct day from report_rollup_dirty
      union
      select d::date as day from generate_series(
        (select (min(occurred_at) at time zone ${timezone})::date from events),
        ${lastDay} - 1, interval '1 day') d
      where not exists (select 1 from report_rollup_days b where b.day = d::date)) days
    where day < ${lastDay}
    order by day`.execute(db);
  const todo = rows.map((r) => r.day).slice(0, options.maxDays ?? Infinity);
  let built = 0;
  for (const [first, last] of runs(todo, options.chunkDays ?? 7)) {
    if (options.stopping?.()) break;
    await db.transaction().execute(async (tx) => {
      // One builder at a time (collectors sharing a database), and by the rules it was asked to build with.
      if (!(await builderLock(tx)) || !(await current(tx))) return;
      const seen = await tx
        .selectFrom('report_rollup_dirty')
        .select('id')
        .where(sql<boolean>`day between ${first}::date and ${last}::date`)
        .execute();
      await buildDays(tx, timezone, first, last);
      await buildMonths(tx, first, last);
      // Only the marks seen before the build: a change committed meanwhile leaves its day dirty.
      if (seen.length > 0)
        await sql`delete from report_rollup_dirty where id = any(${seen.map((s) => s.id)}::bigint[])`.execute(
          tx,
        );
      built += Math.round((Date.parse(last) - Date.parse(first)) / 86_400_000) + 1;
    });
    options.onProgress?.(built, rows.length - built);
  }
  return { built, waiting: Math.max(0, rows.length - built) };
}

/**
 * Keeps the roll-ups in step in a running collector: a round now and then (never two at once), and a
 * progress line while a large store is first built. Failures are logged and retried next time: reports
 * count from the events meanwhile, so they stay right, only slower.
 */
export class RollupKeeper {
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;

  constructor(
    private readonly options: {
      db: () => Kysely<Database>;
      timezone: string;
      logger: Logger;
      intervalMs: number;
    },
  ) {}

  start(): void {
    this.#timer = setInterval(() => this.poke(), this.options.intervalMs).unref();
    this.poke();
  }

  poke(): void {
    if (this.#stopped || this.#running) return;
    this.#running = this.#round().finally(() => {
      this.#running = undefined;
    });
  }

  async settled(): Promise<void> {
    while (this.#running) await this.#running;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    await this.settled();
  }

  async #round(): Promise<void> {
    const started = Date.now();
    try {
      const round = await refreshRollups(this.options.db(), this.options.timezone, {
        stopping: () => this.#stopped,
        onProgress: (built, waiting) => {
          if (waiting > 0) this.options.logger.info({ built, waiting }, 'report roll-ups: building');
        },
      });
      if (round.built > 0)
        this.options.logger.info({ built: round.built, ms: Date.now() - started }, 'report roll-ups: built');
    } catch (error) {
      this.options.logger.warn({ err: error }, 'report roll-ups: round failed; reports count from events');
    }
  }
}
