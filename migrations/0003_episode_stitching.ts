import { sql, type Kysely } from 'kysely';

/*
 * Episodes are stitched after events are written (src/derive/episode-stitcher.ts), so each event keeps
 * the correlation keys it was derived with (`kind:value`, e.g. `trace:…`, `servicerequest:…`) and, once
 * stitched, the encounter (one call with the patient on the phone) it belongs to. Events not yet stitched
 * (no episode) are found through a partial index that stays as small as the backlog.
 */

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('events')
    .addColumn('correlation_keys', sql`text[]`, (c) => c.notNull().defaultTo(sql`'{}'::text[]`))
    .execute();
  await db.schema.alterTable('events').addColumn('encounter_id', 'text').execute();
  await db.schema
    .createIndex('events_unstitched_idx')
    .on('events')
    .column('occurred_at')
    .where(sql.ref('episode_id'), 'is', null)
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('events_unstitched_idx').execute();
  await db.schema.alterTable('events').dropColumn('encounter_id').execute();
  await db.schema.alterTable('events').dropColumn('correlation_keys').execute();
}
