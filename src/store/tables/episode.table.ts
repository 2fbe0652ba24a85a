import type { Insertable, Selectable, Updateable } from 'kysely';
import type { GeneratedTimestamp, JsonWithDefault, Timestamp } from './column-types.js';

/** One patient contact (a 111 case), stitched from exchanges and ingested events. */
export interface EpisodeTable {
  id: string;
  opened_at: Timestamp;
  last_activity_at: Timestamp;
  patient_hash: string | null;
  disposition: string | null;
  deadline: Timestamp | null;
  deadline_source: string | null;
  attributes: JsonWithDefault;
  updated_at: GeneratedTimestamp;
}

/** A correlation key (trace id, correlation id, CDA document id, case id...) pointing at its episode. */
export interface EpisodeKeyTable {
  kind: string;
  value: string;
  episode_id: string;
  first_seen_at: Timestamp;
}

export type EpisodeRow = Selectable<EpisodeTable>;
export type NewEpisodeRow = Insertable<EpisodeTable>;
export type EpisodeUpdate = Updateable<EpisodeTable>;
export type EpisodeKeyRow = Selectable<EpisodeKeyTable>;
export type NewEpisodeKeyRow = Insertable<EpisodeKeyTable>;
