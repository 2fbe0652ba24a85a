import { sql, type Kysely } from 'kysely';
import type { Database } from '../store/database.js';
import type { EventRow } from '../store/tables/event.table.js';
import type { ExchangeRow } from '../store/tables/exchange.table.js';

/*
 * Stored exchanges as inspection reads them: the columns a list shows, the rows with bodies, the events
 * each led to (of the current rule version only: a reprocess may leave older versions' events beside
 * the new ones for a while, and reports count the newest too).
 */

/** A time as ISO 8601 in UTC (null stays null). */
export function iso(value: Date | string): string;
export function iso(value: Date | string | null): string | null;
export function iso(value: Date | string | null): string | null {
  return value === null ? null : new Date(value).toISOString();
}

/** The header of a name, whatever its case, as one value. */
export function headerValue(headers: Record<string, string | string[]>, name: string): string | undefined {
  for (const [key, value] of Object.entries(headers ?? {}))
    if (key.toLowerCase() === name) return Array.isArray(value) ? value.join(', ') : value;
  return undefined;
}

/** The database's own text of a timestamptz column, in UTC, to the microsecond (what a cursor carries). */
export function timeText(column: string) {
  return sql<string>`to_char(${sql.ref(column)} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
}

/** An event of `alias` is of its source's newest rule version. */
export function currentVersion(alias: string) {
  const e = (column: string) => sql.ref(`${alias}.${column}`);
  return sql`not exists (select 1 from events n where n.source_kind = ${e('source_kind')}
    and n.source_id = ${e('source_id')} and n.rule_version > ${e('rule_version')})`;
}

/** Events keeping, per source, only those of its newest rule version (order kept). */
export function currentEvents<T extends Pick<EventRow, 'source_kind' | 'source_id' | 'rule_version'>>(
  events: T[],
): T[] {
  const newest = new Map<string, string>();
  for (const e of events) {
    const key = `${e.source_kind}:${e.source_id}`;
    if ((newest.get(key) ?? '') < e.rule_version) newest.set(key, e.rule_version);
  }
  return events.filter((e) => newest.get(`${e.source_kind}:${e.source_id}`) === e.rule_version);
}

/** The time's text of `exchanges x`. */
export const AT = timeText('x.received_at');

/** A stored exchange with the database's own text of its time (to the microsecond). */
export type StoredExchange = ExchangeRow & { at: string };

/** Every column of `exchanges x`, with the time's text. */
export const ALL_COLUMNS = sql`x.*, ${AT} as at`;

/** One stored exchange, or undefined when none has that id (or retention removed it). */
export async function storedExchange(db: Kysely<Database>, id: string): Promise<StoredExchange | undefined> {
  const { rows } =
    await sql<StoredExchange>`select ${ALL_COLUMNS} from exchanges x where x.id = ${id}::uuid`.execute(db);
  return rows[0];
}

/** The events derived from an exchange (of its current rule version), in order. */
export async function eventsOfExchange(db: Kysely<Database>, id: string): Promise<EventRow[]> {
  const events = await db
    .selectFrom('events')
    .selectAll()
    .where('source_kind', '=', 'exchange')
    .where('source_id', '=', id)
    .orderBy('ordinal')
    .execute();
  return currentEvents(events);
}

/** The columns a list shows (no bodies). */
export const SUMMARY_COLUMNS = sql`x.id, x.received_at, x.route, x.provider_id, x.dialect, x.interaction,
  x.method, x.path, x.query, x.response_status, x.transport_outcome, x.consumer_org, x.trace_id,
  x.correlation_id, x.request_id, x.total_ms, x.upstream_ms, x.request_size, x.response_size,
  x.request_truncated, x.response_truncated`;

export type SummaryRow = Pick<
  ExchangeRow,
  | 'id'
  | 'received_at'
  | 'route'
  | 'provider_id'
  | 'dialect'
  | 'interaction'
  | 'method'
  | 'path'
  | 'query'
  | 'response_status'
  | 'transport_outcome'
  | 'consumer_org'
  | 'trace_id'
  | 'correlation_id'
  | 'request_id'
  | 'total_ms'
  | 'upstream_ms'
  | 'request_size'
  | 'response_size'
  | 'request_truncated'
  | 'response_truncated'
> & { at: string };

export type TextRow = SummaryRow &
  Pick<
    ExchangeRow,
    | 'request_headers'
    | 'response_headers'
    | 'request_body'
    | 'request_body_encoding'
    | 'response_body'
    | 'response_body_encoding'
  >;

/** What the events derived from an exchange say about it, in a list. */
export interface Derived {
  events: string[];
  outcome: string | null;
  episodes: string[];
}

/** One exchange in a list. */
export interface ExchangeSummary {
  id: string;
  receivedAt: string;
  route: string;
  provider: string | null;
  dialect: string | null;
  interaction: string | null;
  method: string;
  path: string;
  status: number | null;
  transport: string;
  consumer: string | null;
  traceId: string | null;
  correlationId: string | null;
  requestId: string | null;
  totalMs: number | null;
  upstreamMs: number | null;
  requestSize: number;
  responseSize: number;
  truncated: boolean;
  /** The booking outcome, when the exchange attempted a booking. */
  outcome: string | null;
  /** The types of the events derived from it, in order. */
  events: string[];
  episodes: string[];
  href: string;
}

/** The target as stored (redacted), with its query. */
export function targetOf(row: { path: string; query: string | null }): string {
  return row.query ? `${row.path}?${row.query}` : row.path;
}

export function summary(row: SummaryRow, derived: Derived | undefined): ExchangeSummary {
  return {
    id: row.id,
    receivedAt: iso(row.received_at),
    route: row.route,
    provider: row.provider_id,
    dialect: row.dialect,
    interaction: row.interaction,
    method: row.method,
    path: targetOf(row),
    status: row.response_status,
    transport: row.transport_outcome,
    consumer: row.consumer_org,
    traceId: row.trace_id,
    correlationId: row.correlation_id,
    requestId: row.request_id,
    totalMs: row.total_ms,
    upstreamMs: row.upstream_ms,
    requestSize: Number(row.request_size),
    responseSize: Number(row.response_size),
    truncated: row.request_truncated || row.response_truncated,
    outcome: derived?.outcome ?? null,
    events: derived?.events ?? [],
    episodes: derived?.episodes ?? [],
    href: `/api/exchanges/${row.id}`,
  };
}

/** The events of some exchanges, by exchange: their types, a booking's outcome, their episodes. */
export async function derivedOf(db: Kysely<Database>, ids: string[]): Promise<Map<string, Derived>> {
  const found = new Map<string, Derived>();
  if (ids.length === 0) return found;
  const rows = await db
    .selectFrom('events')
    .select([
      'source_kind',
      'source_id',
      'rule_version',
      'type',
      'episode_id',
      sql<string | null>`attributes->>'outcome'`.as('outcome'),
    ])
    .where('source_kind', '=', 'exchange')
    .where('source_id', 'in', ids)
    .orderBy('source_id')
    .orderBy('ordinal')
    .execute();
  for (const row of currentEvents(rows)) {
    const derived = found.get(row.source_id) ?? { events: [], outcome: null, episodes: [] };
    derived.events.push(row.type);
    if (row.type === 'booking.attempted') derived.outcome = row.outcome;
    if (row.episode_id && !derived.episodes.includes(row.episode_id)) derived.episodes.push(row.episode_id);
    found.set(row.source_id, derived);
  }
  return found;
}
