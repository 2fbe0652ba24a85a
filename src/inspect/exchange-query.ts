import { sql, type Kysely, type RawBuilder } from 'kysely';
import { readStoredBody } from '../capture/stored-body.js';
import type { Position } from '../http/query-params.js';
import type { Database } from '../store/database.js';
import type { EventRow } from '../store/tables/event.table.js';
import type { ExchangeRow } from '../store/tables/exchange.table.js';
import { filterConditions, type ExchangeFilters } from './exchange-filters.js';

/**
 * Free text is matched in the bodies as they are read back (they are stored compressed): a page reads
 * at most this many exchanges that pass the other filters, then stops and says how far it searched.
 */
export const TEXT_SCAN_BUDGET = 5000;
/** … and searches for at most this long (a page of large searchsets reads fewer). */
export const TEXT_SCAN_MS = 120;
const TEXT_SCAN_CHUNK = 100;

/** The database's own text of a time, in UTC, to the microsecond (what a cursor carries). */
const AT = sql<string>`to_char(x.received_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

/** A stored exchange with the database's own text of its time (to the microsecond). */
export type StoredExchange = ExchangeRow & { at: string };

/** Every column of `exchanges x`, with the time's text. */
export const ALL_COLUMNS = sql`x.*, to_char(x.received_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as at`;

/** One stored exchange, or undefined when none has that id (or retention removed it). */
export async function storedExchange(db: Kysely<Database>, id: string): Promise<StoredExchange | undefined> {
  const { rows } =
    await sql<StoredExchange>`select ${ALL_COLUMNS} from exchanges x where x.id = ${id}::uuid`.execute(db);
  return rows[0];
}

/** The events derived from an exchange, in order. */
export async function eventsOfExchange(db: Kysely<Database>, id: string): Promise<EventRow[]> {
  return db
    .selectFrom('events')
    .selectAll()
    .where('source_kind', '=', 'exchange')
    .where('source_id', '=', id)
    .orderBy('ordinal')
    .orderBy('rule_version')
    .execute();
}

/** The columns a list shows (no bodies). */
const SUMMARY_COLUMNS = sql`x.id, x.received_at, x.route, x.provider_id, x.dialect, x.interaction,
  x.method, x.path, x.query, x.response_status, x.transport_outcome, x.consumer_org, x.trace_id,
  x.correlation_id, x.request_id, x.total_ms, x.upstream_ms, x.request_size, x.response_size,
  x.request_truncated, x.response_truncated`;

type SummaryRow = Pick<
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

type TextRow = SummaryRow &
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
interface Derived {
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

/** A page of a list, newest first. */
export interface ExchangePage {
  items: ExchangeSummary[];
  /** Where the next page starts (null: nothing older matches). */
  next: Position | null;
  /** With free text: exchanges read to answer the page, and whether the budget cut the search short. */
  search?: { scanned: number; complete: boolean; searchedBackTo: string | null };
}

function iso(value: Date | string): string {
  return new Date(value).toISOString();
}

/** The target as stored (redacted), with its query. */
export function targetOf(row: { path: string; query: string | null }): string {
  return row.query ? `${row.path}?${row.query}` : row.path;
}

function summary(row: SummaryRow, derived: Derived | undefined): ExchangeSummary {
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
async function derivedOf(db: Kysely<Database>, ids: string[]): Promise<Map<string, Derived>> {
  const found = new Map<string, Derived>();
  if (ids.length === 0) return found;
  const rows = await db
    .selectFrom('events')
    .select(['source_id', 'type', 'episode_id', sql<string | null>`attributes->>'outcome'`.as('outcome')])
    .where('source_kind', '=', 'exchange')
    .where('source_id', 'in', ids)
    .orderBy('source_id')
    .orderBy('ordinal')
    .execute();
  for (const row of rows) {
    const derived = found.get(row.source_id) ?? { events: [], outcome: null, episodes: [] };
    derived.events.push(row.type);
    if (row.type === 'booking.attempted') derived.outcome = row.outcome;
    if (row.episode_id && !derived.episodes.includes(row.episode_id)) derived.episodes.push(row.episode_id);
    found.set(row.source_id, derived);
  }
  return found;
}

/** Whether the stored (redacted) target, header values or bodies of an exchange contain `needle`. */
export function containsText(row: TextRow, needle: string): boolean {
  const lower = needle.toLowerCase();
  const has = (text: string | null) => text !== null && text.toLowerCase().includes(lower);
  if (has(targetOf(row))) return true;
  for (const headers of [row.request_headers, row.response_headers])
    for (const value of Object.values(headers ?? {}))
      if (has(Array.isArray(value) ? value.join(', ') : value)) return true;
  for (const [body, encoding] of [
    [row.request_body, row.request_body_encoding],
    [row.response_body, row.response_body_encoding],
  ] as const) {
    const read = readStoredBody(body, encoding);
    if (typeof read === 'string' && has(read)) return true;
  }
  return false;
}

type Columns = 'summary' | 'text' | 'all';

/**
 * A page of the exchanges the filters (free text aside) match, newest first after `after`. A booking
 * outcome is walked from its events, newest first, through the partial index of booking attempts (the
 * other filters checked on each event's exchange): a page then reads about as many events as it shows,
 * however many bookings had that outcome. Events outlive their exchanges (retention), so the walk starts
 * no earlier than the oldest exchange stored.
 */
function selectPage<Row>(
  db: Kysely<Database>,
  filters: ExchangeFilters,
  timezone: string,
  after: Position | undefined,
  limit: number,
  columns: Columns,
) {
  const where = filterConditions({ ...filters, outcome: undefined }, timezone);
  const selected =
    columns === 'all'
      ? ALL_COLUMNS
      : columns === 'text'
        ? sql`${SUMMARY_COLUMNS}, ${AT} as at, x.request_headers, x.response_headers, x.request_body,
              x.request_body_encoding, x.response_body, x.response_body_encoding`
        : sql`${SUMMARY_COLUMNS}, ${AT} as at`;
  const and = (conditions: RawBuilder<unknown>[]) => sql.join(conditions, sql` and `);
  // The time alone first, so an index led by a filter's column can seek to it; then the tie by id.
  const before = (time: RawBuilder<unknown>, id: RawBuilder<unknown>) =>
    after
      ? [
          sql`${time} <= ${after.at}::timestamptz and (${time}, ${id}) < (${after.at}::timestamptz, ${after.id}::uuid)`,
        ]
      : [];
  if (filters.outcome === undefined) {
    const conditions = [...where, ...before(sql.ref('x.received_at'), sql.ref('x.id'))];
    const whereSql = conditions.length > 0 ? sql`where ${and(conditions)}` : sql``;
    return sql<Row>`select ${selected} from exchanges x ${whereSql}
                    order by x.received_at desc, x.id desc limit ${limit}`.execute(db);
  }
  const exchange = [sql`x.id = e.source_id and x.received_at = e.occurred_at`, ...where];
  return sql<Row>`select ${selected} from (
      select e.source_id, e.occurred_at from events e
       where e.type = 'booking.attempted' and e.attributes->>'outcome' = ${filters.outcome}
         and e.source_kind = 'exchange'
         and e.occurred_at >= (select min(received_at) from exchanges)
         ${after ? sql`and ${and(before(sql.ref('e.occurred_at'), sql.ref('e.source_id')))}` : sql``}
         and exists (select 1 from exchanges x where ${and(exchange)})
       order by e.occurred_at desc, e.source_id desc limit ${limit}
    ) e join exchanges x on x.id = e.source_id and x.received_at = e.occurred_at
    order by x.received_at desc, x.id desc`.execute(db);
}

/**
 * The exchanges the filters other than free text match, newest first after `after`, read `chunk` at a
 * time, each told whether it holds the free text (always, without one). The caller stops when it has
 * enough.
 */
export async function* scanExchanges<Row extends TextRow = TextRow>(
  db: Kysely<Database>,
  filters: ExchangeFilters,
  options: { timezone: string; after?: Position; chunk: number; columns: 'text' | 'all' },
): AsyncGenerator<{ row: Row; matches: boolean }> {
  let after = options.after;
  for (;;) {
    const { rows } = await selectPage<Row>(
      db,
      filters,
      options.timezone,
      after,
      options.chunk,
      options.columns,
    );
    for (const row of rows)
      yield { row, matches: filters.text === undefined || containsText(row, filters.text) };
    const last = rows[rows.length - 1];
    if (rows.length < options.chunk || !last) return;
    after = { at: last.at, id: last.id };
  }
}

/**
 * One page of the exchanges the filters match, newest first, after `after` (a position a previous
 * page gave). With free text, the exchanges matching the other filters are read back in chunks and
 * searched, at most `TEXT_SCAN_BUDGET` of them or `TEXT_SCAN_MS` of searching a page: a page cut short
 * by either says so, and its `next` goes on from where it stopped.
 */
export async function listExchanges(
  db: Kysely<Database>,
  filters: ExchangeFilters,
  options: { timezone: string; limit: number; after?: Position; scanBudget?: number; scanMs?: number },
): Promise<ExchangePage> {
  if (filters.text === undefined) {
    const { rows } = await selectPage<SummaryRow>(
      db,
      filters,
      options.timezone,
      options.after,
      options.limit + 1,
      'summary',
    );
    const page = rows.slice(0, options.limit);
    const derived = await derivedOf(
      db,
      page.map((r) => r.id),
    );
    const last = page[page.length - 1];
    return {
      items: page.map((row) => summary(row, derived.get(row.id))),
      next: rows.length > options.limit && last ? { at: last.at, id: last.id } : null,
    };
  }
  const budget = options.scanBudget ?? TEXT_SCAN_BUDGET;
  const deadline = performance.now() + (options.scanMs ?? TEXT_SCAN_MS);
  const found: TextRow[] = [];
  let at = options.after;
  let scanned = 0;
  let ranOut = true;
  for await (const { row, matches } of scanExchanges(db, filters, {
    timezone: options.timezone,
    ...(options.after ? { after: options.after } : {}),
    chunk: Math.min(TEXT_SCAN_CHUNK, budget),
    columns: 'text',
  })) {
    // Every page reads at least one exchange, so paging always gets somewhere.
    const outOfTime = scanned > 0 && performance.now() > deadline;
    if (found.length === options.limit || scanned === budget || outOfTime) {
      // Something is left to read: the next page goes on from here.
      ranOut = false;
      break;
    }
    scanned += 1;
    at = { at: row.at, id: row.id };
    if (matches) found.push(row);
  }
  const derived = await derivedOf(
    db,
    found.map((r) => r.id),
  );
  // More may match only if the search stopped before it ran out of exchanges.
  const next = ranOut ? null : (at ?? null);
  return {
    items: found.map((row) => summary(row, derived.get(row.id))),
    next,
    search: {
      scanned,
      complete: ranOut || found.length === options.limit,
      searchedBackTo: at ? at.at : null,
    },
  };
}
