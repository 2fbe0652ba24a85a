import { sql, type Kysely, type RawBuilder } from 'kysely';
import { readStoredBody } from '../capture/stored-body.js';
import type { Position } from '../http/query-params.js';
import type { Database } from '../store/database.js';
import { filterConditions, periodConditions, type ExchangeFilters } from './exchange-filters.js';
import {
  ALL_COLUMNS,
  AT,
  currentVersion,
  derivedOf,
  SUMMARY_COLUMNS,
  summary,
  targetOf,
  type ExchangeSummary,
  type SummaryRow,
  type TextRow,
} from './stored-exchange.js';

/**
 * Free text is matched in the bodies as they are read back (they are stored compressed): a page reads
 * at most this many exchanges that pass the other filters, then stops and says how far it searched.
 */
export const TEXT_SCAN_BUDGET = 5000;
/** … and reads no further chunk after searching this long (a page of large searchsets reads fewer). */
export const TEXT_SCAN_MS = 120;
const TEXT_SCAN_CHUNK = 100;

/** A page of a list, newest first. */
export interface ExchangePage {
  items: ExchangeSummary[];
  /** Where the next page starts (null: nothing older matches). */
  next: Position | null;
  /** With free text: exchanges read to answer the page, and whether the budget cut the search short. */
  search?: { scanned: number; complete: boolean; searchedBackTo: string | null };
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
  // An exchange's booking attempt, of the current rule version (an exchange's events share its time).
  const attempt = (outcome: string) => [
    sql`e.type = 'booking.attempted' and e.attributes->>'outcome' = ${outcome} and e.source_kind = 'exchange'`,
    currentVersion('e'),
  ];
  const where = filterConditions({ ...filters, outcome: undefined }, timezone);
  // Walked from the outcome's events unless a filter that names a handful of exchanges is there too.
  const fromEvents =
    filters.outcome !== undefined &&
    [filters.id, filters.patientHash, filters.correlation, filters.episode].every((f) => f === undefined);
  if (!fromEvents) {
    const conditions = [
      ...where,
      ...(filters.outcome === undefined
        ? []
        : [
            sql`exists (select 1 from events e where e.source_id = x.id and e.occurred_at = x.received_at
                        and ${and(attempt(filters.outcome))})`,
          ]),
      ...before(sql.ref('x.received_at'), sql.ref('x.id')),
    ];
    const whereSql = conditions.length > 0 ? sql`where ${and(conditions)}` : sql``;
    return sql<Row>`select ${selected} from exchanges x ${whereSql}
                    order by x.received_at desc, x.id desc limit ${limit}`.execute(db);
  }
  // The period bounds the events' time too, so the walk starts and stops where the period does.
  const period = periodConditions(filters, timezone, 'e.occurred_at');
  const exchange = [sql`x.id = e.source_id and x.received_at = e.occurred_at`, ...where];
  return sql<Row>`select ${selected} from (
      select e.source_id, e.occurred_at from events e
       where ${and(attempt(filters.outcome!))}
         and e.occurred_at >= (select min(received_at) from exchanges)
         ${period.length > 0 ? sql`and ${and(period)}` : sql``}
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
  options: {
    timezone: string;
    after?: Position;
    chunk: number;
    columns: 'text' | 'all';
    /** Asked before each chunk is read: false ends the scan (enough found, out of budget). */
    more?: () => boolean;
    /** Set once every matching exchange was read (the scan ran out, not stopped). */
    end?: { ranOut: boolean };
  },
): AsyncGenerator<{ row: Row; matches: boolean }> {
  let after = options.after;
  for (;;) {
    if (options.more && !options.more()) return;
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
    if (rows.length < options.chunk || !last) {
      if (options.end) options.end.ranOut = true;
      return;
    }
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
  // Time is judged between reads of a chunk: a chunk read is searched whole (on a slow store the read
  // is the cost), and every page reads at least one, so paging always gets somewhere.
  const room = () => found.length < options.limit && scanned < budget;
  const more = () => room() && (scanned === 0 || performance.now() <= deadline);
  const end = { ranOut: false };
  for await (const { row, matches } of scanExchanges(db, filters, {
    timezone: options.timezone,
    ...(options.after ? { after: options.after } : {}),
    chunk: Math.min(TEXT_SCAN_CHUNK, budget),
    columns: 'text',
    more,
    end,
  })) {
    if (!room()) break;
    scanned += 1;
    at = { at: row.at, id: row.id };
    if (matches) found.push(row);
  }
  const ranOut = end.ranOut;
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
