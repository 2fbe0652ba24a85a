import type { AccessAuditTable } from './tables/access-audit.table.js';
import type { EpisodeKeyTable, EpisodeTable } from './tables/episode.table.js';
import type { EventTable } from './tables/event.table.js';
import type { ExchangeTable } from './tables/exchange.table.js';
import type { IngestRecordTable } from './tables/ingest-record.table.js';

/** The whole schema as Kysely sees it; one interface for both engines. */
export interface Database {
  exchanges: ExchangeTable;
  events: EventTable;
  episodes: EpisodeTable;
  episode_keys: EpisodeKeyTable;
  ingest_records: IngestRecordTable;
  access_audit: AccessAuditTable;
}
