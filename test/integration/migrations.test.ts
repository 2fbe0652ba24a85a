import { sql } from 'kysely';
import { withReadableBodies } from '../../src/capture/stored-body.js';
import { migrateTo, runMigrations } from '../../src/store/migrate.js';
import { openTestStore, type TestStore } from '../helpers/store.js';

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

    expect(await runMigrations(store.db)).toEqual(['0002_compressed_bodies']);
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
