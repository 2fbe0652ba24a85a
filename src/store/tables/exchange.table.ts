import type { Insertable, Selectable, Updateable } from 'kysely';
import type { GeneratedTimestamp, JsonWithDefault, Timestamp, WithDefault } from './column-types.js';

/**
 * How a stored body is to be read: Brotli-compressed UTF-8 text or bytes (what capture writes), or
 * plain (rows from before bodies were compressed).
 */
export type BodyEncoding = 'br+utf8' | 'br+binary' | 'utf8' | 'binary';

/** How the collector's forward to the provider ended. */
export type TransportOutcome = 'ok' | 'timeout' | 'reset' | 'refused' | 'client_aborted';

/** One captured request/response pair, redacted before it was stored. */
export interface ExchangeTable {
  id: string;
  received_at: Timestamp;
  route: 'fhir' | 'ssp' | 'bars';
  provider_id: string | null;
  dialect: string | null;
  interaction: string | null;
  method: string;
  path: string;
  query: string | null;
  request_headers: JsonWithDefault<Record<string, string | string[]>>;
  /** The stored body, as `request_body_encoding` says (see stored-body.ts); null when none is kept. */
  request_body: Buffer | null;
  request_body_encoding: BodyEncoding | null;
  request_size: WithDefault<number>;
  request_truncated: WithDefault<boolean>;
  response_status: number | null;
  response_headers: JsonWithDefault<Record<string, string | string[]>>;
  response_body: Buffer | null;
  response_body_encoding: BodyEncoding | null;
  response_size: WithDefault<number>;
  response_truncated: WithDefault<boolean>;
  transport_outcome: TransportOutcome;
  consumer_org: string | null;
  consumer_asid: string | null;
  provider_asid: string | null;
  trace_id: string | null;
  correlation_id: string | null;
  request_id: string | null;
  upstream_started_at: Timestamp | null;
  first_byte_at: Timestamp | null;
  ended_at: Timestamp | null;
  total_ms: number | null;
  upstream_ms: number | null;
  episode_id: string | null;
  patient_hash: string | null;
  captured_at: GeneratedTimestamp;
}

export type ExchangeRow = Selectable<ExchangeTable>;
export type NewExchangeRow = Insertable<ExchangeTable>;
export type ExchangeUpdate = Updateable<ExchangeTable>;
