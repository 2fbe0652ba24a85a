import { sql, type Kysely } from 'kysely';
import { EVENT_COLUMNS, EXCHANGE_COLUMNS } from '../capture/captured.js';
import type { Database } from './database.js';

const EXCHANGE_LIST = sql.raw(EXCHANGE_COLUMNS.join(', '));
const EVENT_LIST = sql.raw(EVENT_COLUMNS.join(', '));

/**
 * Inserts exchanges given as one JSON array of rows in UTF-8 (capturedOf's, joined): PostgreSQL reads
 * the rows itself, so nothing is compiled or serialised per value here. The array goes as it is: pg
 * sends a buffer as a binary parameter, which for json is its text; PGlite is given it as text (see
 * `openStore`). Idempotent by exchange id.
 */
export async function insertExchangesJson(db: Kysely<Database>, rows: Uint8Array): Promise<void> {
  await sql`insert into exchanges (${EXCHANGE_LIST}) select ${EXCHANGE_LIST}
            from json_populate_recordset(null::exchanges, ${rows}::json)
            on conflict (id, received_at) do nothing`.execute(db);
}

/** Inserts events given as one JSON array in UTF-8 (eventsJson's). Idempotent by event id. */
export async function insertEventsJson(db: Kysely<Database>, events: Uint8Array): Promise<void> {
  await sql`insert into events (${EVENT_LIST}) select ${EVENT_LIST}
            from json_populate_recordset(null::events, ${events}::json)
            on conflict do nothing`.execute(db);
}
