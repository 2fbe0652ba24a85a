import { sql, type Kysely } from 'kysely';

/*
 * Inspection (GET /api/exchanges) lists exchanges newest first under one filter at a time: each filter a
 * support engineer reaches for has an index led by its column and ordered by time, so a page is read
 * straight off the index however rare the value. A booking's outcome lives on its `booking.attempted`
 * event: a partial index over just those events finds the exchanges of a rare outcome (`duplicate`)
 * without walking every booking.
 */

const EXCHANGE_INDEXES: [name: string, columns: string[]][] = [
  ['exchanges_dialect_received_at_idx', ['dialect', 'received_at']],
  ['exchanges_status_received_at_idx', ['response_status', 'received_at']],
  ['exchanges_transport_received_at_idx', ['transport_outcome', 'received_at']],
  ['exchanges_consumer_received_at_idx', ['consumer_org', 'received_at']],
];

export async function up(db: Kysely<any>): Promise<void> {
  for (const [name, columns] of EXCHANGE_INDEXES)
    await db.schema.createIndex(name).on('exchanges').columns(columns).execute();
  await db.schema.createIndex('exchanges_request_id_idx').on('exchanges').column('request_id').execute();
  await sql`create index events_booking_outcome_idx on events ((attributes->>'outcome'), occurred_at)
            where type = 'booking.attempted'`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('events_booking_outcome_idx').execute();
  await db.schema.dropIndex('exchanges_request_id_idx').execute();
  for (const [name] of EXCHANGE_INDEXES) await db.schema.dropIndex(name).execute();
}
