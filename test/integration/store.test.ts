import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { sql } from 'kysely';
import { newId } from '../../src/ids.js';
import { pendingMigrations, runMigrations } from '../../src/store/migrate.js';
import { PGliteThread } from '../../src/store/pglite-thread.js';
import { openStore } from '../../src/store/store.js';
import type { NewExchangeRow } from '../../src/store/tables/exchange.table.js';
import { migrations } from '../../migrations/index.js';
import { countRows, openTestStore, TEST_ENGINE, type TestStore } from '../helpers/store.js';

let store: TestStore;

beforeAll(async () => {
  store = await openTestStore();
});

afterAll(async () => {
  await store.dispose();
});

function exchange(overrides: Partial<NewExchangeRow> = {}): NewExchangeRow {
  return {
    id: newId(),
    received_at: new Date('2026-11-22T09:30:00.123Z'),
    route: 'fhir',
    provider_id: 'ed-north',
    method: 'GET',
    path: '/Slot',
    transport_outcome: 'ok',
    ...overrides,
  };
}

/** Resolves after `ms` milliseconds: lets one transaction sit open while another tries to run. */
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe(`the store on ${TEST_ENGINE}`, () => {
  it('is on the engine this run tests', () => {
    expect(store.engine).toBe(TEST_ENGINE);
  });

  it('has every migration applied, and migrating again applies nothing', async () => {
    expect(await pendingMigrations(store.db)).toEqual([]);
    expect(await runMigrations(store.db)).toEqual([]);
    const applied = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(
      store.db,
    );
    expect(applied.rows.map((r) => r.name)).toEqual(Object.keys(migrations).sort());
  });

  it('has the tables and the time-range indexes the later issues need', async () => {
    // Not kysely's introspection: it reads every schema of the server's database, and raises when a test
    // file running beside this one drops its schema mid-read.
    const tables = await sql<{ name: string }>`
      select tablename as name from pg_tables where schemaname = current_schema()`.execute(store.db);
    expect(tables.rows.map((t) => t.name).sort()).toEqual(
      expect.arrayContaining([
        'access_audit',
        'episode_keys',
        'episodes',
        'events',
        'exchanges',
        'ingest_records',
      ]),
    );
    const indexes = await sql<{ indexname: string }>`
      select indexname from pg_indexes where schemaname = current_schema() order by indexname`.execute(
      store.db,
    );
    expect(indexes.rows.map((r) => r.indexname)).toEqual(
      expect.arrayContaining([
        'exchanges_provider_received_at_idx',
        'exchanges_interaction_received_at_idx',
        'events_type_occurred_at_idx',
        'events_provider_type_occurred_at_idx',
      ]),
    );
  });

  it('keys exchanges and events by id and time, so they can be partitioned by month later', async () => {
    const keys = await sql<{ table_name: string; columns: string }>`
      select tc.table_name, string_agg(kcu.column_name, ',' order by kcu.ordinal_position) as columns
      from information_schema.table_constraints tc
      join information_schema.key_column_usage kcu
        on kcu.constraint_name = tc.constraint_name and kcu.table_schema = tc.table_schema
      where tc.constraint_type = 'PRIMARY KEY' and tc.table_schema = current_schema()
        and tc.table_name in ('exchanges', 'events')
      group by tc.table_name order by tc.table_name`.execute(store.db);
    expect(keys.rows).toEqual([
      { table_name: 'events', columns: 'id,occurred_at' },
      { table_name: 'exchanges', columns: 'id,received_at' },
    ]);
  });

  it('reads back the same JavaScript types on either engine', async () => {
    const row = exchange({
      request_headers: { accept: 'application/fhir+json', 'x-many': ['a', 'b'] },
      request_size: 5_000_000_000,
      total_ms: 1.25,
    });
    await store.db.insertInto('exchanges').values(row).execute();
    const read = await store.db
      .selectFrom('exchanges')
      .selectAll()
      .where('id', '=', row.id)
      .executeTakeFirstOrThrow();
    expect(read.received_at).toEqual(new Date('2026-11-22T09:30:00.123Z'));
    expect(read.request_headers).toEqual({ accept: 'application/fhir+json', 'x-many': ['a', 'b'] });
    expect(read.request_size).toBe(5_000_000_000);
    expect(read.response_size).toBe(0);
    expect(read.total_ms).toBe(1.25);
    expect(read.request_truncated).toBe(false);
    expect(read.captured_at).toBeInstanceOf(Date);

    const counted = await store.db
      .selectFrom('exchanges')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('id', '=', row.id)
      .executeTakeFirstOrThrow();
    expect(counted.n).toBe(1);

    const deleted = await store.db.deleteFrom('exchanges').where('id', '=', row.id).executeTakeFirst();
    expect(deleted.numDeletedRows).toBe(1n);
  });

  it('keeps text[] columns as arrays', async () => {
    const id = newId();
    await store.db
      .insertInto('access_audit')
      .values({
        id,
        at: new Date(),
        token_name: 'ops',
        roles: ['inspect', 'report'],
        method: 'GET',
        path: '/api/x',
        status: 200,
      })
      .execute();
    const read = await store.db
      .selectFrom('access_audit')
      .select(['roles', 'resource_ids'])
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    expect(read).toEqual({ roles: ['inspect', 'report'], resource_ids: [] });
  });

  it('rejects an event whose source kind is not known', async () => {
    await expect(
      store.db
        .insertInto('events')
        .values({
          id: newId(),
          occurred_at: new Date(),
          type: 'slot.searched',
          source_kind: 'guess' as 'ingest',
          source_id: newId(),
          rule_version: '1',
        })
        .execute(),
    ).rejects.toThrow(/events_source_kind_check/);
  });

  it('rolls back a failed transaction completely', async () => {
    const row = exchange();
    await expect(
      store.db.transaction().execute(async (trx) => {
        await trx.insertInto('exchanges').values(row).execute();
        throw new Error('abandon');
      }),
    ).rejects.toThrow('abandon');
    expect(await store.db.selectFrom('exchanges').select('id').where('id', '=', row.id).execute()).toEqual(
      [],
    );
  });

  it('keeps concurrent transactions isolated: neither sees nor undoes the other', async () => {
    const kept = exchange({ path: '/kept' });
    const undone = exchange({ path: '/undone' });
    let seenByOther: string[] | undefined;
    let undoneInserted!: () => void;
    const undoneIsOpen = new Promise<void>((resolve) => (undoneInserted = resolve));

    // Transaction A inserts a row, holds its transaction open for a while, then rolls back.
    const a = store.db
      .transaction()
      .execute(async (trx) => {
        await trx.insertInto('exchanges').values(undone).execute();
        undoneInserted();
        await pause(150);
        throw new Error('roll back A');
      })
      .catch((error: Error) => error.message);

    // Transaction B starts while A is open, inserts its own row, and looks for A's.
    await undoneIsOpen;
    const b = store.db.transaction().execute(async (trx) => {
      await trx.insertInto('exchanges').values(kept).execute();
      const rows = await trx
        .selectFrom('exchanges')
        .select('path')
        .where('id', 'in', [kept.id, undone.id])
        .execute();
      seenByOther = rows.map((r) => r.path);
    });

    expect(await a).toBe('roll back A');
    await b;
    // B never saw A's uncommitted row, and A's rollback did not take B's row with it.
    expect(seenByOther).toEqual(['/kept']);
    const after = await store.db
      .selectFrom('exchanges')
      .select('path')
      .where('id', 'in', [kept.id, undone.id])
      .execute();
    expect(after.map((r) => r.path)).toEqual(['/kept']);
  });

  it('serves many concurrent queries and transactions without losing any', async () => {
    const before = await countRows(store, 'exchanges');
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        i % 2 === 0
          ? store.db
              .insertInto('exchanges')
              .values(exchange({ path: `/plain/${i}` }))
              .execute()
          : store.db.transaction().execute(async (trx) => {
              await trx
                .insertInto('exchanges')
                .values(exchange({ path: `/trx/${i}/a` }))
                .execute();
              await trx
                .insertInto('exchanges')
                .values(exchange({ path: `/trx/${i}/b` }))
                .execute();
            }),
      ),
    );
    expect(await countRows(store, 'exchanges')).toBe(before + 20 + 40);
  });
});

if (TEST_ENGINE === 'postgres') {
  describe('PostgreSQL: several instances on one database', () => {
    it('applies each migration once when two instances migrate at the same moment', async () => {
      const fresh = await openTestStore({ migrate: false });
      const second = await openStore({
        databaseUrl: process.env.TEST_DATABASE_URL!,
        schema: await currentSchema(fresh),
      });
      try {
        const [first, other] = await Promise.all([runMigrations(fresh.db), runMigrations(second.db)]);
        expect([...first, ...other].sort()).toEqual(Object.keys(migrations).sort());
        const applied = await sql<{ n: number }>`select count(*)::int as n from kysely_migration`.execute(
          fresh.db,
        );
        expect(applied.rows[0]!.n).toBe(Object.keys(migrations).length);
      } finally {
        await second.close();
        await fresh.dispose();
      }
    });

    it('survives the server closing its connections, and carries on', async () => {
      const errors: Error[] = [];
      const fresh = await openTestStore();
      const schema = await currentSchema(fresh);
      const url = new URL(process.env.TEST_DATABASE_URL!);
      const name = `victim_${schema}`;
      url.searchParams.set('application_name', name);
      const own = await openStore({
        databaseUrl: url.toString(),
        schema,
        onConnectionError: (e) => errors.push(e),
      });
      try {
        await sql`select 1`.execute(own.db); // an idle connection now sits in the pool
        const killed = await sql<{ n: number }>`select count(pg_terminate_backend(pid))::int as n
          from pg_stat_activity where application_name = ${name}`.execute(fresh.db);
        expect(killed.rows[0]!.n).toBe(1);
        await new Promise((resolve) => setTimeout(resolve, 200));
        expect(errors.length).toBeGreaterThan(0);
        const again = await sql<{ ok: number }>`select 1 as ok`.execute(own.db);
        expect(again.rows).toEqual([{ ok: 1 }]);
      } finally {
        await own.close();
        await fresh.dispose();
      }
    });

    it('survives losing a connection in the middle of a transaction: that transaction fails, nothing else', async () => {
      const fresh = await openTestStore();
      const schema = await currentSchema(fresh);
      const url = new URL(process.env.TEST_DATABASE_URL!);
      const name = `midway_${schema}`;
      url.searchParams.set('application_name', name);
      const own = await openStore({ databaseUrl: url.toString(), schema });
      try {
        const outcome = own.db.transaction().execute(async (trx) => {
          await sql`select 1`.execute(trx);
          // Between two queries, the session is ended from outside (an 'error' event nobody awaits).
          await sql`select pg_terminate_backend(pid) from pg_stat_activity where application_name = ${name}`.execute(
            fresh.db,
          );
          await new Promise((resolve) => setTimeout(resolve, 200));
          await sql`select 2`.execute(trx);
        });
        await expect(outcome).rejects.toThrow();
        const again = await sql<{ ok: number }>`select 1 as ok`.execute(own.db);
        expect(again.rows).toEqual([{ ok: 1 }]);
      } finally {
        await own.close();
        await fresh.dispose();
      }
    });
  });
}

async function currentSchema(target: TestStore): Promise<string> {
  const result = await sql<{ schema: string }>`select current_schema() as schema`.execute(target.db);
  return result.rows[0]!.schema;
}

describe('the embedded PGlite store', () => {
  it('lets one owner at a time open a data directory, and takes over a lock its dead owner left', async () => {
    const dir = path.join(mkdtempSync(path.join(tmpdir(), 'collector-lock-')), 'pglite');
    const first = await openStore({ pgliteDir: dir });
    await expect(openStore({ pgliteDir: dir })).rejects.toThrow(
      `The embedded store ${dir} is in use by this process already (lock ${dir}.lock)`,
    );
    await first.close();
    // A lock whose process has gone (pid 2^22 + 1 is above Linux's pid limit) is stale.
    writeFileSync(`${dir}.lock`, '4194305\n');
    const second = await openStore({ pgliteDir: dir });
    expect(readFileSync(`${dir}.lock`, 'utf8').trim()).toBe(String(process.pid));
    await second.close();
    expect(existsSync(`${dir}.lock`)).toBe(false);
  });

  it('closes PGlite even when no query ran, so a process that opened its directory twice can exit', async () => {
    // In a child process, because what failed was the exit: Kysely closed its driver only after a query.
    const dir = path.join(mkdtempSync(path.join(tmpdir(), 'collector-exit-')), 'pglite');
    const script = [
      `import { openStore } from ${JSON.stringify(path.resolve('src/store/store.ts'))};`,
      `for (let i = 0; i < 2; i++) await (await openStore({ pgliteDir: ${JSON.stringify(dir)} })).close();`,
      `console.log('closed twice');`,
    ].join('\n');
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script],
      { timeout: 25_000, env: { ...process.env, NODE_OPTIONS: '' } },
    );
    expect(stdout.trim()).toBe('closed twice');
  });

  it('runs its queries on a thread of its own: the caller’s event loop turns while one runs', async () => {
    const store = await openStore({});
    try {
      let turns = 0;
      const ticker = setInterval(() => (turns += 1), 10);
      const query = sql`select pg_sleep(0.5)`.execute(store.db);
      const turnsWhenAnswered = await query.then(() => turns);
      clearInterval(ticker);
      // On the caller's thread, PGlite's WebAssembly would have held the loop for the whole half second.
      expect(turnsWhenAnswered).toBeGreaterThan(5);
    } finally {
      await store.close();
    }
  });

  it('fails every query, at once and saying why, once its thread has died, and tells its owner', async () => {
    const deaths: string[] = [];
    const thread = await PGliteThread.start(undefined, (error) => deaths.push(error.message));
    expect((await thread.query<{ one: number }>('select 1 as one', [])).rows).toEqual([{ one: 1 }]);
    await thread.crashForTest();
    await expect(thread.query('select 1', [])).rejects.toThrow("the embedded store's thread exited");
    expect(deaths).toEqual(["the embedded store's thread exited (code 1)"]);
    await thread.close();
  });

  it('hands PostgreSQL’s error fields back with a failed query', async () => {
    const thread = await PGliteThread.start();
    try {
      await expect(thread.query('select * from no_such_table', [])).rejects.toMatchObject({
        message: 'relation "no_such_table" does not exist',
        code: '42P01',
      });
    } finally {
      await thread.close();
    }
  });

  it('keeps its data in the data directory across restarts', async () => {
    const dir = path.join(mkdtempSync(path.join(tmpdir(), 'collector-pglite-')), 'pglite');
    const row = exchange({ path: '/survives' });
    const first = await openStore({ pgliteDir: dir });
    await runMigrations(first.db);
    await first.db.insertInto('exchanges').values(row).execute();
    await first.close();

    const again = await openStore({ pgliteDir: dir });
    try {
      expect(await pendingMigrations(again.db)).toEqual([]);
      const read = await again.db.selectFrom('exchanges').select('path').where('id', '=', row.id).execute();
      expect(read).toEqual([{ path: '/survives' }]);
    } finally {
      await again.close();
    }
  });
});
