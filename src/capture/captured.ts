import { deriveEvents, type DerivableExchange } from '../derive/derive.js';
import type { DerivationTables } from '../derive/tables.js';
import type { CapturableExchange } from '../proxy/exchange.js';
import type { EventTable, NewEventRow } from '../store/tables/event.table.js';
import type { ExchangeRow, ExchangeTable, NewExchangeRow } from '../store/tables/exchange.table.js';
import { exchangeRow, withoutNul } from './exchange-row.js';
import type { RedactionRules } from './redact.js';
import { withReadableBodies } from './stored-body.js';

/**
 * One captured exchange as it is written: its redacted row and the events derived from it, in one
 * transaction, each already JSON (made where it was redacted, on the worker) and held as UTF-8 bytes.
 * Bytes, not strings: the worker's buffers move to the proxy's thread without a copy, and they live
 * outside V8's heap. As strings, some 16 KB per exchange waited there for its batch, survived young
 * collections and was copied by each (about 3 ms a scavenge at 200 req/s, measured): the tail of the
 * proxy's latency. The main thread neither copies nor serialises them: a batch goes to the store as one
 * JSON array per table, and to the spool as they are.
 */
export interface CapturedExchange {
  id: string;
  /** The row as a JSON object: every column but `captured_at`, bodies in PostgreSQL's bytea hex form. */
  exchange: Buffer;
  /** Its events as a JSON array, every column but `recorded_at`, defaults filled in. */
  events: Buffer;
}

/** The columns a captured row sets (all but `captured_at`, which the store stamps). */
export const EXCHANGE_COLUMNS = [
  'id',
  'received_at',
  'route',
  'provider_id',
  'dialect',
  'interaction',
  'method',
  'path',
  'query',
  'request_headers',
  'request_body',
  'request_body_encoding',
  'request_size',
  'request_truncated',
  'response_status',
  'response_headers',
  'response_body',
  'response_body_encoding',
  'response_size',
  'response_truncated',
  'transport_outcome',
  'consumer_org',
  'consumer_asid',
  'provider_asid',
  'trace_id',
  'correlation_id',
  'request_id',
  'upstream_started_at',
  'first_byte_at',
  'ended_at',
  'total_ms',
  'upstream_ms',
  'episode_id',
  'patient_hash',
] as const satisfies readonly Exclude<keyof ExchangeTable, 'captured_at'>[];

/** The columns a derived event sets (all but `recorded_at`, which the store stamps). */
export const EVENT_COLUMNS = [
  'id',
  'occurred_at',
  'type',
  'source_kind',
  'source_id',
  'ordinal',
  'rule_version',
  'provider_id',
  'service_id',
  'consumer_org',
  'disposition',
  'deadline',
  'deadline_source',
  'episode_id',
  'patient_hash',
  'attributes',
  'data_quality',
  'correlation_keys',
  'encounter_id',
] as const satisfies readonly Exclude<keyof EventTable, 'recorded_at'>[];

/** A body as bytea input text (hex), which PostgreSQL reads from JSON as it is. */
function byteaHex(body: Uint8Array | null | undefined): string | null {
  if (!body) return null;
  return `\\x${Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('hex')}`;
}

/**
 * A row and its events as the store and the spool take them. Every column is named, with the table's
 * defaults where a value is missing (a column missing from the JSON would be written as null). Dates
 * become ISO strings (an invalid one null, which the store refuses); strings lose NUL.
 */
export function capturedOf(row: NewExchangeRow, events: NewEventRow[]): CapturedExchange {
  const values: Record<string, unknown> = {};
  for (const column of EXCHANGE_COLUMNS) values[column] = row[column] ?? null;
  values.request_headers = row.request_headers ?? {};
  values.response_headers = row.response_headers ?? {};
  values.request_size = row.request_size ?? 0;
  values.response_size = row.response_size ?? 0;
  values.request_truncated = row.request_truncated ?? false;
  values.response_truncated = row.response_truncated ?? false;
  values.request_body = byteaHex(row.request_body);
  values.response_body = byteaHex(row.response_body);
  return {
    id: row.id,
    exchange: ownBytes(jsonWithoutNul(values)),
    events: eventsJson(events),
  };
}

/**
 * Events as the store takes them: a JSON array (UTF-8), every column named, defaults filled in, strings
 * without NUL.
 */
export function eventsJson(events: NewEventRow[]): Buffer {
  const values = events.map((event) => {
    const out: Record<string, unknown> = {};
    for (const column of EVENT_COLUMNS) out[column] = event[column] ?? null;
    out.ordinal = event.ordinal ?? 0;
    out.attributes = event.attributes ?? {};
    out.data_quality = event.data_quality ?? [];
    out.correlation_keys = event.correlation_keys ?? [];
    return out;
  });
  return ownBytes(jsonWithoutNul(values));
}

/**
 * Text as UTF-8 in a buffer of its own: never a slice of Node's shared pool, whose other tenants would
 * be lost with it when the buffer is transferred to another thread.
 */
function ownBytes(text: string): Buffer {
  const bytes = Buffer.allocUnsafeSlow(Buffer.byteLength(text));
  bytes.write(text);
  return bytes;
}

/** The stored form of an exchange as derivation reads it. */
function derivable(
  row: NewExchangeRow | ExchangeRow,
  request: string | Buffer | null,
  response: string | Buffer | null,
): DerivableExchange {
  return {
    id: row.id,
    received_at: row.received_at,
    provider_id: row.provider_id ?? null,
    dialect: row.dialect ?? null,
    method: row.method,
    path: row.path,
    query: row.query ?? null,
    request_headers: (row.request_headers ?? {}) as Record<string, string | string[]>,
    request_body: request,
    response_status: row.response_status ?? null,
    response_headers: (row.response_headers ?? {}) as Record<string, string | string[]>,
    response_body: response,
    transport_outcome: row.transport_outcome,
    provider_answered: row.first_byte_at !== null && row.first_byte_at !== undefined,
    upstream_ms: row.upstream_ms ?? null,
    consumer_org: row.consumer_org ?? null,
    patient_hash: row.patient_hash ?? null,
  };
}

/**
 * Redacts an observed exchange and derives its events from what is stored (so events rebuilt later
 * from the store are the same ones).
 */
export function captureExchange(
  observed: CapturableExchange,
  rules: RedactionRules,
  tables: DerivationTables,
): CapturedExchange {
  const { row, texts } = exchangeRow(observed, rules);
  const events = safely(() => deriveEvents(derivable(row, texts.request, texts.response), tables));
  return capturedOf(row, events);
}

/** The events of an exchange read back from the store (reprocessing). */
export function eventsOfStored(row: ExchangeRow, tables: DerivationTables): NewEventRow[] {
  return safely(() => {
    const readable = withReadableBodies(row);
    return deriveEvents(derivable(row, readable.request_body, readable.response_body), tables);
  }).map((event) => JSON.parse(JSON.stringify(event, cleanStrings)) as NewEventRow);
}

/**
 * Derivation never costs an exchange: should a rule throw on some input, the exchange is still stored,
 * without events (and `npm run reprocess` can derive them once the rule is mended).
 */
function safely(derive: () => NewEventRow[]): NewEventRow[] {
  try {
    return derive().map((event) => ({
      ...event,
      service_id: clean(event.service_id),
      disposition: clean(event.disposition),
      correlation_keys: event.correlation_keys?.map(clean),
    }));
  } catch {
    return [];
  }
}

/** A derived value as PostgreSQL can keep it (no NUL in text or jsonb; see exchange-row's `withoutNul`). */
function clean<T>(value: T): T {
  return (typeof value === 'string' ? withoutNul(value) : value) as T;
}

/**
 * JSON text with NUL removed from every string. Plain JSON.stringify first: it writes NUL as `\u0000`,
 * so text without that sequence has none (a replacer function costs several times the serialising on
 * every value, and NUL is rare); otherwise again with the replacer.
 */
function jsonWithoutNul(value: unknown): string {
  const json = JSON.stringify(value);
  return json.includes('\\u0000') ? JSON.stringify(value, cleanStrings) : json;
}

/** A JSON.stringify replacer that cleans every string. */
function cleanStrings(_key: string, value: unknown): unknown {
  return clean(value);
}
