import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createLogger } from '../../src/logger.js';
import { startCollector, type RunningCollector } from '../../src/server.js';
import { testConfig } from '../helpers/app.js';
import { adminQuery, createTestDatabase, TEST_ENGINE } from '../helpers/store.js';

// The store goes away in the middle of proxied traffic. On PostgreSQL that is real: the database stops
// taking connections and its sessions are ended. On PGlite, the store stops answering: its one
// connection is held by someone else.
/** Sends `n` slot searches through the collector one after another, keeping each status. */
async function sendSearches(url: string, n: number, statuses: number[]): Promise<void> {
  for (let i = 0; i < n; i++) {
    const res = await fetch(`${url}/fhir/sandbox-stu3/Slot?service=2000011148&status=free`);
    await res.arrayBuffer();
    statuses.push(res.status);
  }
}

/** Every request was answered by the provider, and each exchange is in the store exactly once. */
async function expectEveryExchangeOnce(
  collector: RunningCollector,
  statuses: number[],
  n: number,
): Promise<void> {
  expect(statuses).toHaveLength(n);
  expect(statuses.every((s) => s === 200)).toBe(true);
  const rows = await collector.store.db
    .selectFrom('exchanges')
    .select((eb) => [eb.fn.countAll<number>().as('n'), eb.fn.count<number>('id').distinct().as('distinct')])
    .executeTakeFirstOrThrow();
  expect(rows).toEqual({ n, distinct: n });
  expect(collector.capture.counters.dropped).toBe(0);
}

if (TEST_ENGINE === 'postgres') {
  describe('the store going down mid-run (PostgreSQL)', () => {
    it('every request is still answered, and once the store is back every exchange is in it exactly once', async () => {
      const database = await createTestDatabase();
      const name = new URL(database.url).pathname.slice(1);
      const collector = await startCollector({
        config: testConfig({
          port: 0,
          host: '127.0.0.1',
          dataDir: mkdtempSync(path.join(tmpdir(), 'collector-outage-')),
          databaseUrl: database.url,
        }),
        logger: createLogger({ logLevel: 'silent' }),
        print: () => undefined,
      });
      try {
        const statuses: number[] = [];
        const send = (n: number) => sendSearches(collector.url, n, statuses);
        await send(20);
        await collector.capture.drain();

        // The outage: no new connections, existing sessions ended.
        await adminQuery(`alter database ${name} allow_connections false`);
        await adminQuery(`select pg_terminate_backend(pid) from pg_stat_activity where datname = '${name}'`);
        await send(30);
        await new Promise((resolve) => setTimeout(resolve, 500));
        const during = collector.capture.status();
        expect(during.storeUp).toBe(false);
        expect(during.spooled).toBeGreaterThan(0);
        const ready = await fetch(`${collector.url}/readyz`);
        expect(ready.status).toBe(503); // the store check fails; the capture check shows the spool

        // The store returns.
        await adminQuery(`alter database ${name} allow_connections true`);
        await send(10);
        const deadline = Date.now() + 15_000;
        while (collector.capture.status().spoolBytes > 0 && Date.now() < deadline)
          await new Promise((r) => setTimeout(r, 100));
        await collector.capture.drain();

        await expectEveryExchangeOnce(collector, statuses, 60);
      } finally {
        await adminQuery(`alter database ${name} allow_connections true`).catch(() => undefined);
        await collector.stop();
        await database.drop();
      }
    }, 60_000);
  });
} else {
  describe('the store stopping answering mid-run (PGlite)', () => {
    it('every request is still answered, and once the store answers again every exchange is in it exactly once', async () => {
      const collector = await startCollector({
        config: testConfig({
          port: 0,
          host: '127.0.0.1',
          dataDir: mkdtempSync(path.join(tmpdir(), 'collector-outage-')),
        }),
        logger: createLogger({ logLevel: 'silent' }),
        print: () => undefined,
      });
      try {
        const statuses: number[] = [];
        const send = (n: number) => sendSearches(collector.url, n, statuses);
        await send(20);
        await collector.capture.drain();

        // The outage: PGlite's single connection is taken and not given back.
        let release!: () => void;
        const held = new Promise<void>((resolve) => (release = resolve));
        const holder = collector.store.db.connection().execute(() => held);
        await send(30);
        // Past the write deadline (10 s), what waits goes to the spool.
        const spooling = Date.now() + 20_000;
        while (collector.capture.status().spooled === 0 && Date.now() < spooling)
          await new Promise((r) => setTimeout(r, 100));
        expect(collector.capture.status()).toMatchObject({ written: 20, storeUp: false, dropped: 0 });
        expect(collector.capture.status().spooled).toBeGreaterThan(0);

        release(); // the store answers again
        await holder;
        await send(10);
        const replaying = Date.now() + 15_000;
        while (collector.capture.status().spoolBytes > 0 && Date.now() < replaying)
          await new Promise((r) => setTimeout(r, 100));
        await collector.capture.drain();
        expect(collector.capture.status().replayed).toBe(collector.capture.status().spooled);

        await expectEveryExchangeOnce(collector, statuses, 60);
      } finally {
        await collector.stop();
      }
    }, 60_000);
  });
}
