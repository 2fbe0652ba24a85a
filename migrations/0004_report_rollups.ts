import { sql, type Kysely } from 'kysely';

/*
 * Report roll-ups (src/reports/rollup.ts): each measure's rows counted per local day of the reporting
 * timezone and per dimension, so a report over a year reads a few hundred thousand roll-up rows rather
 * than millions of events. A day is read from the roll-ups only once built and while no change has
 * touched it since: triggers on events and episodes mark a built day dirty in the same transaction as the
 * change (a late ingest, a stitch, a reprocess), and until it is rebuilt reports count it from the
 * events. One statement per query (PGlite's extended protocol takes no multi-statement strings).
 */

export async function up(db: Kysely<any>): Promise<void> {
  // Reports over a period and the roll-up builds scan events by time.
  await db.schema.createIndex('events_occurred_at_idx').on('events').column('occurred_at').execute();
  await db.schema
    .createTable('report_rollups')
    /**
     * 0: every column; 1: without service, consumer and practice; 2: without disposition too; 3: provider
     * and service (rollup.ts, LEVELS; distinct measures keep fewer, KEYED_LEVELS). Each plus 10: the same
     * per whole month (`day` its first day).
     */
    .addColumn('level', 'smallint', (c) => c.notNull())
    .addColumn('day', 'date', (c) => c.notNull())
    .addColumn('measure', 'text', (c) => c.notNull())
    .addColumn('provider_id', 'text')
    .addColumn('service_id', 'text')
    .addColumn('consumer_org', 'text')
    .addColumn('disposition', 'text')
    .addColumn('outcome', 'text')
    .addColumn('error_code', 'text')
    .addColumn('activity', 'text')
    .addColumn('practice', 'text')
    /** The key a distinct measure counts (a slot, a service, a data-quality flag); null when each row is an event. */
    .addColumn('count_key', 'text')
    .addColumn('any_flag', 'boolean', (c) => c.notNull())
    .addColumn('all_flag', 'boolean', (c) => c.notNull())
    /** An upstream latency to the millisecond (the latency histogram). */
    .addColumn('latency_ms', 'integer')
    .addColumn('n', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('report_rollups_measure_level_day_idx')
    .on('report_rollups')
    .columns(['measure', 'level', 'day'])
    .execute();
  await db.schema.createIndex('report_rollups_day_idx').on('report_rollups').column('day').execute();
  await db.schema
    .createTable('report_rollup_days')
    .addColumn('day', 'date', (c) => c.primaryKey())
    .addColumn('built_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema
    .createTable('report_rollup_dirty')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('day', 'date', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('report_rollup_dirty_day_idx')
    .on('report_rollup_dirty')
    .column('day')
    .execute();
  // The timezone the days are in (one row); another timezone configured means a rebuild.
  await db.schema
    .createTable('report_rollup_settings')
    .addColumn('id', 'integer', (c) => c.primaryKey().check(sql`id = 1`))
    .addColumn('timezone', 'text', (c) => c.notNull())
    .addColumn('rules', 'text', (c) => c.notNull())
    .execute();

  // A past day whose events change is dirty, built or not: a change that commits while a day is being
  // built for the first time stays marked, and the day is built again. Today's traffic (never built: a day
  // is built an hour after it ends) costs a comparison per statement, nothing more.
  const mark = (rows: string) => `
    insert into report_rollup_dirty (day)
    select distinct d.day from (select (occurred_at at time zone s.timezone)::date as day, s.timezone
      from ${rows}, report_rollup_settings s) d
    where d.day < (clock_timestamp() at time zone d.timezone)::date`;
  const fn = (name: string, rows: string) =>
    sql
      .raw(
        `create function ${name}() returns trigger language plpgsql as $$
        begin ${mark(rows)}; return null; end $$`,
      )
      .execute(db);
  await fn('report_rollup_mark_new', 'new_rows');
  await fn('report_rollup_mark_old', 'old_rows');
  // An update that changes nothing (a stitch writing what was there) marks nothing.
  await fn(
    'report_rollup_mark_changed',
    `(select o.occurred_at from old_rows o join new_rows n on n.id = o.id where o is distinct from n
      union select n.occurred_at from old_rows o join new_rows n on n.id = o.id where o is distinct from n) c`,
  );
  // An episode's counts decide its referrals' measures (not booked, no slots…): its events' days, when
  // its counts change.
  await fn(
    'report_rollup_mark_episode',
    `(select e.occurred_at from events e join new_rows n on e.episode_id = n.id) c`,
  );
  await fn(
    'report_rollup_mark_episode_changed',
    `(select e.occurred_at from events e join new_rows n on e.episode_id = n.id join old_rows o on o.id = n.id
      where o.attributes is distinct from n.attributes) c`,
  );
  for (const statement of [
    `create trigger events_rollup_insert after insert on events referencing new table as new_rows
      for each statement execute function report_rollup_mark_new()`,
    `create trigger events_rollup_delete after delete on events referencing old table as old_rows
      for each statement execute function report_rollup_mark_old()`,
    `create trigger events_rollup_update after update on events
      referencing old table as old_rows new table as new_rows
      for each statement execute function report_rollup_mark_changed()`,
    `create trigger episodes_rollup_insert after insert on episodes referencing new table as new_rows
      for each statement execute function report_rollup_mark_episode()`,
    `create trigger episodes_rollup_update after update on episodes
      referencing old table as old_rows new table as new_rows
      for each statement execute function report_rollup_mark_episode_changed()`,
  ])
    await sql.raw(statement).execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const [trigger, table] of [
    ['events_rollup_insert', 'events'],
    ['events_rollup_delete', 'events'],
    ['events_rollup_update', 'events'],
    ['episodes_rollup_insert', 'episodes'],
    ['episodes_rollup_update', 'episodes'],
  ])
    await sql.raw(`drop trigger if exists ${trigger} on ${table}`).execute(db);
  for (const fn of ['new', 'old', 'changed', 'episode', 'episode_changed'])
    await sql.raw(`drop function if exists report_rollup_mark_${fn}()`).execute(db);
  for (const table of [
    'report_rollup_settings',
    'report_rollup_dirty',
    'report_rollup_days',
    'report_rollups',
  ])
    await db.schema.dropTable(table).execute();
  await db.schema.dropIndex('events_occurred_at_idx').execute();
}
