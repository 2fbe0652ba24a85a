import type { Generated } from 'kysely';

/** One measure's rows of one local day and one combination of dimensions, counted (src/reports/rollup.ts). */
export interface ReportRollupTable {
  level: number;
  day: string;
  measure: string;
  provider_id: string | null;
  service_id: string | null;
  consumer_org: string | null;
  disposition: string | null;
  outcome: string | null;
  error_code: string | null;
  activity: string | null;
  practice: string | null;
  count_key: string | null;
  any_flag: boolean;
  all_flag: boolean;
  latency_ms: number | null;
  n: string | number;
}

/** A local day whose roll-ups are built. */
export interface ReportRollupDayTable {
  day: string;
  built_at: Generated<Date>;
}

/** A built day changed since (a trigger marks it); rebuilt, the marks seen are removed. */
export interface ReportRollupDirtyTable {
  id: Generated<string>;
  day: string;
}

/** The timezone the days are in and the fingerprint of the measures they were counted with. */
export interface ReportRollupSettingsTable {
  id: number;
  timezone: string;
  rules: string;
}
