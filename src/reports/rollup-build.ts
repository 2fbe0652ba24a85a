import { sql, type Kysely } from 'kysely';
import type { Database } from '../store/database.js';
import { CURRENT, eventsWhere } from './report-query.js';
import { KEYED_LEVELS, LEVELS, MONTHLY, rolled, ROLLUP_COLUMNS, rollupFingerprint } from './rollup.js';

/*
 * Building the roll-ups: the days before today not built yet and the days changed since they were
 * built, a run of days per transaction, under a lock per schema.
 */

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
  // The coarser levels, summed from level 0: a distinct measure's keep fewer columns (rollup.ts).
  const keyed = rolled()
    .filter((r) => r.distinct)
    .map((r) => r.name);
  for (const [levels, which] of [
    [LEVELS, sql`not (measure = any(${keyed}::text[]))`],
    [KEYED_LEVELS, sql`measure = any(${keyed}::text[])`],
  ] as const)
    for (const [level, kept] of levels.entries()) {
      if (level === 0) continue;
      const columns = ROLLUP_COLUMNS.map((c) => (kept.includes(c) ? c : `null`));
      const groups = ['day', 'measure', ...kept, 'count_key', 'latency_ms'];
      await sql`insert into report_rollups (level, day, measure, ${sql.raw(ROLLUP_COLUMNS.join(', '))},
          count_key, any_flag, all_flag, latency_ms, n)
        select ${level}, day, measure, ${sql.raw(columns.join(', '))}, count_key, bool_or(any_flag),
          bool_and(all_flag), latency_ms, sum(n)
        from report_rollups where level = 0 and day between ${first}::date and ${last}::date and ${which}
        group by ${sql.raw(groups.join(', '))}
        order by measure, day`.execute(db);
    }
  await sql`insert into report_rollup_days (day)
    select d::date from generate_series(${first}::date, ${last}::date, interval '1 day') d
    on conflict (day) do update set built_at = now()`.execute(db);
}

/**
 * Counts again the months the days from `first` to `last` fall in, from their days' rows: a month whose
 * every day is built gets its monthly rows; one that is not yet complete has none. Rows are written in
 * order of measure and level, so a report reads one measure's month from a few pages (hashed, they were
 * strewn over six times as many).
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
      group by level, measure, ${columns}, count_key, latency_ms
      order by measure, level`.execute(db);
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
      // Truncated, not deleted: deleting millions of rows left the table twice its size, and reports
      // read from its scattered pages at half speed, until vacuumed.
      await sql`truncate report_rollups, report_rollup_days, report_rollup_dirty`.execute(tx);
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
  const days = rows.map((r) => r.day);
  const toBuild = days.slice(0, options.maxDays ?? days.length);
  let built = 0;
  for (const [first, last] of runs(toBuild, options.chunkDays ?? 7)) {
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
  // Fresh statistics once a round has built anything: the planner otherwise takes a year of roll-ups for
  // a few rows, and sorts half a million keys where hashing them is several times faster.
  if (built > 0) await sql`analyze report_rollups`.execute(db);
  return { built, waiting: Math.max(0, rows.length - built) };
}
