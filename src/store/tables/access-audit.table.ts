import type { Insertable, Selectable } from 'kysely';
import type { JsonWithDefault, Timestamp, WithDefault } from './column-types.js';

/** Who read patient-level data, what they asked for, when, and how much came back. */
export interface AccessAuditTable {
  id: string;
  at: Timestamp;
  token_name: string;
  roles: string[];
  method: string;
  path: string;
  query: JsonWithDefault;
  resource_ids: WithDefault<string[]>;
  result_count: number | null;
  status: number;
  request_id: string | null;
}

export type AccessAuditRow = Selectable<AccessAuditTable>;
export type NewAccessAuditRow = Insertable<AccessAuditTable>;
