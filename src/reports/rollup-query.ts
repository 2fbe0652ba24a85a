import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Database } from '../store/database.js';
import { bound, filterConditions, type ReportQuery, type RollupSplit } from './report-query.js';
import { isDistinct, levelFor, MONTHLY, ROLLUP_COLUMNS, rollupFingerprint } from './rollup.js';

/*
 * Reading the roll-ups beside the events: which whole days of a period the roll-ups hold (built, in the
 * query's timezone and rules, unchanged since), and a measure's rows from both in one shape.
 */

/**
 * A roll-up's rows as a measure's rows look (`occurred_at` the local day's midnight, `local_at` the same
 * in local time: time buckets read it without converting each row twice), with their count.
 */
export function rolledRows(query: ReportQuery, name: string): RawBuilder<unknown> | undefined {
  const days = query.split?.days ?? [];
  if (days.length === 0) return undefined;
  const columns = sql.raw(ROLLUP_COLUMNS.map((c) => `u.${c}`).join(', '));
  const level = levelFor(query, isDistinct(name));
  // Monthly rows know no day: only for a query whose time buckets are months or none.
  const byDay = [...query.groupBy, ...(query.report.alwaysGroupBy ?? [])].some(
    (d) => d === 'day' || d === 'week' || d === 'weekday',
  );
  // Level 0 (every column) has no monthly rows: its many keys would make them nearly as many as the days'.
  const { months, rest } = byDay || level === 0 ? { months: [], rest: days } : wholeMonths(days);
  const which = sql`((u.level = ${level} and u.day = any(${rest}::date[]))
    or (u.level = ${level + MONTHLY} and u.day = any(${months}::date[])))`;
  return sql`select ${columns}, (u.day::timestamp at time zone ${query.timezone}) as occurred_at,
      u.day::timestamp as local_at, u.count_key,
      u.any_flag, u.all_flag, u.latency_ms, u.n
    from report_rollups u
    where ${sql.join([sql`u.measure = ${name}`, which, ...filterConditions(query, 'u')], sql` and `)}`;
}

/** Whether a query reads only the roll-ups' monthly rows: its period is whole months, all built and clean. */
export function onlyWholeMonths(query: ReportQuery): boolean {
  const split = query.split;
  return (
    split !== undefined &&
    split.raw.length === 0 &&
    split.days.length > 0 &&
    wholeMonths(split.days).rest.length === 0
  );
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
export function rawRows(rows: RawBuilder<unknown>, timezone: string): RawBuilder<unknown> {
  const columns = sql.raw(ROLLUP_COLUMNS.map((c) => `r.${c}`).join(', '));
  return sql`select ${columns}, r.occurred_at, (r.occurred_at at time zone ${timezone}) as local_at,
      r.count_key::text as count_key, r.flag as any_flag,
      r.flag as all_flag, round(r.upstream_ms)::int as latency_ms, 1::bigint as n
    from (${rows}) r`;
}

/** A measure's rows: the events' of the ranges not rolled up, and the roll-ups' of the days that are. */
export function unionRows(query: ReportQuery, name: string, rows: RawBuilder<unknown>): RawBuilder<unknown> {
  const rolledUp = rolledRows(query, name);
  const raw = rawRows(rows, query.timezone);
  return rolledUp ? sql`${raw} union all ${rolledUp}` : raw;
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
