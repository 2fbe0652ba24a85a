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
    /** 0: every column; 1: without service, consumer and practice; 2: without disposition too (fewer, coarser rows). */
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
  // The timezone the days are in (one row); another timezone configured means a rebuild.
  await db.schema
    .createTable('report_rollup_settings')
    .addColumn('id', 'integer', (c) => c.primaryKey().check(sql`id = 1`))
    .addColumn('timezone', 'text', (c) => c.notNull())
    .addColumn('rules', 'text', (c) => c.notNull())
    .execute();

  // A built day whose events change is dirty. Only built days are marked: today's traffic (never built)
  // costs a lookup per statement, nothing more.
  const mark = (rows: string, column = 'occurred_at') => `
    insert into report_rollup_dirty (day)
    select distinct d.day from (select (${column} at time zone s.timezone)::date as day
      from ${rows}, report_rollup_settings s) d
    where exists (select 1 from report_rollup_days b where b.day = d.day)`;
  await sql
    .raw(
      `create function report_rollup_mark_new() returns trigger language plpgsql as $$
      begin ${mark('new_rows')}; return null; end $$`,
    )
    .execute(db);
  await sql
    .raw(
      `create function report_rollup_mark_old() returns trigger language plpgsql as $$
      begin ${mark('old_rows')}; return null; end $$`,
    )
    .execute(db);
  await sql
    .raw(
      `create function report_rollup_mark_changed() returns trigger language plpgsql as $$
      begin ${mark('(select occurred_at from old_rows union select occurred_at from new_rows) c')}; return null; end $$`,
    )
    .execute(db);
  // An episode's counts decide its referrals' measures (not booked, no slots…): its events' days.
  await sql
    .raw(
      `create function report_rollup_mark_episode() returns trigger language plpgsql as $$
      begin ${mark('(select e.occurred_at from events e join new_rows n on e.episode_id = n.id) c')}; return null; end $$`,
    )
    .execute(db);
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
    `create trigger episodes_rollup_update after update on episodes referencing new table as new_rows
      for each statement execute function report_rollup_mark_episode()`,
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
  for (const fn of ['new', 'old', 'changed', 'episode'])
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
