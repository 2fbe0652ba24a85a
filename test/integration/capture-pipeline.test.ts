import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { CapturePipeline } from '../../src/capture/capture-pipeline.js';
import { captureReadiness } from '../../src/capture/capture.readiness.js';
import { captureExchange } from '../../src/capture/captured.js';
import { exchangeRow } from '../../src/capture/exchange-row.js';
import { loadDerivationTables } from '../../src/derive/tables.js';
import { withReadableBodies } from '../../src/capture/stored-body.js';
import { createLogger } from '../../src/logger.js';
import { createPatientHasher } from '../../src/privacy/patient-hash.js';
import type { Database } from '../../src/store/database.js';
import type { Store } from '../../src/store/store.js';
import { observedExchange } from '../helpers/observed.js';
import { openTestStore, TEST_ENGINE, type TestStore } from '../helpers/store.js';

const rules = {
  hash: createPatientHasher('capture-test-secret-0123456789-0123456789'),
  birthDateAsYear: true,
};
let store: TestStore;
let unreachable: Store;

beforeAll(async () => {
  store = await openTestStore();
  // A PostgreSQL store at a port where nothing listens: every write fails at once (ECONNREFUSED).
  const pool = new pg.Pool({
    connectionString: 'postgres://nobody@127.0.0.1:1/none',
    connectionTimeoutMillis: 200,
  });
  pool.on('error', () => undefined);
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  unreachable = { db, engine: 'postgres', location: 'nowhere', close: () => db.destroy() };
});
afterAll(async () => {
  await unreachable.close();
  await store.dispose();
});

function pipeline(
  current: () => Store,
  spoolFile = path.join(mkdtempSync(path.join(tmpdir(), 'spool-')), 'exchanges.jsonl'),
  options: Partial<ConstructorParameters<typeof CapturePipeline>[0]> = {},
) {
  const capture = new CapturePipeline({
    store: current,
    spoolFile,
    rules,
    logger: createLogger({ logLevel: 'silent' }),
    batchSize: 50,
    flushIntervalMs: 20,
    retryMs: 50,
    ...options,
  });
  return { capture, spoolFile };
}

async function storedIds(ids: string[]): Promise<string[]> {
  const rows = await store.db.selectFrom('exchanges').select('id').where('id', 'in', ids).execute();
  return rows.map((r) => r.id).sort();
}

const until = async (condition: () => boolean | Promise<boolean>, ms = 5000) => {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};

/** The events derived from the given exchanges. */
const eventsOf = (ids: string[]) =>
  store.db
    .selectFrom('events')
    .select(['source_id', 'type', 'attributes'])
    .where('source_id', 'in', ids)
    .execute();

describe('the capture pipeline', () => {
  it('writes every captured exchange, in batches, redacted', async () => {
    const { capture } = pipeline(() => store);
    await capture.start();
    const exchanges = Array.from({ length: 230 }, () =>
      observedExchange({ requestBody: '{"resourceType":"Appointment","description":"private"}' }),
    );
    for (const e of exchanges) capture.capture(e);
    await capture.drain();
    expect(await storedIds(exchanges.map((e) => e.id))).toEqual(exchanges.map((e) => e.id).sort());
    expect(capture.counters).toEqual({ captured: 230, written: 230, spooled: 0, replayed: 0, dropped: 0 });
    // And with each, in the same transaction, the event derived from it.
    const events = await eventsOf(exchanges.map((e) => e.id));
    expect(events).toHaveLength(230);
    expect(events[0]).toMatchObject({ type: 'booking.attempted', attributes: { outcome: 'booked' } });
    const one = await store.db
      .selectFrom('exchanges')
      .select(['request_body', 'request_body_encoding'])
      .where('id', '=', exchanges[0]!.id)
      .executeTakeFirstOrThrow();
    expect(withReadableBodies(one).request_body).toBe('{"resourceType":"Appointment"}');
  });

  it('keeps each transaction within its byte budget: larger rows make smaller batches, one row at least', async () => {
    const body = JSON.stringify({ resourceType: 'Appointment', description: 'x'.repeat(20_000) });
    const rowBytes = (captured: { exchange: Buffer; events: Buffer }) =>
      captured.exchange.length + captured.events.length;
    const size = rowBytes(
      captureExchange(observedExchange({ requestBody: body }), rules, loadDerivationTables({})),
    );
    for (const [batchBytes, batches] of [
      [3 * size + 100, [3, 3, 3, 1]],
      [1, [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]],
    ] as const) {
      const { capture } = pipeline(() => store, undefined, { batchBytes });
      // Told as each batch commits, before it is counted: the count so far, at each batch's end.
      const counted: number[] = [];
      capture.onBatchWritten(() => counted.push(capture.counters.written));
      await capture.start();
      const exchanges = Array.from({ length: 10 }, () => observedExchange({ requestBody: body }));
      for (const e of exchanges) capture.capture(e);
      await capture.drain();
      counted.push(capture.counters.written);
      expect(counted.slice(1).map((n, i) => n - counted[i]!)).toEqual(batches);
      expect(await storedIds(exchanges.map((e) => e.id))).toEqual(exchanges.map((e) => e.id).sort());
    }
  });

  it('spools while the store is down, keeps order, and replays every exchange exactly once when it returns', async () => {
    let current: Store = unreachable;
    const { capture, spoolFile } = pipeline(() => current);
    await capture.start();
    const first = Array.from({ length: 30 }, () => observedExchange());
    for (const e of first) capture.capture(e);
    await until(() => capture.counters.spooled === 30);
    expect(capture.status()).toMatchObject({ storeUp: false, written: 0 });
    expect(readFileSync(spoolFile, 'utf8').trim().split('\n')).toHaveLength(30);

    // More traffic while the spool holds rows: it joins the spool, behind them.
    const second = Array.from({ length: 10 }, () => observedExchange());
    for (const e of second) capture.capture(e);
    await until(() => capture.counters.spooled === 40);
    const spooledOrder = readFileSync(spoolFile, 'utf8')
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l.split('\t')[0]!) as { id: string }).id);
    expect(spooledOrder).toEqual([...first, ...second].map((e) => e.id));

    current = store; // the store returns
    await until(() => capture.counters.replayed === 40);
    const all = [...first, ...second].map((e) => e.id);
    // Each exchange's events travelled through the spool with it (a 201 to POST Appointment: a booking).
    const events = await store.db
      .selectFrom('events')
      .select(['source_id', 'type'])
      .where('source_id', 'in', all)
      .execute();
    expect(events.map((e) => e.source_id).sort()).toEqual([...all].sort());
    expect(new Set(events.map((e) => e.type))).toEqual(new Set(['booking.attempted']));
    expect(await storedIds(all)).toEqual([...all].sort());
    await until(() => !existsSync(spoolFile)); // removed by the replay's last step
    expect(capture.status()).toMatchObject({ storeUp: true, spoolBytes: 0, dropped: 0 });
    await capture.drain();
  });

  it('tells a replay of many steps in one line at its end (a progress line only every 10 s), with its total', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'spool-'));
    const spoolFile = path.join(dir, 'exchanges.jsonl');
    const tables = loadDerivationTables({});
    // Some 3 MB of lines: two replay steps of 2 MB.
    const body = JSON.stringify({
      resourceType: 'Appointment',
      description: randomBytes(24_000).toString('hex'),
    });
    // Kept whole (the provider opted in), so each row holds some 48 KB.
    const captured = Array.from({ length: 60 }, () =>
      captureExchange(
        observedExchange({ requestBody: body, provider: { captureFullBodies: true } }),
        rules,
        tables,
      ),
    );
    writeFileSync(
      spoolFile,
      captured.map((c) => `${c.exchange.toString()}\t${c.events.toString()}\n`).join(''),
    );
    expect(statSync(spoolFile).size).toBeGreaterThan(2 * 1024 * 1024);
    const lines: { msg: string; replayed?: number }[] = [];
    const capture = new CapturePipeline({
      store: () => store,
      spoolFile,
      rules,
      logger: createLogger(
        { logLevel: 'info' },
        { write: (line: string) => void lines.push(JSON.parse(line)) },
      ),
      retryMs: 50,
    });
    await capture.start();
    await until(() => capture.counters.replayed === 60);
    await capture.drain();
    const told = lines.filter((l) => /spool/.test(l.msg));
    expect(told.map((l) => [l.msg, l.replayed])).toEqual([
      ['capture spool found from an earlier run; replaying', undefined],
      ['capture spool replayed into the store', 60],
    ]);
  });

  it('replays a spool left by an earlier run, skipping rows already stored and a line cut short by a crash', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'spool-'));
    const spoolFile = path.join(dir, 'exchanges.jsonl');
    const rows = Array.from({ length: 3 }, () => exchangeRow(observedExchange(), rules).row);
    await store.db.insertInto('exchanges').values(rows[0]!).execute(); // already written before the crash
    // Lines as a spool from before bodies were compressed has them: bare rows, a text body as it was.
    const body = '{"resourceType":"Appointment","status":"booked"}';
    const legacy = rows.map((r) => ({ ...r, request_body: body, request_body_encoding: 'utf8' }));
    writeFileSync(spoolFile, `${legacy.map((r) => JSON.stringify(r)).join('\n')}\n{"id":"cut-sho`);
    const { capture } = pipeline(() => store, spoolFile);
    await capture.start();
    await until(() => capture.counters.replayed === 3);
    expect(await storedIds(rows.map((r) => r.id))).toEqual(rows.map((r) => r.id).sort());
    expect(capture.counters.dropped).toBe(1);
    // Their bodies read back as they were, and their events are derived on replay.
    const replayed = await store.db
      .selectFrom('exchanges')
      .select(['id', 'request_body', 'request_body_encoding'])
      .where('id', '=', rows[1]!.id)
      .executeTakeFirstOrThrow();
    expect(withReadableBodies(replayed).request_body).toBe(body);
    const events = await store.db
      .selectFrom('events')
      .select('type')
      .where('source_id', 'in', [rows[1]!.id, rows[2]!.id])
      .execute();
    expect(events.map((e) => e.type)).toEqual(['booking.attempted', 'booking.attempted']);
    await capture.drain();
  });

  it("replays the previous version's spool lines, and refuses a line of this version a crash cut short in its events", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'spool-'));
    const spoolFile = path.join(dir, 'exchanges.jsonl');
    const tables = loadDerivationTables({});
    const appointment = '{"resourceType":"Appointment","status":"booked"}';
    const captured = Array.from({ length: 3 }, () =>
      captureExchange(observedExchange({ requestBody: appointment }), rules, tables),
    );
    // The previous version wrote {"exchange", "events"}: bodies in base64, headers and attributes as JSON text.
    const previous = captured.slice(0, 2).map((c) => {
      const row = JSON.parse(c.exchange.toString()) as Record<string, unknown>;
      for (const key of ['request_body', 'response_body'])
        if (typeof row[key] === 'string') row[key] = Buffer.from(row[key].slice(2), 'hex').toString('base64');
      row.request_headers = JSON.stringify(row.request_headers);
      row.response_headers = JSON.stringify(row.response_headers);
      const events = (JSON.parse(c.events.toString()) as Record<string, unknown>[]).map((e) => ({
        ...e,
        attributes: JSON.stringify(e.attributes),
      }));
      return JSON.stringify({ exchange: row, events });
    });
    const torn = `${captured[2]!.exchange.toString()}\t${captured[2]!.events.toString().slice(0, -5)}`;
    writeFileSync(spoolFile, `${previous.join('\n')}\n${torn}\n`);
    const { capture } = pipeline(() => store, spoolFile);
    await capture.start();
    await until(() => capture.counters.replayed === 2);
    expect(capture.counters.dropped).toBe(1);
    const ids = captured.slice(0, 2).map((c) => c.id);
    expect(await storedIds(ids)).toEqual([...ids].sort());
    const stored = await store.db
      .selectFrom('exchanges')
      .selectAll()
      .where('id', '=', ids[0]!)
      .executeTakeFirstOrThrow();
    expect(stored.request_headers).toEqual(
      (JSON.parse(captured[0]!.exchange.toString()) as { request_headers: unknown }).request_headers,
    );
    expect(withReadableBodies(stored).request_body).toBe(appointment);
    const events = await eventsOf(ids);
    expect(events.map((e) => [e.type, typeof e.attributes])).toEqual([
      ['booking.attempted', 'object'],
      ['booking.attempted', 'object'],
    ]);
    await capture.drain();
  });

  it('counts exchanges as dropped, loudly, only when the store is down and the spool cannot be written', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'spool-'));
    const spoolFile = path.join(dir, 'exchanges.jsonl');
    mkdirSync(spoolFile); // a directory where the file should be: appends fail
    const { capture } = pipeline(() => unreachable, spoolFile);
    await capture.start();
    capture.capture(observedExchange());
    await until(() => capture.counters.dropped === 1);
    expect(capture.status()).toMatchObject({ spoolWritable: false, storeUp: false, losingCaptures: true });
    await capture.drain();
  });

  /** A pipeline that has lost an exchange (store down, disk full, as it stays), and a way to bring the store back. */
  async function losing() {
    const spoolFile = path.join(mkdtempSync(path.join(tmpdir(), 'spool-')), 'exchanges.jsonl');
    mkdirSync(spoolFile); // appends fail, and go on failing
    let current = unreachable;
    const { capture } = pipeline(() => current, spoolFile);
    const readiness = captureReadiness(capture);
    await capture.start();
    capture.capture(observedExchange());
    await until(() => capture.counters.dropped === 1);
    return { capture, readiness, storeBack: () => (current = store) };
  }

  it('is ready again once the store takes exchanges again, though the disk has stayed full', async () => {
    const { capture, readiness, storeBack } = await losing();
    expect((await readiness.run()).ok).toBe(false);
    storeBack();
    const after = observedExchange();
    capture.capture(after);
    await until(() => capture.counters.written === 1);
    expect(await storedIds([after.id])).toEqual([after.id]);
    expect(capture.status()).toMatchObject({ spoolWritable: false, losingCaptures: false, dropped: 1 });
    expect((await readiness.run()).ok).toBe(true);
    await capture.drain();
  });

  it('is ready again once the store answers, with no traffic to show it (out of rotation, none comes)', async () => {
    const { capture, readiness, storeBack } = await losing();
    await new Promise((resolve) => setTimeout(resolve, 300)); // probes meanwhile find the store down
    expect((await readiness.run()).ok).toBe(false);
    storeBack();
    await until(async () => (await readiness.run()).ok);
    expect(capture.status()).toMatchObject({ storeUp: true, losingCaptures: false, captured: 1, dropped: 1 });
    await capture.drain();
  });

  it('stores an exchange whose values PostgreSQL cannot hold as sent (NUL, bad percent-encoding), with its event', async () => {
    const { capture } = pipeline(() => store);
    await capture.start();
    const odd = [
      observedExchange({ method: 'GET', path: '/fhir/Appointment/%00', status: 200 }),
      observedExchange({ method: 'GET', path: '/fhir/Appointment/%ZZ', status: 200 }),
    ];
    for (const e of odd) capture.capture(e);
    await capture.drain();
    expect(capture.counters).toMatchObject({ written: 2, dropped: 0 });
    const events = await eventsOf(odd.map((e) => e.id));
    expect(
      events.map((e) => [e.type, (e.attributes as { appointmentId: string }).appointmentId]).sort(),
    ).toEqual([
      ['appointment.read', ''], // %00 decodes to NUL, which PostgreSQL cannot keep: removed
      ['appointment.read', '%ZZ'],
    ]);
  });

  it('never throws into the proxy, whatever it is given', () => {
    const { capture } = pipeline(() => store);
    const broken = observedExchange();
    (broken as { requestBody: unknown }).requestBody = null;
    expect(() => capture.capture(broken)).not.toThrow();
    expect(capture.counters.dropped).toBe(1);
  });
});

describe('the capture pipeline against a store that refuses or hangs', () => {
  it('writes the good rows of a batch the store refuses, and counts only the bad one as lost', async () => {
    const { capture } = pipeline(() => store);
    await capture.start();
    const good = Array.from({ length: 5 }, () => observedExchange());
    const bad = observedExchange();
    // A row the store refuses while it is up: a timestamp that is not one.
    (bad as { receivedAt: unknown }).receivedAt = new Date('invalid');
    for (const e of [...good.slice(0, 2), bad, ...good.slice(2)]) capture.capture(e);
    await capture.drain();
    expect(await storedIds(good.map((e) => e.id))).toEqual(good.map((e) => e.id).sort());
    expect(capture.counters).toMatchObject({ written: 5, dropped: 1, spooled: 0 });
    expect(capture.status().storeUp).toBe(true);
  });

  it('gives a hung store a deadline on drain, then spools what waits', async () => {
    const hung: Store = {
      ...store,
      db: { transaction: () => ({ execute: () => new Promise(() => undefined) }) } as unknown as Store['db'],
    };
    const { capture, spoolFile } = pipeline(() => hung, undefined, { writeTimeoutMs: 400 });
    await capture.start();
    const waiting = Array.from({ length: 3 }, () => observedExchange());
    for (const e of waiting) capture.capture(e);
    await capture.drain(200);
    const spooled = () =>
      readFileSync(spoolFile, 'utf8')
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l.split('\t')[0]!) as { id: string }).id);
    expect(spooled().sort()).toEqual(waiting.map((e) => e.id).sort());
    // The write drain gave up on ends at its own deadline later: its rows are not spooled again.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(spooled()).toHaveLength(3);
    expect(capture.counters).toMatchObject({ spooled: 3, written: 0, dropped: 0 });
  });

  it('spools a batch whose rows, written one by one after the store refused it, take too long: none counted lost', async () => {
    // The batch is refused; each row on its own then hangs, while the store still answers reads.
    let transactions = 0;
    const fickle: Store = {
      ...store,
      db: new Proxy(store.db, {
        get(target, property, receiver) {
          if (property !== 'transaction') return Reflect.get(target, property, receiver);
          return () => ({
            execute: () =>
              (transactions += 1) === 1 ? Promise.reject(new Error('refused')) : new Promise(() => undefined),
          });
        },
      }),
    };
    const { capture } = pipeline(() => fickle, undefined, { writeTimeoutMs: 100 });
    await capture.start();
    for (let i = 0; i < 2; i++) capture.capture(observedExchange());
    await until(() => capture.counters.spooled === 2);
    expect(capture.counters).toMatchObject({ written: 0, dropped: 0, spooled: 2 });
    await capture.drain(100);
  });
});

describe('the capture pipeline against a store that stops answering', () => {
  /** A store whose every query hangs (connections open, no answer), until `answering` is set. */
  function silent(): { store: Store; answer(): void } {
    let answering = false;
    const hang = () => new Promise(() => undefined);
    const chain: unknown = new Proxy({}, { get: (_, p) => (p === 'execute' ? hang : () => chain) });
    const hung = {
      transaction: () => ({ execute: hang }),
      selectFrom: () => chain,
    } as unknown as Store['db'];
    return {
      store: {
        ...store,
        get db() {
          return answering ? store.db : hung;
        },
      },
      answer: () => (answering = true),
    };
  }

  it('spools each batch once its write is past the deadline, and replays them when the store answers', async () => {
    const hung = silent();
    const { capture } = pipeline(() => hung.store, undefined, { writeTimeoutMs: 100 });
    await capture.start();
    const exchanges = Array.from({ length: 120 }, () => observedExchange());
    for (const e of exchanges.slice(0, 60)) capture.capture(e);
    await until(() => capture.counters.spooled === 60);
    expect(capture.status()).toMatchObject({ storeUp: false, queueDepth: 0, dropped: 0 });
    for (const e of exchanges.slice(60)) capture.capture(e);
    await until(() => capture.counters.spooled === 120); // behind the first, without waiting on the store
    hung.answer();
    await until(() => capture.counters.replayed === 120);
    const ids = exchanges.map((e) => e.id);
    expect(await storedIds(ids)).toEqual([...ids].sort());
    expect(capture.status()).toMatchObject({ storeUp: true, spoolBytes: 0, dropped: 0 });
    await capture.drain();
  });

  it('spills a full queue to the spool oldest first, so replay keeps the order of capture', async () => {
    const hung = silent();
    const { capture, spoolFile } = pipeline(() => hung.store, undefined, {
      batchSize: 10,
      maxQueue: 40,
      writeTimeoutMs: 5_000,
    });
    await capture.start();
    const exchanges = Array.from({ length: 100 }, () => observedExchange());
    for (const e of exchanges) capture.capture(e);
    // On a busy machine a replay attempt can take the write chain before the last rows' turn, and
    // they reach the spool only once its write has reached the 5 s deadline.
    await until(() => capture.counters.spooled === 100, 15_000);
    const spooled = readFileSync(spoolFile, 'utf8')
      .trim()
      .split('\n')
      .map((line) => (JSON.parse(line.split('\t')[0]!) as { id: string }).id);
    expect(spooled).toEqual(exchanges.map((e) => e.id));
    await capture.drain(100);
  });
});

// PostgreSQL's own deadline on the write (PGlite, in this process, has no lock another session holds).
if (TEST_ENGINE === 'postgres')
  describe('the capture pipeline against a PostgreSQL table locked and never let go', () => {
    it('spools the batch at its deadline, and PostgreSQL gives up on the write too, freeing its connection', async () => {
      const locker = new pg.Client({ connectionString: store.url! });
      await locker.connect();
      try {
        await locker.query('begin');
        await locker.query('lock table exchanges in access exclusive mode');
        const { capture } = pipeline(() => store, undefined, { writeTimeoutMs: 300 });
        await capture.start();
        const exchanges = Array.from({ length: 3 }, () => observedExchange());
        for (const e of exchanges) capture.capture(e);
        await until(() => capture.counters.spooled === 3);
        // No session of ours is still waiting on the lock: the server ended the abandoned write.
        const waiting = async () =>
          (
            await locker.query<{ n: string }>(
              `select count(*) as n from pg_stat_activity
             where datname = current_database() and pid <> pg_backend_pid() and wait_event_type = 'Lock'`,
            )
          ).rows[0]!.n;
        await until(async () => (await waiting()) === '0');
        await locker.query('rollback');
        await until(() => capture.counters.replayed === 3);
        expect(await storedIds(exchanges.map((e) => e.id))).toEqual(exchanges.map((e) => e.id).sort());
        expect(capture.counters).toMatchObject({ written: 0, dropped: 0 });
        await capture.drain();
      } finally {
        await locker.end();
      }
    });
  });

describe('the capture pipeline against a slow store', () => {
  it('keeps memory bounded by spilling to the spool, and still writes every exchange exactly once', async () => {
    // Every transaction takes 200 ms: far slower than exchanges arrive.
    const slow: Store = {
      ...store,
      db: new Proxy(store.db, {
        get(target, property, receiver) {
          if (property !== 'transaction') return Reflect.get(target, property, receiver);
          return () => {
            const builder = target.transaction();
            return {
              execute: async (fn: Parameters<typeof builder.execute>[0]) => {
                await new Promise((resolve) => setTimeout(resolve, 200));
                return builder.execute(fn);
              },
            };
          };
        },
      }),
    };
    const capture = new CapturePipeline({
      store: () => slow,
      spoolFile: path.join(mkdtempSync(path.join(tmpdir(), 'spool-')), 'exchanges.jsonl'),
      rules,
      logger: createLogger({ logLevel: 'silent' }),
      batchSize: 10,
      flushIntervalMs: 10,
      maxQueue: 40,
      retryMs: 50,
    });
    await capture.start();
    const exchanges = Array.from({ length: 400 }, () => observedExchange());
    let deepest = 0;
    for (const e of exchanges) {
      capture.capture(e);
      deepest = Math.max(deepest, capture.status().queueDepth);
    }
    expect(deepest).toBeLessThanOrEqual(41);
    await until(() => capture.counters.spooled > 0);
    await capture.drain(20_000);
    await until(async () => (await storedIds(exchanges.map((e) => e.id))).length === 400, 20_000);
    const counted = await store.db
      .selectFrom('exchanges')
      .select((eb) => eb.fn.countAll().as('n'))
      .where(
        'id',
        'in',
        exchanges.map((e) => e.id),
      )
      .executeTakeFirstOrThrow();
    expect(counted.n).toBe(400);
    expect(capture.counters.dropped).toBe(0);
  }, 30_000);
});

describe('a large spool', () => {
  it('is replayed a chunk at a time from a recorded offset, and removed once it is all in the store', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'spool-'));
    const spoolFile = path.join(dir, 'exchanges.jsonl');
    // About 12 MB of rows: more than one replay chunk (8 MB).
    const rows = Array.from({ length: 200 }, () => ({
      ...exchangeRow(observedExchange(), rules).row,
      // Incompressible, so the spool really is that large.
      response_body: randomBytes(60_000),
      response_body_encoding: 'br+binary' as const,
    }));
    writeFileSync(
      spoolFile,
      `${rows.map((r) => JSON.stringify({ exchange: { ...r, response_body: r.response_body.toString('base64') }, events: [] })).join('\n')}\n`,
    );
    const { capture } = pipeline(() => store, spoolFile);
    await capture.start();
    await until(() => capture.counters.replayed === 200, 20_000);
    expect(await storedIds(rows.map((r) => r.id))).toEqual(rows.map((r) => r.id).sort());
    await until(() => !existsSync(spoolFile) && !existsSync(`${spoolFile}.offset`));
    expect(capture.status().spoolBytes).toBe(0);
    await capture.drain();
  }, 30_000);
});
