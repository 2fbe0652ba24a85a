import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Database } from '../store/database.js';
import { measureName, type Dimension, type ReportDefinition } from './catalogue.js';
import { MEASURES, SLOTS_BREACH_UNKNOWN, type MeasureId } from './measures.js';
import type { RegionPopulation } from './population.js';

/** The filters every report takes (reports.md): each an exact value. */
export const FILTERS = ['provider', 'service', 'consumer', 'disposition', 'region'] as const;
export type Filter = (typeof FILTERS)[number];

const FILTER_COLUMN: Record<Exclude<Filter, 'region'>, string> = {
  provider: 'provider_id',
  service: 'service_id',
  consumer: 'consumer_org',
  disposition: 'disposition',
};

/** What reports read from configuration: each provider's region, the population table, services connected. */
export interface ReportContext {
  /** Provider id → region code (`providers[].region`). */
  regions: Record<string, string>;
  population: Map<string, RegionPopulation>;
  /** Region code → DoS services configured for its providers. */
  connected: Record<string, number>;
}

export const NO_CONTEXT: ReportContext = { regions: {}, population: new Map(), connected: {} };

/** A row's region, from its provider (null when the provider has none configured). */
function regionOf(context: ReportContext, alias: string): RawBuilder<unknown> {
  const entries = Object.entries(context.regions);
  if (entries.length === 0) return sql`null::text`;
  return sql`(case ${sql.ref(`${alias}.provider_id`)} ${sql.join(
    entries.map(([provider, region]) => sql`when ${provider} then ${region}`),
    sql` `,
  )} else null end)`;
}

/** A bound of the period: a calendar day (its midnight in the reporting timezone) or an instant. */
export type Bound = { date: string } | { instant: string };

export interface ReportQuery {
  report: ReportDefinition;
  from: Bound;
  to: Bound;
  groupBy: Dimension[];
  filters: Partial<Record<Filter, string>>;
  timezone: string;
  /** Counts from 1 to suppress-1 are withheld (small-number suppression); absent: none. */
  suppress?: number;
  /** Regions and populations (none: the region dimension is empty). */
  context?: ReportContext;
}

/** One cell of an answer: its dimensions, then each measure's count (null when suppressed), and the rate. */
export type AnswerRow = Record<string, string | number | null | string[] | Record<string, string>>;

export interface ReportAnswer {
  report: string;
  version: string;
  title: string;
  period: { from: string; to: string; timezone: string };
  filters: Partial<Record<Filter, string>>;
  groupBy: Dimension[];
  measures: string[];
  rows: AnswerRow[];
  totals: AnswerRow;
  dataQuality: Record<string, number | null>;
  suppress?: number;
}

/** What stands for "no value" of a dimension in a drill-down link. */
export const NONE = '(none)';

const WEEKDAYS = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];

function bound(value: Bound, timezone: string): RawBuilder<Date> {
  return 'date' in value
    ? sql<Date>`(cast(${value.date} as timestamp) at time zone ${timezone})`
    : sql<Date>`cast(${value.instant} as timestamptz)`;
}

/** A dimension's value for a row `r` of a measure. */
function dimension(dim: Dimension, timezone: string, context: ReportContext): RawBuilder<unknown> {
  const local = sql`(r.occurred_at at time zone ${timezone})`;
  switch (dim) {
    case 'region':
      return regionOf(context, 'r');
    case 'day':
      return sql`to_char(${local}, 'YYYY-MM-DD')`;
    case 'week':
      return sql`to_char(date_trunc('week', ${local}), 'IYYY-"W"IW')`;
    case 'month':
      return sql`to_char(${local}, 'YYYY-MM')`;
    case 'weekday':
      return sql`extract(isodow from ${local})::int`;
    case 'provider':
      return sql`r.provider_id`;
    case 'service':
      return sql`r.service_id`;
    case 'consumer':
      return sql`r.consumer_org`;
    case 'disposition':
      return sql`r.disposition`;
    case 'outcome':
      return sql`r.outcome`;
    case 'errorCode':
      return sql`r.error_code`;
  }
}

/** The current events: of each source, only those of its latest rule version (a replayed spool line may be older). */
const CURRENT = sql`(select x.* from events x where not exists (select 1 from events n
  where n.source_kind = x.source_kind and n.source_id = x.source_id and n.rule_version > x.rule_version))`;

/** The period's current events, filtered, as `ev`; all current events as `everything`. */
function withEvents(query: ReportQuery, body: RawBuilder<unknown>): RawBuilder<unknown> {
  const conditions = [
    sql`e.occurred_at >= ${bound(query.from, query.timezone)}`,
    sql`e.occurred_at < ${bound(query.to, query.timezone)}`,
    ...FILTERS.filter((f) => query.filters[f] !== undefined).map((f) =>
      f === 'region'
        ? sql`${regionOf(query.context ?? NO_CONTEXT, 'e')} = ${query.filters.region!}`
        : sql`${sql.ref(`e.${FILTER_COLUMN[f]}`)} = ${query.filters[f]!}`,
    ),
  ];
  return sql`with everything as not materialized ${CURRENT},
    ev as (select e.* from everything e where ${sql.join(conditions, sql` and `)})
    ${body}`;
}

/** The dimensions a query groups by: those asked, and those the report always groups by. */
export function effectiveGroupBy(query: Pick<ReportQuery, 'report' | 'groupBy'>): Dimension[] {
  const all = [...query.groupBy];
  for (const dim of query.report.alwaysGroupBy ?? []) if (!all.includes(dim)) all.push(dim);
  return all;
}

interface Counted {
  dims: (string | number | null)[];
  value: number;
}

/** One measure's counts per combination of dimensions. */
async function count(
  db: Kysely<Database>,
  query: ReportQuery,
  measure: MeasureId,
  dims: Dimension[],
): Promise<Counted[]> {
  const definition = MEASURES[measure];
  const keyed = dims.map(
    (d, i) => sql`${dimension(d, query.timezone, query.context ?? NO_CONTEXT)} as ${sql.ref(`d${i}`)}`,
  );
  const dimRefs = dims.map((_, i) => sql.ref(`d${i}`));
  const filter =
    definition.aggregate === 'distinct-any'
      ? sql`any_flag`
      : definition.aggregate === 'distinct-all'
        ? sql`all_flag`
        : sql`true`;
  const body = sql`select ${sql.join([...dimRefs, sql`count(*) filter (where ${filter})::int as value`])}
    from (select ${sql.join([...keyed, sql`r.count_key`, sql`bool_or(r.flag) as any_flag`, sql`bool_and(r.flag) as all_flag`])}
          from (${definition.rows}) r
          group by ${sql.join([...dims.map((_, i) => sql.raw(String(i + 1))), sql`r.count_key`])}) k
    ${dims.length > 0 ? sql`group by ${sql.join(dims.map((_, i) => sql.raw(String(i + 1))))}` : sql``}`;
  const { rows } = await withEvents(query, body).execute(db);
  return (rows as Record<string, unknown>[]).map((row) => ({
    dims: dims.map((_, i) => row[`d${i}`] as string | number | null),
    value: Number(row.value),
  }));
}

/** The data-quality block: each flag on the events behind the answer, and those not yet in an episode. */
async function dataQuality(db: Kysely<Database>, query: ReportQuery): Promise<Record<string, number>> {
  const rows = sql.join(
    query.report.measures.map(
      (m) => sql`select event_id, data_quality, episode_id from (${MEASURES[m].rows}) r`,
    ),
    sql` union `,
  );
  // One pass: each contributing event once, its flags and whether it is stitched.
  const body = sql`select flag, count(*)::int as n from (
      select c.event_id, unnest(c.data_quality || case when c.episode_id is null
        then array['not-yet-stitched'] else array[]::text[] end) as flag
      from (${rows}) c) f
    group by flag`;
  const { rows: found } = await withEvents(query, body).execute(db);
  const out: Record<string, number> = { notYetStitched: 0 };
  for (const row of found as { flag: string; n: number }[]) out[camel(row.flag)] = Number(row.n);
  if (query.report.measures.some((m) => m === 'slotsWithinDeadline' || m === 'slotsBeyondDeadline')) {
    const unknown = sql`select count(distinct r.count_key)::int as n from (${SLOTS_BREACH_UNKNOWN}) r`;
    const { rows } = await withEvents(query, unknown).execute(db);
    out.slotsBreachUnknown = Number((rows[0] as { n: number }).n);
  }
  return out;
}

function suppressedQuality(
  quality: Record<string, number>,
  k: number | undefined,
): Record<string, number | null> {
  if (!k || k < 2) return quality;
  return Object.fromEntries(Object.entries(quality).map(([flag, n]) => [flag, n > 0 && n < k ? null : n]));
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

/** Withholds counts from 1 to k-1, and rates built on them (and the links that would show them). */
function suppressed(row: AnswerRow, query: ReportQuery): AnswerRow {
  const k = query.suppress;
  if (!k || k < 2) return row;
  const withheld: string[] = [];
  for (const m of query.report.measures) {
    const name = measureName(m);
    const value = row[name];
    if (typeof value === 'number' && value > 0 && value < k) {
      row[name] = null;
      withheld.push(name);
    }
  }
  if (withheld.length > 0) {
    if (query.report.rate) row.rate = null;
    row.suppressed = withheld;
    if (row.evidence && typeof row.evidence === 'object' && !Array.isArray(row.evidence))
      for (const name of withheld) delete row.evidence[name];
  }
  return row;
}

/**
 * Totals under suppression: a total with any cell withheld is withheld too (else the cells shown and
 * the total give the hidden one away); data-quality counts from 1 to k-1 likewise.
 */
function suppressedTotals(totals: AnswerRow, rows: AnswerRow[], query: ReportQuery): AnswerRow {
  suppressed(totals, query);
  if (!query.suppress || query.suppress < 2) return totals;
  const withheld = new Set((totals.suppressed as string[] | undefined) ?? []);
  for (const row of rows)
    for (const name of (row.suppressed as string[] | undefined) ?? []) withheld.add(name);
  for (const name of withheld) totals[name] = null;
  if (withheld.size > 0) {
    totals.suppressed = [...withheld];
    if (query.report.rate) totals.rate = null;
  }
  return totals;
}

function withRate(row: AnswerRow, report: ReportDefinition): AnswerRow {
  if (!report.rate) return row;
  const n = row[measureName(report.rate.numerator)];
  const d = row[measureName(report.rate.denominator)];
  row.rate =
    typeof n === 'number' && typeof d === 'number' && d > 0 ? Math.round((n / d) * 10_000) / 10_000 : null;
  return row;
}

/** Whether the period begins before it ends, its bounds read as the reports read them. */
export async function periodIsForward(db: Kysely<Database>, query: ReportQuery): Promise<boolean> {
  const { rows } = await sql<{
    forward: boolean;
  }>`select ${bound(query.from, query.timezone)} < ${bound(query.to, query.timezone)} as forward`.execute(db);
  return rows[0]?.forward === true;
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
export async function runReport(db: Kysely<Database>, query: ReportQuery): Promise<ReportAnswer> {
  const dims = effectiveGroupBy(query);
  const cells = new Map<string, AnswerRow>();
  const cellDims = new Map<string, Record<string, string | null>>();
  const totals: AnswerRow = {};
  const always = query.report.alwaysGroupBy ?? [];
  for (const measure of query.report.measures) {
    const name = measureName(measure);
    const cellCounts = await count(db, query, measure, dims);
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
    totals[name] = (MEASURES[measure].additive ? cellCounts : await count(db, query, measure, always)).reduce(
      (sum, c) => sum + c.value,
      0,
    );
  }
  const rows = [...cells.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, counts]) => {
      // Dimensions first, then the measures in the report's order (a cell one measure lacks counts 0).
      const ordered: AnswerRow = { ...cellDims.get(key)! };
      for (const m of query.report.measures) ordered[measureName(m)] = counts[measureName(m)] ?? 0;
      const row = withRate(ordered, query.report);
      row.evidence = Object.fromEntries(
        query.report.measures.map((m) => [measureName(m), evidenceLink(query, m, cellDims.get(key)!)]),
      );
      return suppressed(row, query);
    });
  if (query.report.perRegion) perRegion(rows, totals, query);
  return {
    report: query.report.id,
    version: query.report.version,
    title: query.report.title,
    period: { ...(await period(db, query)), timezone: query.timezone },
    filters: query.filters,
    groupBy: dims,
    measures: query.report.measures.map(measureName),
    rows,
    totals: suppressedTotals(withRate(totals, query.report), rows, query),
    dataQuality: suppressedQuality(await dataQuality(db, query), query.suppress),
    ...(query.suppress ? { suppress: query.suppress } : {}),
  };
}

/**
 * Figures per region from configuration: its inhabitants and bookings per 1000 of them
 * (bookings-per-1000), or the services configured for its providers (units-connected-vs-active).
 * Totals cover the regions the table or configuration knows.
 */
function perRegion(rows: AnswerRow[], totals: AnswerRow, query: ReportQuery): void {
  const context = query.context ?? NO_CONTEXT;
  if (query.report.perRegion === 'population') {
    let people = 0;
    let counted = 0;
    for (const row of rows) {
      const known = typeof row.region === 'string' ? context.population.get(row.region) : undefined;
      row.population = known?.population ?? null;
      row.per1000 =
        known && typeof row.bookings === 'number'
          ? Math.round((row.bookings / known.population) * 1000 * 1_000_000) / 1_000_000
          : null;
      if (known && typeof row.bookings === 'number') {
        people += known.population;
        counted += row.bookings;
      }
    }
    totals.population = people > 0 ? people : null;
    totals.per1000 = people > 0 ? Math.round((counted / people) * 1000 * 1_000_000) / 1_000_000 : null;
    return;
  }
  // By region alone, every region with services connected has a row, active or not.
  if (query.groupBy.length === 0 || (query.groupBy.length === 1 && query.groupBy[0] === 'region'))
    for (const region of Object.keys(context.connected))
      if (!rows.some((row) => row.region === region))
        rows.push({ region, servicesBooked: 0, servicesSearched: 0 });
  const regionText = (row: AnswerRow) => (typeof row.region === 'string' ? row.region : '');
  rows.sort((a, b) => regionText(a).localeCompare(regionText(b)));
  for (const row of rows)
    row.servicesConnected = typeof row.region === 'string' ? (context.connected[row.region] ?? 0) : null;
  totals.servicesConnected = Object.values(context.connected).reduce((sum, n) => sum + n, 0);
}

/** The events behind one measure of one cell (a drill-down link), a page at a time in order of time. */
export async function evidenceEvents(
  db: Kysely<Database>,
  query: ReportQuery,
  measure: MeasureId,
  cell: Partial<Record<Dimension, string>>,
  page: { limit: number; after?: { at: string; id: string } },
): Promise<{ id: string; at: string }[]> {
  const conditions = Object.entries(cell).map(([dim, value]) => {
    const expr = dimension(dim as Dimension, query.timezone, query.context ?? NO_CONTEXT);
    if (value === NONE) return sql`${expr} is null`;
    if (dim === 'weekday') return sql`${expr} = ${WEEKDAYS.indexOf(value) + 1}`;
    return sql`${expr}::text = ${value}`;
  });
  // Only the rows the count took: for "any", the flagged rows; for "all", the keys flagged in every row.
  const aggregate = MEASURES[measure].aggregate;
  const counted =
    aggregate === 'distinct-any'
      ? sql`where c.flag`
      : aggregate === 'distinct-all'
        ? sql`where c.all_flag`
        : sql``;
  const after = page.after
    ? sql`${aggregate === 'distinct' ? sql`where` : sql`and`} (c.occurred_at, c.event_id) > (${page.after.at}::timestamptz, ${page.after.id}::uuid)`
    : sql``;
  const body = sql`select distinct c.event_id as id, c.occurred_at, c.occurred_at::text as at from (
      select r.*, bool_and(r.flag) over (partition by r.count_key) as all_flag
      from (${MEASURES[measure].rows}) r
      ${conditions.length > 0 ? sql`where ${sql.join(conditions, sql` and `)}` : sql``}) c
    ${counted} ${after}
    order by c.occurred_at, c.event_id limit ${page.limit}`;
  const { rows } = await withEvents(query, body).execute(db);
  return (rows as { id: string; at: string }[]).map((r) => ({ id: r.id, at: r.at }));
}
