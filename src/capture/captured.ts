import { deriveEvents, type DerivableExchange } from '../derive/derive.js';
import type { DerivationTables } from '../derive/tables.js';
import type { ObservedExchange } from '../proxy/exchange.js';
import type { NewEventRow } from '../store/tables/event.table.js';
import type { ExchangeRow, NewExchangeRow } from '../store/tables/exchange.table.js';
import { exchangeRow, withoutNul } from './exchange-row.js';
import type { RedactionRules } from './redact.js';
import { withReadableBodies } from './stored-body.js';

/** One captured exchange as it is written: its redacted row and the events derived from it, in one transaction. */
export interface CapturedExchange {
  row: NewExchangeRow;
  events: NewEventRow[];
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
    consumer_org: row.consumer_org ?? null,
    patient_hash: row.patient_hash ?? null,
  };
}

/**
 * Redacts an observed exchange and derives its events from what is stored (so events rebuilt later
 * from the store are the same ones).
 */
export function captureExchange(
  observed: ObservedExchange,
  rules: RedactionRules,
  tables: DerivationTables,
): CapturedExchange {
  const { row, texts } = exchangeRow(observed, rules);
  const events = safely(() => deriveEvents(derivable(row, texts.request, texts.response), tables));
  // jsonb values leave here as JSON text: made once, on the worker, they cross to the main thread as one
  // string each and go to the database as they are (the main thread neither copies nor serialises them).
  return {
    row: {
      ...row,
      request_headers: JSON.stringify(row.request_headers ?? {}),
      response_headers: JSON.stringify(row.response_headers ?? {}),
    },
    events: events.map((event) => ({
      ...event,
      attributes: JSON.stringify(event.attributes ?? {}, cleanStrings),
    })),
  };
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

/** A JSON.stringify replacer that cleans every string. */
function cleanStrings(_key: string, value: unknown): unknown {
  return clean(value);
}
