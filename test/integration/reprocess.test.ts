import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CapturePipeline } from '../../src/capture/capture-pipeline.js';
import { reprocess } from '../../src/derive/reprocess.js';
import { storeIngested } from '../../src/ingest/ingest-store.js';
import { prepareEvents } from '../../src/ingest/prepare.js';
import { stitchAll } from '../../src/derive/stitch-episodes.js';
import { loadDerivationTables } from '../../src/derive/tables.js';
import { createLogger } from '../../src/logger.js';
import { createPatientHasher } from '../../src/privacy/patient-hash.js';
import { openStore } from '../../src/store/store.js';
import { observedExchange } from '../helpers/observed.js';
import { processStore, spawnEntry, waitFor } from '../helpers/process.js';
import { fixture } from '../helpers/sandbox.js';
import { openTestStore, type TestStore } from '../helpers/store.js';

let store: TestStore;
beforeAll(async () => {
  store = await openTestStore();
});
afterAll(() => store.dispose());

const rules = { hash: createPatientHasher('reprocess-test-secret-0123456789-0123'), birthDateAsYear: true };

/** A capture pipeline writing to this file's store, with a directory of its own. */
async function startCapture() {
  const dir = mkdtempSync(path.join(tmpdir(), 'reprocess-'));
  const capture = new CapturePipeline({
    store: () => store,
    spoolFile: path.join(dir, 'spool.jsonl'),
    rules,
    logger: createLogger({ logLevel: 'silent' }),
  });
  await capture.start();
  return { dir, capture };
}

describe('reprocess', () => {
  it('rebuilds the same events from stored exchanges, and follows a changed disposition table', async () => {
    const { dir, capture } = await startCapture();
    const referral = observedExchange({
      provider: { dialect: 'bars' },
      method: 'POST',
      path: '/bars/$process-message',
      requestBody: JSON.stringify(fixture('bars/process-message-referral-validation-request.json')),
      status: 200,
    });
    const bookings = Array.from({ length: 7 }, () => observedExchange());
    for (const e of [referral, ...bookings]) capture.capture(e);
    await capture.drain();
    const ids = [referral, ...bookings].map((e) => e.id);
    const eventsNow = () =>
      store.db.selectFrom('events').selectAll().where('source_id', 'in', ids).orderBy('id').execute();
    const live = await eventsNow();
    expect(live).toHaveLength(8);

    // The observed exchanges were received at 10:00 on 22 November 2026; other test files' rows are elsewhere.
    const window = { from: new Date('2026-11-22T09:59:00Z'), to: new Date('2026-11-22T10:01:00Z') };
    const progress: number[] = [];
    const tables = loadDerivationTables({});
    const first = await reprocess(store.db, tables, {
      ...window,
      pageSize: 3,
      onProgress: (p) => progress.push(p.done),
    });
    expect(first).toEqual({ exchanges: 8, ingested: 0, events: 8, stitched: 0 });
    expect(progress).toEqual([3, 6, 8]);
    const strip = (rows: Awaited<ReturnType<typeof eventsNow>>) =>
      rows.map(({ recorded_at: _r, ...rest }) => rest);
    // The same events the capture pipeline wrote, ids included; and again on a second run.
    expect(strip(await eventsNow())).toEqual(strip(live));
    await reprocess(store.db, tables, window);
    expect(strip(await eventsNow())).toEqual(strip(live));

    // The referral's Dx0122 is not in the bundled table; a local table that has it clears the flag.
    const local = path.join(dir, 'dispositions.csv');
    writeFileSync(
      local,
      'code,description,minutes,working_days,category,bookable,confidence\nDX0122,Ambulance category 3,120,,ambulance,no,local\n',
    );
    const referralEvent = async () =>
      await store.db
        .selectFrom('events')
        .selectAll()
        .where('source_id', '=', referral.id)
        .executeTakeFirstOrThrow();
    expect((await referralEvent()).data_quality).toContain('disposition-unknown');
    await reprocess(store.db, loadDerivationTables({ dispositions: local }), window);
    expect(await referralEvent()).toMatchObject({ disposition: 'DX0122', data_quality: [] });
  });
});

describe('reprocess of ingested events', () => {
  it('rebuilds them from their records, following a changed disposition table', async () => {
    const receivedAt = new Date('2026-11-24T10:00:00Z');
    const prepared = prepareEvents(
      {
        id: 'reprocess-referral-1',
        type: 'referral.made',
        occurredAt: '2026-11-24T09:55:00Z',
        correlation: { caseId: 'reprocess-case' },
        disposition: { code: 'Dx0122', at: '2026-11-24T09:54:00Z' },
        referredTo: { serviceId: '2000011147' },
      },
      { now: receivedAt, maxFutureSeconds: 300, lateAfterMinutes: 60, providers: [] },
      rules.hash,
    );
    if (!('events' in prepared)) throw new Error('the referral should be valid');
    const [outcome] = await storeIngested(
      store,
      'ingest-client',
      prepared.events,
      loadDerivationTables({}),
      receivedAt,
    );
    const made = () =>
      store.db
        .selectFrom('events')
        .selectAll()
        .where('source_id', '=', outcome!.ingestId)
        .executeTakeFirstOrThrow();
    const before = await made();
    expect(before).toMatchObject({ type: 'referral.made', disposition: 'Dx0122', deadline: null });
    expect(before.data_quality).toContain('disposition-unknown');

    const dir = mkdtempSync(path.join(tmpdir(), 'reprocess-'));
    const local = path.join(dir, 'dispositions.csv');
    writeFileSync(
      local,
      'code,description,minutes,working_days,category,bookable,confidence\nDX0122,Ambulance category 3,120,,ambulance,no,local\n',
    );
    const window = { from: new Date('2026-11-24T09:00:00Z'), to: new Date('2026-11-24T11:00:00Z') };
    const result = await reprocess(store.db, loadDerivationTables({ dispositions: local }), window);
    expect(result).toMatchObject({ exchanges: 0, ingested: 1, events: 1 });
    const after = await made();
    expect(after).toMatchObject({ id: before.id, disposition: 'DX0122', data_quality: [] });
    expect(new Date(after.deadline!).toISOString()).toBe('2026-11-24T11:54:00.000Z');
  });
});

describe('reprocess with episode stitching', () => {
  it('puts rebuilt events back into the same episodes and calls, resolved the same; twice gives the same', async () => {
    const { capture } = await startCapture();
    const at = (minute: number) => new Date(Date.UTC(2026, 10, 23, 10, minute));
    const call = { 'x-correlation-id': 'reprocess-call' };
    const exchanges = [
      observedExchange({
        provider: { dialect: 'bars' },
        method: 'POST',
        path: '/bars/$process-message',
        requestHeaders: call,
        requestBody: JSON.stringify(fixture('bars/process-message-referral-validation-request.json')),
        status: 200,
        receivedAt: at(0),
      }),
      observedExchange({ requestHeaders: call, receivedAt: at(1) }),
      observedExchange({ requestHeaders: { 'x-correlation-id': 'another-call' }, receivedAt: at(2) }),
    ];
    for (const e of exchanges) capture.capture(e);
    await capture.drain();
    const tables = loadDerivationTables({});
    const stitch = { windowMs: 12 * 3600_000, encounterWindowMs: 3600_000, maxEvents: 100 };
    await stitchAll(store.db, tables, stitch);
    const state = () =>
      store.db
        .selectFrom('events')
        .select([
          'id',
          'source_id',
          'type',
          'episode_id',
          'encounter_id',
          'deadline',
          'deadline_source',
          'attributes',
        ])
        .where(
          'source_id',
          'in',
          exchanges.map((e) => e.id),
        )
        .orderBy('id')
        .execute();
    const before = await state();
    expect(before).toHaveLength(3);
    // The referral and the first booking share a call: one episode; the other call is an episode of its own.
    const episodeOf = (e: { id: string }) => before.find((b) => b.source_id === e.id)!.episode_id;
    expect(episodeOf(exchanges[0]!)).not.toBeNull();
    expect(episodeOf(exchanges[1]!)).toBe(episodeOf(exchanges[0]!));
    expect(episodeOf(exchanges[2]!)).not.toBe(episodeOf(exchanges[0]!));
    const window = { from: at(0), to: at(3) };
    const first = await reprocess(store.db, tables, { ...window, stitch });
    expect(first).toEqual({ exchanges: 3, ingested: 0, events: 3, stitched: 3 });
    expect(await state()).toEqual(before);
    await reprocess(store.db, tables, { ...window, stitch });
    expect(await state()).toEqual(before);
  });
});

describe('npm run reprocess', () => {
  it('rebuilds events on a store filled by sandbox traffic through the collector, with a progress line', async () => {
    const { env, drop } = await processStore('collector-reprocess', {
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
    });
    try {
      const collector = spawnEntry('src/main.ts', [], env);
      const [, url] = await waitFor(collector, /listening on (http:\/\/\S+)/, 60_000);
      for (const target of [
        '/fhir/sandbox-stu3/Slot?service=2000011147&status=free',
        '/fhir/sandbox-gpconnect/metadata',
        '/fhir/sandbox-stu3/Appointment/unknown',
      ])
        await (await fetch(`${url}${target}`)).arrayBuffer();
      collector.child.kill('SIGTERM');
      expect(await collector.exited).toBe(0);

      const cli = spawnEntry('src/cli/reprocess.ts', ['--from', '2020-01-01'], env);
      expect(await cli.exited).toBe(0);
      expect(cli.stderr()).toMatch(
        /reprocessing exchanges captured and events ingested from 2020-01-01T00:00:00.000Z/,
      );
      expect(cli.stderr()).toMatch(/3\/3 exchanges and ingest records, 3 events/);
      expect(cli.stderr()).toMatch(/3 events stitched into episodes/);
      expect(cli.stdout()).toMatch(
        /^done: 3 exchanges, 0 ingest records, 3 events \(3 stitched into episodes\) in [\d.]+ s$/m,
      );

      const reopened = await openStore(
        env.DATABASE_URL
          ? { databaseUrl: env.DATABASE_URL }
          : { pgliteDir: path.join(env.DATA_DIR!, 'pglite') },
      );
      try {
        const types = await reopened.db
          .selectFrom('events')
          .select(['type', 'episode_id', 'encounter_id'])
          .orderBy('occurred_at')
          .execute();
        expect(types.map((t) => t.type)).toEqual(['slot.searched', 'capability.read', 'appointment.read']);
        // Rebuilt events are stitched again: none is left without its episode and call.
        expect(types.filter((t) => t.episode_id === null || t.encounter_id === null)).toEqual([]);
      } finally {
        await reopened.close();
      }

      const bad = spawnEntry('src/cli/reprocess.ts', ['--from', 'yesterday'], env);
      expect(await bad.exited).toBe(2);
      expect(bad.stderr()).toContain('--from: found "yesterday"; expected a date (2026-11-01)');
    } finally {
      await drop();
    }
  }, 150_000);
});
