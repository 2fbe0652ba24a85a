import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Database } from '../store/database.js';
import type { Dimension, ReportDefinition } from './catalogue.js';
import { MEASURES, type MeasureId } from './measures.js';
import type { RegionPopulation } from './population.js';

/*
 * A report query and the SQL it is made of: the period's bounds, each dimension's value, the current
 * events of the period (filtered), and the events behind one cell (the drill-down).
 */

/** The filters every report takes (reports.md): each an exact value. */
export const FILTERS = ['provider', 'service', 'consumer', 'disposition', 'region'] as const;
export type Filter = (typeof FILTERS)[number];

/** The dimensions that are a measure row's own column (the rest are computed: time buckets, region). */
type ColumnDimension = Exclude<Dimension, 'region' | 'day' | 'week' | 'month' | 'weekday'>;

/** Each column dimension's column. */
const COLUMN: Record<ColumnDimension, string> = {
  provider: 'provider_id',
  service: 'service_id',
  consumer: 'consumer_org',
  disposition: 'disposition',
  outcome: 'outcome',
  errorCode: 'error_code',
  activity: 'activity',
  practice: 'practice',
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
  /** Which days are counted from the roll-ups and which ranges from the events (none: all from events). */
  split?: RollupSplit;
  /** False: count everything from the events (the roll-ups' own tests compare the two). */
  useRollups?: boolean;
}

/** A period split between the roll-ups and the events (rollup.ts). */
export interface RollupSplit {
  /** Local days (YYYY-MM-DD) counted from the roll-ups: built, unchanged since, wholly in the period. */
  days: string[];
  /** The rest of the period, counted from the events: half-open ranges of instants. */
  raw: { from: string; to: string }[];
}

/** What stands for "no value" of a dimension in a drill-down link. */
export const NONE = '(none)';

export const WEEKDAYS = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];

export function bound(value: Bound, timezone: string): RawBuilder<Date> {
  return 'date' in value
    ? sql<Date>`(cast(${value.date} as timestamp) at time zone ${timezone})`
    : sql<Date>`cast(${value.instant} as timestamptz)`;
}

/**
 * A dimension's value for a row `r` of a measure; time buckets from `local`, the row's local time (by
 * default its `occurred_at` in the timezone; rows read beside the roll-ups carry it as `local_at`).
 */
export function dimension(
  dim: Dimension,
  timezone: string,
  context: ReportContext,
  local: RawBuilder<unknown> = sql`(r.occurred_at at time zone ${timezone})`,
): RawBuilder<unknown> {
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
    default:
      return sql.ref(`r.${COLUMN[dim]}`);
  }
}

/** The current events: of each source, only those of its latest rule version (a replayed spool line may be older). */
export const CURRENT = sql`(select x.* from events x where not exists (select 1 from events n
  where n.source_kind = x.source_kind and n.source_id = x.source_id and n.rule_version > x.rule_version))`;

/** The query's filters on the columns of `alias` (events, or roll-ups: they share the column names). */
export function filterConditions(query: ReportQuery, alias: string): RawBuilder<unknown>[] {
  return FILTERS.filter((f) => query.filters[f] !== undefined).map((f) =>
    f === 'region'
      ? sql`${regionOf(query.context ?? NO_CONTEXT, alias)} = ${query.filters.region!}`
      : sql`${sql.ref(`${alias}.${COLUMN[f]}`)} = ${query.filters[f]!}`,
  );
}

/** Events in any of the half-open ranges (none: no event). */
export function inRanges(ranges: { from: string; to: string }[], alias = 'e'): RawBuilder<unknown> {
  if (ranges.length === 0) return sql`false`;
  const at = sql.ref(`${alias}.occurred_at`);
  return sql`(${sql.join(
    ranges.map((r) => sql`(${at} >= ${r.from}::timestamptz and ${at} < ${r.to}::timestamptz)`),
    sql` or `,
  )})`;
}

/** `ev`: the current events meeting the conditions; `everything`: all current events (episodes span periods). */
export function eventsWhere(
  conditions: RawBuilder<unknown>[],
  body: RawBuilder<unknown>,
  from: RawBuilder<unknown> = sql`everything`,
): RawBuilder<unknown> {
  return sql`with everything as not materialized ${CURRENT},
    ev as (select e.* from ${from} e where ${sql.join(conditions, sql` and `)})
    ${body}`;
}

/** The period's current events, filtered, as `ev` (only the ranges the roll-ups do not count, when split). */
export function withEvents(query: ReportQuery, body: RawBuilder<unknown>): RawBuilder<unknown> {
  const period = query.split
    ? [inRanges(query.split.raw)]
    : [
        sql`e.occurred_at >= ${bound(query.from, query.timezone)}`,
        sql`e.occurred_at < ${bound(query.to, query.timezone)}`,
      ];
  return eventsWhere([...period, ...filterConditions(query, 'e')], body);
}

/** The dimensions a query groups by: those asked, and those the report always groups by. */
export function effectiveGroupBy(query: Pick<ReportQuery, 'report' | 'groupBy'>): Dimension[] {
  const all = [...query.groupBy];
  for (const dim of query.report.alwaysGroupBy ?? []) if (!all.includes(dim)) all.push(dim);
  return all;
}

/**
 * Whether a period begins before it ends, its bounds read as the store reads them (a date is a day in
 * `timezone`), so a date and an instant can be compared.
 */
export async function periodIsForward(
  db: Kysely<Database>,
  period: { from: Bound; to: Bound; timezone: string },
): Promise<boolean> {
  const { rows } = await sql<{
    forward: boolean;
  }>`select ${bound(period.from, period.timezone)} < ${bound(period.to, period.timezone)} as forward`.execute(
    db,
  );
  return rows[0]?.forward === true;
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
