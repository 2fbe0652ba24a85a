import type { AccessAuditTable } from './tables/access-audit.table.js';
import type { EpisodeKeyTable, EpisodeTable } from './tables/episode.table.js';
import type { EventTable } from './tables/event.table.js';
import type { ExchangeTable } from './tables/exchange.table.js';
import type { IngestRecordTable } from './tables/ingest-record.table.js';
import type {
  ReportRollupDayTable,
  ReportRollupDirtyTable,
  ReportRollupSettingsTable,
  ReportRollupTable,
} from './tables/report-rollup.table.js';

/** The whole schema as Kysely sees it; one interface for both engines. */
export interface Database {
  exchanges: ExchangeTable;
  events: EventTable;
  episodes: EpisodeTable;
  episode_keys: EpisodeKeyTable;
  ingest_records: IngestRecordTable;
  access_audit: AccessAuditTable;
  report_rollups: ReportRollupTable;
  report_rollup_days: ReportRollupDayTable;
  report_rollup_dirty: ReportRollupDirtyTable;
  report_rollup_settings: ReportRollupSettingsTable;
}
