import type { Insertable, Selectable, Updateable } from 'kysely';
import type { GeneratedTimestamp, JsonWithDefault, Timestamp, WithDefault } from './column-types.js';

/** A metric event derived from an exchange or ingested off the wire (taxonomy in DESIGN.md). */
export interface EventTable {
  id: string;
  occurred_at: Timestamp;
  type: string;
  source_kind: 'exchange' | 'ingest';
  /** The evidence: the exchange id or the ingest record id the event was derived from. */
  source_id: string;
  ordinal: WithDefault<number>;
  rule_version: string;
  provider_id: string | null;
  service_id: string | null;
  consumer_org: string | null;
  disposition: string | null;
  deadline: Timestamp | null;
  deadline_source: string | null;
  episode_id: string | null;
  patient_hash: string | null;
  attributes: JsonWithDefault;
  data_quality: WithDefault<string[]>;
  /** Correlation keys (`kind:value`) the event was derived with; episodes are stitched by them. */
  correlation_keys: WithDefault<string[]>;
  /** The encounter (one call) it belongs to, once stitched: the id of the encounter's first event. */
  encounter_id: string | null;
  recorded_at: GeneratedTimestamp;
}

export type EventRow = Selectable<EventTable>;
export type NewEventRow = Insertable<EventTable>;
export type EventUpdate = Updateable<EventTable>;
