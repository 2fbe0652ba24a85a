import { sql } from 'kysely';
import { withReadableBodies } from '../../src/capture/stored-body.js';
import pg from 'pg';
import { migrateTo, pendingMigrations, runMigrations } from '../../src/store/migrate.js';
import { openTestStore, TEST_ENGINE, type TestStore } from '../helpers/store.js';

let store: TestStore;

beforeAll(async () => {
  store = await openTestStore({ migrate: false });
  await migrateTo(store.db, '0001_initial');
});

afterAll(() => store.dispose());

describe('0002_compressed_bodies', () => {
  it('keeps every body written before it: text stays text, base64 becomes bytes; down goes back', async () => {
    const binary = Buffer.from([0, 1, 2, 250, 255]);
    const row = (id: string, request: string | null, encoding: string | null) =>
      sql`insert into exchanges (id, received_at, route, method, path, transport_outcome, request_body, request_body_encoding, response_body, response_body_encoding)
          values (${id}, now(), 'fhir', 'POST', '/Appointment', 'ok', ${request}, ${encoding}, '{"resourceType":"Bundle","note":"£5"}', 'utf8')`.execute(
        store.db,
      );
    const ids = ['018f0000-0000-7000-8000-000000000001', '018f0000-0000-7000-8000-000000000002'];
    await row(ids[0]!, '{"resourceType":"Appointment"}', 'utf8');
    await row(ids[1]!, binary.toString('base64'), 'base64');

    await migrateTo(store.db, '0002_compressed_bodies');
    const after = (
      await store.db.selectFrom('exchanges').selectAll().where('id', 'in', ids).orderBy('id').execute()
    ).map(withReadableBodies);
    expect(after.map((r) => [r.request_body, r.request_body_encoding, r.response_body])).toEqual([
      ['{"resourceType":"Appointment"}', 'utf8', '{"resourceType":"Bundle","note":"£5"}'],
      [binary, 'binary', '{"resourceType":"Bundle","note":"£5"}'],
    ]);

    await migrateTo(store.db, '0001_initial');
    const { rows } = await sql<{ request_body: string; request_body_encoding: string }>`
      select request_body, request_body_encoding from exchanges where id in (${ids[0]}, ${ids[1]}) order by id`.execute(
      store.db,
    );
    expect(rows).toEqual([
      { request_body: '{"resourceType":"Appointment"}', request_body_encoding: 'utf8' },
      { request_body: binary.toString('base64'), request_body_encoding: 'base64' },
    ]);
    await runMigrations(store.db);
  });
});

describe('0003_episode_stitching', () => {
  it('gives events their correlation keys and encounter, unstitched ones an index; down takes them away', async () => {
    await migrateTo(store.db, '0002_compressed_bodies');
    const id = '018f0000-0000-7000-8000-0000000000e1';
    const source = '018f0000-0000-7000-8000-0000000000e2';
    await sql`insert into events (id, occurred_at, type, source_kind, source_id, rule_version)
              values (${id}, now(), 'slot.searched', 'exchange', ${source}, 'old')`.execute(store.db);
    expect(await runMigrations(store.db)).toEqual([
      '0003_episode_stitching',
      '0004_report_rollups',
      '0005_inspection',
    ]);
    const event = await store.db
      .selectFrom('events')
      .select(['correlation_keys', 'encounter_id'])
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    expect(event).toEqual({ correlation_keys: [], encounter_id: null });
    const indexes = async () =>
      (
        await sql<{
          indexname: string;
        }>`select indexname from pg_indexes where tablename = 'events' and schemaname = current_schema()`.execute(
          store.db,
        )
      ).rows.map((r) => r.indexname);
    expect(await indexes()).toContain('events_unstitched_idx');

    await migrateTo(store.db, '0002_compressed_bodies');
    expect(await indexes()).not.toContain('events_unstitched_idx');
    const { rows } = await sql<{ column_name: string }>`
      select column_name from information_schema.columns where table_name = 'events' and table_schema = current_schema()`.execute(
      store.db,
    );
    expect(rows.map((r) => r.column_name)).not.toContain('correlation_keys');
    await runMigrations(store.db);
  });
});

describe('a database shared with sessions that drop schemas', () => {
  it('migrates while other sessions create and drop schemas and tables beside ours', async () => {
    // On PGlite there is one connection and no other session; the migrator's view still has to work.
    const other =
      TEST_ENGINE === 'postgres' ? new pg.Client({ connectionString: process.env.TEST_DATABASE_URL }) : null;
    await other?.connect();
    let churning = true;
    let churned = 0;
    const churn = (async () => {
      while (churning && other) {
        const name = `churn_${process.pid}_${churned}`;
        await other.query(`create schema ${name}`);
        await other.query(`create table ${name}.t (id serial primary key, note text)`);
        await other.query(`drop schema ${name} cascade`);
        churned += 1;
      }
    })();
    try {
      for (let i = 0; i < 150; i += 1) {
        expect(await pendingMigrations(store.db)).toEqual([]);
        expect(await runMigrations(store.db)).toEqual([]);
      }
    } finally {
      churning = false;
      await churn;
      await other?.end();
    }
    if (other) expect(churned).toBeGreaterThan(10);
  });
});
