import fc from 'fast-check';
import { sql } from 'kysely';
import { deriveEvents, type DerivableExchange } from '../../src/derive/derive.js';
import { stitchAll, stitchBatch, type StitchOptions } from '../../src/derive/stitch-episodes.js';
import { loadDerivationTables } from '../../src/derive/tables.js';
import type { NewEventRow } from '../../src/store/tables/event.table.js';
import * as journey from '../helpers/journey.js';
import { EpisodeStitcher } from '../../src/derive/episode-stitcher.js';
import { createLogger } from '../../src/logger.js';
import { openTestStore, TEST_ENGINE, type TestStore } from '../helpers/store.js';

const tables = loadDerivationTables({});
const options: StitchOptions = {
  windowMs: 12 * 3600_000,
  encounterWindowMs: 3600_000,
  maxEvents: 50,
};
let store: TestStore;

beforeAll(async () => {
  store = await openTestStore();
});
afterAll(() => store.dispose());

/** Each test starts from an empty store (this file's own schema or instance). */
beforeEach(async () => {
  for (const table of ['events', 'episode_keys', 'episodes', 'exchanges'])
    await sql`delete from ${sql.table(table)}`.execute(store.db);
});

function rows(exchange: DerivableExchange): NewEventRow[] {
  return deriveEvents(exchange, tables).map((e) => ({ ...e, attributes: JSON.stringify(e.attributes) }));
}

async function write(events: NewEventRow[]): Promise<void> {
  if (events.length > 0) await store.db.insertInto('events').values(events).execute();
}

/** The whole store, told without the episodes' random ids: events grouped, with what the episode resolved. */
async function picture() {
  const events = await store.db.selectFrom('events').selectAll().orderBy('id').execute();
  const groupOf = new Map<string, string>();
  for (const e of events) if (e.episode_id && !groupOf.has(e.episode_id)) groupOf.set(e.episode_id, e.id);
  const episodes = await store.db.selectFrom('episodes').selectAll().execute();
  return {
    events: events.map((e) => ({
      id: e.id,
      type: e.type,
      episode: e.episode_id ? groupOf.get(e.episode_id) : null,
      encounter: e.encounter_id,
      disposition: e.disposition,
      deadline: e.deadline,
      deadline_source: e.deadline_source,
      data_quality: e.data_quality,
      attributes: e.attributes,
    })),
    episodes: episodes
      .map((p) => ({ ...p, id: groupOf.get(p.id), updated_at: undefined }))
      .sort((a, b) => ((a.id ?? '') < (b.id ?? '') ? -1 : 1)),
  };
}

/** Two patients' contacts: one BaRS (search, referral, booking, cancel and re-book in the call), one apart. */
function twoContacts() {
  const first = journey.barsContact(journey.CALL, 'aaaa0000-0000-4000-8000-00000000000a', 'A1');
  const second = journey.barsContact('call-two', 'bbbb0000-0000-4000-8000-00000000000b', 'B1');
  return [
    first.search,
    first.referral,
    first.booking,
    journey.cancellationOf('A1', '2021-10-06T08:04:00Z'),
    journey.rebookingOf(first.serviceRequest, '2021-10-06T08:05:00Z'),
    second.search,
    second.referral,
    second.booking,
  ].flatMap(rows);
}

describe('episode stitching', () => {
  it('gives the same episodes, calls and resolved events whatever order and batches the events arrive in', async () => {
    const events = twoContacts();
    await write(events);
    const once = await stitchAll(store.db, tables, options);
    expect(once).toMatchObject({ stitched: events.length, opened: 2, merged: 0 });
    const expected = await picture();
    // The two contacts are two episodes; the first has its re-booking, made by the episode.
    expect(new Set(expected.events.map((e) => e.episode)).size).toBe(2);
    expect(expected.events.filter((e) => e.type === 'booking.rebooked')).toHaveLength(1);
    expect(expected.events.every((e) => e.encounter !== null)).toBe(true);

    await fc.assert(
      fc.asyncProperty(
        fc.shuffledSubarray(events, { minLength: events.length }),
        fc.array(fc.integer({ min: 1, max: 4 }), { minLength: events.length, maxLength: events.length }),
        async (order, sizes) => {
          for (const table of ['events', 'episode_keys', 'episodes'])
            await sql`delete from ${sql.table(table)}`.execute(store.db);
          // Arrivals in chunks, each stitched before the next comes (one event per batch, at times).
          for (let at = 0, i = 0; at < order.length; at += sizes[i]!, i += 1) {
            await write(order.slice(at, at + sizes[i]!));
            await stitchBatch(store.db, tables, { ...options, batchSize: sizes[i]! });
          }
          await stitchAll(store.db, tables, options);
          expect(await picture()).toEqual(expected);
        },
      ),
      { numRuns: 8 },
    );
  }, 120_000);

  it('merges two episodes that a late referral shows to be one, exchanges and keys included', async () => {
    const contact = journey.barsContact('call-search', 'cccc0000-0000-4000-8000-00000000000c');
    // The search (its call's correlation id) and the booking (another call id, based on the referral).
    const search = rows(contact.search);
    const booking = rows(
      journey.rebookingOf(contact.serviceRequest, '2021-10-06T08:02:00Z', 'call-booking', 'C1'),
    );
    for (const e of [...search, ...booking])
      await sql`insert into exchanges (id, received_at, route, method, path, transport_outcome)
                values (${e.source_id}, ${e.occurred_at}, 'fhir', 'GET', '/x', 'ok')`.execute(store.db);
    await write([...search, ...booking]);
    await stitchAll(store.db, tables, options);
    expect(await store.db.selectFrom('episodes').select('id').execute()).toHaveLength(2);

    // The referral: the search's call id and the booking's ServiceRequest.
    await write(rows(contact.referral));
    expect(await stitchAll(store.db, tables, options)).toMatchObject({ stitched: 1, opened: 0, merged: 1 });
    const episodes = await store.db.selectFrom('episodes').selectAll().execute();
    expect(episodes).toHaveLength(1);
    const [episode] = episodes;
    const events = await store.db.selectFrom('events').selectAll().orderBy('occurred_at').execute();
    expect(events.map((e) => e.episode_id)).toEqual([episode!.id, episode!.id, episode!.id]);
    const exchanges = await store.db.selectFrom('exchanges').select('episode_id').execute();
    expect(exchanges.map((e) => e.episode_id)).toEqual([episode!.id, episode!.id]);
    const keys = await store.db.selectFrom('episode_keys').select('episode_id').distinct().execute();
    expect(keys).toEqual([{ episode_id: episode!.id }]);
    // The search now has the referral's deadline, though it came first and in another call.
    expect(events[0]).toMatchObject({ type: 'slot.searched', deadline_source: 'referral' });
    expect(events[0]!.encounter_id).not.toBe(events[2]!.encounter_id);
    expect(episode).toMatchObject({ disposition: 'Dx0122', deadline_source: 'referral' });
  });

  it('joins events of the same patient within the window, and not beyond it', async () => {
    const at = (iso: string, patient: string) =>
      rows(journey.exchangeOf({ received_at: iso, patient_hash: patient, request_headers: {} }));
    await write([
      ...at('2026-11-22T09:00:00Z', 'patient-1'),
      ...at('2026-11-22T20:00:00Z', 'patient-1'), // 11 hours on: the same contact
      ...at('2026-11-23T20:00:01Z', 'patient-1'), // a day after that: another
      ...at('2026-11-22T09:30:00Z', 'patient-2'),
    ]);
    await stitchAll(store.db, tables, options);
    const events = await store.db
      .selectFrom('events')
      .select(['patient_hash', 'episode_id', 'encounter_id'])
      .orderBy('occurred_at')
      .execute();
    const [a, b, c, d] = [events[0]!, events[2]!, events[3]!, events[1]!];
    expect(a.episode_id).toBe(b.episode_id);
    expect(c.episode_id).not.toBe(a.episode_id);
    expect(d.episode_id).not.toBe(a.episode_id);
    // 11 hours apart: one episode, but two calls.
    expect(a.encounter_id).not.toBe(b.encounter_id);
    const episodes = await store.db.selectFrom('episodes').select(['patient_hash']).execute();
    expect(episodes.map((e) => e.patient_hash).sort()).toEqual(['patient-1', 'patient-1', 'patient-2']);
  });

  it('joins an episode whose key is reused for everything, but stops resolving it past the limit', async () => {
    const many = Array.from({ length: 12 }, (_, i) =>
      rows(
        journey.exchangeOf({
          received_at: new Date(Date.UTC(2026, 10, 22, 9, i)).toISOString(),
          request_headers: { 'ssp-traceid': 'the-same-for-everything' },
        }),
      ),
    ).flat();
    await write(many);
    const result = await stitchAll(store.db, tables, { ...options, maxEvents: 10 });
    expect(result).toMatchObject({ stitched: 12, opened: 1, oversized: 1 });
    const episode = await store.db.selectFrom('episodes').selectAll().executeTakeFirstOrThrow();
    expect(episode.attributes).toEqual({ events: 12, oversized: true });
    const stitched = await store.db.selectFrom('events').select('episode_id').distinct().execute();
    expect(stitched).toEqual([{ episode_id: episode.id }]);
  });

  it('joins an event of an older rule version left beside the current one (a late spool replay) without resolving it', async () => {
    const exchange = journey.exchangeOf({ request_headers: { 'ssp-traceid': 'old-and-new' } });
    const [current] = rows(exchange);
    const old = { ...current!, id: '0190b2a0-0000-8000-8000-00000000001d', rule_version: '2020-01-01.1' };
    await write([current!, old]);
    // Terminates (the old event does not wait for ever), and both are in the one episode.
    expect(await stitchAll(store.db, tables, options)).toMatchObject({ stitched: 2, opened: 1 });
    const events = await store.db
      .selectFrom('events')
      .select(['rule_version', 'episode_id', 'encounter_id'])
      .orderBy('rule_version')
      .execute();
    expect(events[0]!.episode_id).toBe(events[1]!.episode_id);
    expect(events.map((e) => [e.rule_version, e.encounter_id === null])).toEqual([
      ['2020-01-01.1', true],
      [current!.rule_version, false],
    ]);
  });

  it('two stitchers at once never make two episodes of one contact', async () => {
    const contact = journey.barsContact('call-race', 'dddd0000-0000-4000-8000-00000000000d');
    await write(rows(contact.search));
    await write(rows(contact.referral));
    await write(rows(contact.booking));
    // Batches of one: the two runs interleave batch by batch unless the lock keeps them apart.
    const results = await Promise.all([
      stitchAll(store.db, tables, { ...options, batchSize: 1 }),
      stitchAll(store.db, tables, { ...options, batchSize: 1 }),
    ]);
    expect(results[0].stitched + results[1].stitched).toBe(3);
    expect(results[0].opened + results[1].opened - results[0].merged - results[1].merged).toBe(1);
    expect(await store.db.selectFrom('episodes').select('id').execute()).toHaveLength(1);
  });
});

describe('the collector stitcher', () => {
  it('stitches on a worker thread on PostgreSQL (on its own thread on PGlite) and carries on on its own thread when the worker dies', async () => {
    const events = twoContacts();
    await write(events);
    await stitchAll(store.db, tables, options);
    const expected = await picture();
    for (const table of ['events', 'episode_keys', 'episodes'])
      await sql`delete from ${sql.table(table)}`.execute(store.db);

    const lines: string[] = [];
    const stitcher = new EpisodeStitcher({
      store: () => store,
      tables,
      episodes: { windowMinutes: 12 * 60, encounterWindowMinutes: 60, maxEvents: 50 },
      logger: createLogger({ logLevel: 'warn' }, { write: (line: string) => void lines.push(line) }),
      intervalMs: 3_600_000,
      ...(store.url ? { databaseUrl: store.url } : {}),
    });
    try {
      expect(stitcher.onWorker).toBe(TEST_ENGINE === 'postgres');
      const half = Math.floor(events.length / 2);
      await write(events.slice(0, half));
      stitcher.poke();
      await stitcher.settled();
      expect(stitcher.totals).toMatchObject({ stitched: half, failures: 0 });

      await stitcher.crashWorkerForTest();
      await write(events.slice(half));
      stitcher.poke();
      await stitcher.settled();
      expect(stitcher.onWorker).toBe(false);
      expect(stitcher.totals).toMatchObject({ stitched: events.length, failures: 0 });
      expect(await picture()).toEqual(expected);
      if (TEST_ENGINE === 'postgres')
        expect(lines.some((line) => line.includes('stitching on the main thread from now on'))).toBe(true);
    } finally {
      await stitcher.stop();
    }
  }, 60_000);
});
