import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Database } from '../store/database.js';
import {
  perRegion,
  perWeekday,
  suppressed,
  withheldShares,
  suppressedQuality,
  suppressedTotals,
  withRate,
  type AnswerRow,
  type ReportAnswer,
} from './answer-rows.js';
import { figuresOf, LATENCY_FIGURES, measureName, type Dimension } from './catalogue.js';
import { MEASURES, SLOTS_BREACH_UNKNOWN, type MeasureId } from './measures.js';
import { onlyWholeMonths, splitPeriod, unionRows } from './rollup-query.js';
import { BREACH_UNKNOWN, keysUniquePerCell, LATENCY, qualityName, qualityRows } from './rollup.js';
import {
  bound,
  dimension,
  effectiveGroupBy,
  FILTERS,
  NO_CONTEXT,
  NONE,
  WEEKDAYS,
  withEvents,
  type Bound,
  type ReportQuery,
} from './report-query.js';

/*
 * Answering a report: each measure counted per cell, totals, the data-quality block, the period as
 * understood, and a drill-down link per cell and measure.
 */

interface Counted {
  dims: (string | number | null)[];
  value: number;
}

/** Each dimension's value of a row `r` (of `unionRows`), as `d0`, `d1`, …; and the positions to group by. */
function keyedDims(query: ReportQuery, dims: Dimension[]) {
  return {
    keyed: dims.map(
      (d, i) =>
        sql`${dimension(d, query.timezone, query.context ?? NO_CONTEXT, sql`r.local_at`)} as ${sql.ref(`d${i}`)}`,
    ),
    refs: dims.map((_, i) => sql.ref(`d${i}`)),
    groupBy: (extra: RawBuilder<unknown>[] = []) =>
      dims.length + extra.length > 0
        ? sql`group by ${sql.join([...dims.map((_, i) => sql.raw(String(i + 1))), ...extra])}`
        : sql``,
  };
}

function dimsOf(dims: Dimension[], row: Record<string, unknown>): (string | number | null)[] {
  return dims.map((_, i) => row[`d${i}`] as string | number | null);
}

/**
 * One measure's counts per combination of dimensions, and its total: over its rows from the events and
 * from the roll-ups alike (rollup.ts), summed where each row is an event, counted by key where it is
 * distinct. A distinct measure's total is counted over the dimensions its rule counts by (`totalBy`) in
 * the same pass (grouping sets), since its cells do not add up (one slot, two months).
 */
async function count(
  db: Kysely<Database>,
  query: ReportQuery,
  measure: MeasureId,
  dims: Dimension[],
  totalBy: Dimension[],
): Promise<{ cells: Counted[]; total: number }> {
  const definition = MEASURES[measure];
  const { keyed, refs, groupBy } = keyedDims(query, dims);
  const rows = unionRows(query, measure, definition.rows);
  const sum = (counted: Counted[]) => counted.reduce((total, c) => total + c.value, 0);
  if (definition.additive) {
    const body = sql`select ${sql.join([...keyed, sql`sum(r.n)::bigint as value`])} from (${rows}) r ${groupBy()}`;
    const { rows: found } = await withEvents(query, body).execute(db);
    const cells = (found as Record<string, unknown>[]).map((row) => ({
      dims: dimsOf(dims, row),
      value: Number(row.value),
    }));
    return { cells, total: sum(cells) };
  }
  // A key counts in a cell when one of its rows there is flagged (distinct-any), when every one is
  // (distinct-all), or at all (distinct).
  const [row, key] =
    definition.aggregate === 'distinct-any'
      ? [sql`x.any_flag`, sql`bool_or(x.any_flag)`]
      : definition.aggregate === 'distinct-all'
        ? [sql`x.all_flag`, sql`bool_and(x.all_flag)`]
        : [sql`true`, sql`true`];
  const x = sql`(select ${sql.join([...keyed, sql`r.count_key`, sql`r.any_flag`, sql`r.all_flag`])} from (${rows}) r) x`;
  const separate = totalBy.length < dims.length;
  const byTotal = totalBy.map((d) => refs[dims.indexOf(d)]!);
  const set = dims.length > 0 ? sql`grouping(${sql.join(refs)})` : sql`0`;
  let body: RawBuilder<unknown>;
  if (keysUniquePerCell(query) && onlyWholeMonths(query)) {
    // Each key is one row per cell (rollup.ts): cells count rows; only the total groups by key.
    const sets = separate
      ? sql`grouping sets ((${sql.join(refs)}), (${sql.join([...byTotal, sql`count_key`])}))`
      : sql.join(refs);
    const value = sql`case when ${set} = 0 then count(*) filter (where ${row}) else (${key})::int end`;
    body = sql`select ${sql.join([...refs, sql`k.set`, sql`sum(k.value)::int as value`])}
      from (select ${sql.join([...refs, sql`${set} as set`, sql`${value} as value`])} from ${x} group by ${sets}) k
      group by ${sql.join([...refs, sql`k.set`])}`;
  } else {
    // Each key once per cell (and once per combination of the total's dimensions), then counted.
    const sets = separate
      ? sql`grouping sets ((${sql.join([...refs, sql`count_key`])}), (${sql.join([...byTotal, sql`count_key`])}))`
      : sql.join([...refs, sql`count_key`]);
    body = sql`select ${sql.join([...refs, sql`k.set`, sql`count(*) filter (where k.counts)::int as value`])}
      from (select ${sql.join([...refs, sql`${set} as set`, sql`${key} as counts`])} from ${x} group by ${sets}) k
      group by ${sql.join([...refs, sql`k.set`])}`;
  }
  const { rows: found } = await withEvents(query, body).execute(db);
  const counted = (found as Record<string, unknown>[]).map((row) => ({
    set: Number(row.set),
    dims: dimsOf(dims, row),
    value: Number(row.value),
  }));
  const cells = counted.filter((c) => c.set === 0);
  return { cells, total: separate ? sum(counted.filter((c) => c.set !== 0)) : sum(cells) };
}

/**
 * The p50 / p95 / p99 upstream latency of the exchanges a report counts, per combination of dimensions:
 * continuous percentiles (as percentile_cont) over the latencies to the millisecond, from a histogram of
 * the events' and the roll-ups' latencies.
 */
async function latencies(
  db: Kysely<Database>,
  query: ReportQuery,
  dims: Dimension[],
): Promise<{ dims: (string | number | null)[]; p: (number | null)[] }[]> {
  const { keyed, refs, groupBy } = keyedDims(query, dims);
  const rows = unionRows(query, LATENCY, MEASURES.exchanges.rows);
  const partition = dims.length > 0 ? sql`partition by ${sql.join(refs)}` : sql``;
  const body = sql`, h as (select ${sql.join([...keyed, sql`r.latency_ms as v`, sql`sum(r.n) as n`])}
        from (${rows}) r where r.latency_ms is not null ${groupBy([sql`r.latency_ms`])}),
      c as (select h.*, sum(n) over (${partition} order by v) - n as before, sum(n) over (${partition}) as total
        from h),
      q as (select c.*, p.i, p.p * (c.total - 1) as pos from c
        cross join (values (1, 0.5), (2, 0.95), (3, 0.99)) p(i, p))
    select ${sql.join([
      ...refs,
      sql`i`,
      sql`max(v) filter (where before <= floor(pos) and floor(pos) < before + n) as lo`,
      sql`max(v) filter (where before <= ceil(pos) and ceil(pos) < before + n) as hi`,
      sql`max(pos - floor(pos)) as frac`,
    ])}
    from q group by ${sql.join([...refs, sql`i`])}`;
  const { rows: found } = await withEvents(query, body).execute(db);
  const cells = new Map<string, { dims: (string | number | null)[]; p: (number | null)[] }>();
  for (const row of found as Record<string, unknown>[]) {
    const cellDims = dimsOf(dims, row);
    const key = JSON.stringify(cellDims);
    const cell = cells.get(key) ?? { dims: cellDims, p: [null, null, null] };
    cells.set(key, cell);
    const lo = Number(row.lo);
    const value = lo + Number(row.frac) * (Number(row.hi) - lo);
    cell.p[Number(row.i) - 1] = Math.round(value * 10) / 10;
  }
  return [...cells.values()];
}

/** How many of each weekday (ISO: 1 Monday … 7 Sunday) the period has, its days read in the reporting timezone. */
async function weekdaysIn(db: Kysely<Database>, query: ReportQuery): Promise<Map<number, number>> {
  const local = (b: Bound) => sql`(${bound(b, query.timezone)} at time zone ${query.timezone})`;
  const { rows } = await sql<{
    dow: number;
    n: number;
  }>`select extract(isodow from d)::int as dow, count(*)::int as n
    from generate_series(date_trunc('day', ${local(query.from)}), ${local(query.to)} - interval '1 microsecond',
      interval '1 day') d
    group by 1`.execute(db);
  return new Map(rows.map((r) => [Number(r.dow), Number(r.n)]));
}

/** The data-quality block: each flag on the events behind the answer, and those not yet in an episode. */
async function dataQuality(db: Kysely<Database>, query: ReportQuery): Promise<Record<string, number>> {
  // Each contributing event once per flag (whether it is stitched too), from the events and the roll-ups.
  const rows = unionRows(query, qualityName(query.report), qualityRows(query.report));
  const body = sql`select r.count_key as flag, sum(r.n)::int as n from (${rows}) r group by 1`;
  const { rows: found } = await withEvents(query, body).execute(db);
  const out: Record<string, number> = { notYetStitched: 0 };
  for (const row of found as { flag: string; n: number }[]) out[camel(row.flag)] = Number(row.n);
  if (query.report.measures.some((m) => m === 'slotsWithinDeadline' || m === 'slotsBeyondDeadline')) {
    const slots = unionRows(query, BREACH_UNKNOWN, SLOTS_BREACH_UNKNOWN);
    const unknown = sql`select count(distinct r.count_key)::int as n from (${slots}) r`;
    const { rows } = await withEvents(query, unknown).execute(db);
    out.slotsBreachUnknown = Number((rows[0] as { n: number }).n);
  }
  return out;
}

/** `disposition-unknown` → `dispositionUnknown`. */
function camel(flag: string): string {
  return flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

function dimValue(dim: Dimension, value: string | number | null): string | null {
  if (value === null) return null;
  return dim === 'weekday' ? (WEEKDAYS[Number(value) - 1] ?? String(value)) : String(value);
}

/** A cell's drill-down link: the events behind one measure of it. */
function evidenceLink(query: ReportQuery, measure: MeasureId, cell: Record<string, string | null>): string {
  const params = new URLSearchParams({ report: query.report.id, measure });
  params.set('from', 'date' in query.from ? query.from.date : query.from.instant);
  params.set('to', 'date' in query.to ? query.to.date : query.to.instant);
  for (const f of FILTERS) if (query.filters[f] !== undefined) params.set(f, query.filters[f]);
  // Cell values apart from filters (`cell.provider` beside `provider`): a cell with no provider is not
  // a filter on a provider called "(none)".
  for (const [dim, value] of Object.entries(cell)) params.set(`cell.${dim}`, value ?? NONE);
  return `/api/events?${params.toString()}`;
}

/** The period as understood: both bounds as instants with their offset in the reporting timezone. */
async function period(db: Kysely<Database>, query: ReportQuery): Promise<{ from: string; to: string }> {
  const show = (b: Bound) =>
    sql`to_char(${bound(b, query.timezone)} at time zone ${query.timezone}, 'YYYY-MM-DD"T"HH24:MI:SS')`;
  const offset = (b: Bound) =>
    sql`extract(epoch from (${bound(b, query.timezone)} at time zone ${query.timezone}) - (${bound(b, query.timezone)} at time zone 'UTC'))::int`;
  const { rows } = await sql<{ from: string; to: string; from_offset: number; to_offset: number }>`select
    ${show(query.from)} as from, ${show(query.to)} as to,
    ${offset(query.from)} as from_offset, ${offset(query.to)} as to_offset`.execute(db);
  const row = rows[0]!;
  const withOffset = (local: string, seconds: number) => {
    if (seconds === 0) return `${local}Z`;
    const sign = seconds < 0 ? '-' : '+';
    const abs = Math.abs(seconds) / 60;
    return `${local}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
  };
  return {
    from: withOffset(row.from, Number(row.from_offset)),
    to: withOffset(row.to, Number(row.to_offset)),
  };
}

/**
 * Answers one report (reports.md): each measure counted per cell of the dimensions asked, a rate where
 * the report has one, totals, the data-quality block, a drill-down link per cell and measure, and
 * small-number suppression when asked. Events belong to the period by their `occurred_at`; buckets are
 * the reporting timezone's.
 */
export async function runReport(db: Kysely<Database>, asked: ReportQuery): Promise<ReportAnswer> {
  // Whole days the roll-ups hold are read from them; the rest of the period from the events.
  const query =
    asked.useRollups === false || asked.split ? asked : { ...asked, split: await splitPeriod(db, asked) };
  const dims = effectiveGroupBy(query);
  const cells = new Map<string, AnswerRow>();
  const cellDims = new Map<string, Record<string, string | null>>();
  const totals: AnswerRow = {};
  const always = query.report.alwaysGroupBy ?? [];
  for (const measure of query.report.measures) {
    const name = measureName(measure);
    const { cells: cellCounts, total } = await count(db, query, measure, dims, always);
    for (const counted of cellCounts) {
      const cell = Object.fromEntries(dims.map((d, i) => [d, dimValue(d, counted.dims[i] ?? null)]));
      const key = JSON.stringify(cell);
      if (!cells.has(key)) {
        cells.set(key, { ...cell });
        cellDims.set(key, cell);
      }
      cells.get(key)![name] = counted.value;
    }
    // Totals: the sum of the cells where each event is in one cell; otherwise counted over everything
    // (per the dimensions the rule counts by, then summed).
    totals[name] = total;
  }
  const rows = [...cells.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, counts]) => {
      // Dimensions first, then the measures in the report's order (a cell one measure lacks counts 0).
      const ordered: AnswerRow = { ...cellDims.get(key)! };
      for (const m of query.report.measures) ordered[measureName(m)] = counts[measureName(m)] ?? 0;
      const row = withRate(ordered, query.report, totals);
      row.evidence = Object.fromEntries(
        query.report.measures.map((m) => [measureName(m), evidenceLink(query, m, cellDims.get(key)!)]),
      );
      return row;
    });
  if (query.report.perRegion) perRegion(rows, totals, query);
  if (query.report.perWeekday) perWeekday(rows, totals, query, await weekdaysIn(db, query));
  if (query.report.latency) {
    const key = (values: (string | number | null)[]) =>
      JSON.stringify(values.map((v, i) => dimValue(dims[i]!, v)));
    const found = new Map((await latencies(db, query, dims)).map((l) => [key(l.dims), l.p]));
    const [all] = await latencies(db, query, []);
    const put = (row: AnswerRow, p: (number | null)[] | undefined) =>
      LATENCY_FIGURES.forEach((name, i) => (row[name] = p?.[i] ?? null));
    for (const row of rows) put(row, found.get(key(dims.map((d) => row[d] as string | null))));
    put(totals, all?.p);
  }
  // Suppression last: it withholds the figures computed from the counts it withholds.
  const shown = rows.map((row) => suppressed(row, query));
  const shownTotals = suppressedTotals(withRate(totals, query.report), shown, query);
  withheldShares(shown, shownTotals, query.report);
  return {
    report: query.report.id,
    version: query.report.version,
    title: query.report.title,
    period: { ...(await period(db, query)), timezone: query.timezone },
    filters: query.filters,
    groupBy: dims,
    measures: query.report.measures.map(measureName),
    figures: figuresOf(query.report),
    rows: shown,
    totals: shownTotals,
    dataQuality: suppressedQuality(await dataQuality(db, query), query.suppress),
    ...(query.suppress ? { suppress: query.suppress } : {}),
  };
}
