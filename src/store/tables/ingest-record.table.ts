import type { Insertable, Selectable } from 'kysely';
import type { Json, Timestamp, WithDefault } from './column-types.js';

/** An event posted to the ingest API, kept as received (patient identifiers already hashed). */
export interface IngestRecordTable {
  id: string;
  token_name: string;
  client_event_id: string;
  type: string;
  occurred_at: Timestamp;
  received_at: Timestamp;
  late: WithDefault<boolean>;
  payload: Json;
}

export type IngestRecordRow = Selectable<IngestRecordTable>;
export type NewIngestRecordRow = Insertable<IngestRecordTable>;
