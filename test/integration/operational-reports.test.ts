import { sql } from 'kysely';
import request from 'supertest';
import { eventsJson } from '../../src/capture/captured.js';
import type { Conformance } from '../../src/derive/conformance.js';
import { newId } from '../../src/ids.js';
import { OPERATIONAL, PROVIDER } from '../../src/reports/catalogue.js';
import { insertEventsJson } from '../../src/store/json-inserts.js';
import type { NewEventRow } from '../../src/store/tables/event.table.js';
import { metricEvent } from '../helpers/events.js';
import { bearer, buildTestApp } from '../helpers/app.js';
import { r4Problems } from '../helpers/fhir-r4.js';
import { TEST_PROVIDER } from '../helpers/observed.js';
import { openTestStore, type TestStore } from '../helpers/store.js';

/*
 * The operational statistics and the provider reports over a hand-made October whose every count is
 * known: activity per month, weekday (per such weekday in the period), share and organisation; each
 * provider's conformance to its standard and its upstream latency per interaction.
 */

let store: TestStore;
beforeAll(async () => {
  store = await openTestStore();
  for (const table of ['events', 'episode_keys', 'episodes', 'exchanges', 'ingest_records'])
    await sql`delete from ${sql.table(table)}`.execute(store.db);
  await insertEventsJson(store.db, eventsJson(EVENTS));
});
afterAll(() => store.dispose());

const ED = { provider_id: 'ed', service_id: '2000011147' };
const UTC = { provider_id: 'utc', service_id: '3000033333' };
const OK: Conformance = { checks: { status: true }, conforms: true, errorClass: 'none' };

/** An event of an exchange with the provider (its first), as derivation makes it. */
function event(
  type: string,
  at: string,
  where: typeof ED,
  attributes: Record<string, unknown>,
  over: Partial<NewEventRow> = {},
): NewEventRow {
  return metricEvent(type, at, { conformance: OK, ...attributes }, { ...where, ...over });
}

const BOOKED = event('booking.attempted', '2026-10-06T09:10:00Z', ED, {
  outcome: 'booked',
  upstreamMs: 50,
  conformance: { checks: { status: true, location: true }, conforms: true, errorClass: 'none' },
});

/* October 2026 begins on a Thursday: Thursday, Friday and Saturday come five times, the rest four. */
const EVENTS: NewEventRow[] = [
  // Monday 5th: two searches at ed, one answered with a Bundle that is not a searchset.
  event('slot.searched', '2026-10-05T09:00:00Z', ED, { upstreamMs: 10 }),
  event('slot.searched', '2026-10-05T10:00:00Z', ED, {
    upstreamMs: 30,
    conformance: { checks: { status: true, searchsetType: false }, conforms: false, errorClass: 'none' },
  }),
  // Tuesday 6th: utc's search fails with a bare 500; ed books, then loses a slot-taken race (409).
  event('slot.searched', '2026-10-06T09:00:00Z', UTC, {
    succeeded: false,
    upstreamMs: 200,
    conformance: { checks: { status: true, operationOutcome: false }, conforms: false, errorClass: 'server' },
  }),
  BOOKED,
  // The re-booking the same exchange told: not an activity, and not a second exchange.
  { ...event('booking.rebooked', '2026-10-06T09:10:00Z', ED, {}), source_id: BOOKED.source_id, ordinal: 1 },
  // The same booking under an older rule version: not counted twice.
  { ...BOOKED, id: newId(), rule_version: '2026-01-01.1' },
  event('booking.attempted', '2026-10-06T09:20:00Z', ED, {
    succeeded: false,
    outcome: 'slot_unavailable',
    upstreamMs: 70,
    conformance: { checks: { status: true, operationOutcome: true }, conforms: true, errorClass: 'client' },
  }),
  // Wednesday 7th: a cancellation at utc.
  event('booking.cancelled', '2026-10-07T09:00:00Z', UTC, { upstreamMs: 20 }),
  // Thursday 8th: an amendment, and a read whose answer has a time without an offset.
  event('appointment.updated', '2026-10-08T09:00:00Z', ED, { upstreamMs: 15 }),
  event('appointment.read', '2026-10-08T10:00:00Z', ED, {
    upstreamMs: 5,
    conformance: { checks: { status: true, instantOffsets: false }, conforms: false, errorClass: 'none' },
  }),
  // Friday 9th: a listing, and a referral posted to the ingest API (not an exchange with ed).
  event('appointments.listed', '2026-10-09T09:00:00Z', ED, { upstreamMs: 8 }),
  event('referral.made', '2026-10-09T10:00:00Z', ED, { conformance: undefined }, { source_kind: 'ingest' }),
  // Saturday 10th: a BaRS referral on the wire to utc. Sunday 11th: a capability read.
  event('referral.made', '2026-10-10T09:00:00Z', UTC, { upstreamMs: 40 }),
  event('capability.read', '2026-10-11T09:00:00Z', UTC, { upstreamMs: 3 }),
  // 23:30 on Sunday in UTC is 00:30 on Monday 12th in London: a booking utc never answered.
  event('booking.attempted', '2026-10-11T23:30:00Z', UTC, {
    succeeded: false,
    outcome: 'transport_error',
    upstreamMs: null,
    conformance: { checks: {}, conforms: null, errorClass: 'transport' },
  }),
  // Not activities: a directory selection. Not October: a search in November.
  event('service.selected', '2026-10-09T09:00:00Z', ED, {}, { source_kind: 'ingest' }),
  event('slot.searched', '2026-11-02T10:00:00Z', ED, { upstreamMs: 12 }),
];

const app = () =>
  buildTestApp(store, {
    config: {
      providers: [
        { ...TEST_PROVIDER, id: 'ed', region: 'E12000007', dosServiceIds: ['2000011147'] },
        { ...TEST_PROVIDER, id: 'utc', region: 'E12000008', dosServiceIds: ['3000033333'] },
      ],
    },
  });
const get = (path: string) => request(app()).get(path).set('Authorization', bearer('report')).expect(200);
const OCTOBER = 'from=2026-10-01&to=2026-11-01';

/** Each row's dimensions and figures, without its drill-down links. */
const bare = (rows: Record<string, unknown>[]) => rows.map(({ evidence: _e, ...row }) => row);

describe('activity', () => {
  it('activity-by-month: attempts and successes of each kind of interaction, per month', async () => {
    const res = await get('/api/reports/activity-by-month?from=2026-10-01&to=2026-12-01');
    expect(res.body.groupBy).toEqual(['month', 'activity']);
    expect(bare(res.body.rows)).toEqual([
      { month: '2026-10', activity: 'book', attempts: 3, successes: 1 },
      { month: '2026-10', activity: 'cancel', attempts: 1, successes: 1 },
      { month: '2026-10', activity: 'capability', attempts: 1, successes: 1 },
      { month: '2026-10', activity: 'list-appointments', attempts: 1, successes: 1 },
      { month: '2026-10', activity: 'read-appointment', attempts: 1, successes: 1 },
      { month: '2026-10', activity: 'referral', attempts: 2, successes: 2 },
      { month: '2026-10', activity: 'slot-search', attempts: 3, successes: 2 },
      { month: '2026-10', activity: 'update', attempts: 1, successes: 1 },
      { month: '2026-11', activity: 'slot-search', attempts: 1, successes: 1 },
    ]);
    expect(res.body.totals).toEqual({ attempts: 14, successes: 11 });
    // A cell's drill-down lists its very events.
    const book = res.body.rows.find((r: { activity: string }) => r.activity === 'book');
    const evidence = await get(book.evidence.attempts);
    expect(evidence.body.events.map((e: { type: string }) => e.type)).toEqual([
      'booking.attempted',
      'booking.attempted',
      'booking.attempted',
    ]);
  });

  it('activity-by-weekday: events on each weekday per such weekday in the period, in London days', async () => {
    const res = await get(`/api/reports/activity-by-weekday?${OCTOBER}`);
    expect(res.body.figures).toEqual(['weekdays', 'perDay']);
    expect(bare(res.body.rows)).toEqual([
      { weekday: 'Monday', attempts: 3, weekdays: 4, perDay: 0.75 },
      { weekday: 'Tuesday', attempts: 3, weekdays: 4, perDay: 0.75 },
      { weekday: 'Wednesday', attempts: 1, weekdays: 4, perDay: 0.25 },
      { weekday: 'Thursday', attempts: 2, weekdays: 5, perDay: 0.4 },
      { weekday: 'Friday', attempts: 2, weekdays: 5, perDay: 0.4 },
      { weekday: 'Saturday', attempts: 1, weekdays: 5, perDay: 0.2 },
      { weekday: 'Sunday', attempts: 1, weekdays: 4, perDay: 0.25 },
    ]);
    expect(res.body.totals).toEqual({ attempts: 13, weekdays: 31, perDay: 0.4194 });
    // A week with events on some days only still shows every weekday it has.
    const week = await get('/api/reports/activity-by-weekday?from=2026-10-05&to=2026-10-08');
    expect(bare(week.body.rows)).toEqual([
      { weekday: 'Monday', attempts: 2, weekdays: 1, perDay: 2 },
      { weekday: 'Tuesday', attempts: 3, weekdays: 1, perDay: 3 },
      { weekday: 'Wednesday', attempts: 1, weekdays: 1, perDay: 1 },
    ]);
  });

  it("activity-share: each activity's share of all events", async () => {
    const res = await get(`/api/reports/activity-share?${OCTOBER}`);
    expect(
      Object.fromEntries(
        res.body.rows.map((r: { activity: string; attempts: number; share: number }) => [
          r.activity,
          [r.attempts, r.share],
        ]),
      ),
    ).toEqual({
      book: [3, 0.2308],
      cancel: [1, 0.0769],
      capability: [1, 0.0769],
      'list-appointments': [1, 0.0769],
      'read-appointment': [1, 0.0769],
      referral: [2, 0.1538],
      'slot-search': [3, 0.2308],
      update: [1, 0.0769],
    });
    expect(res.body.totals).toEqual({ attempts: 13, share: 1 });
    // Shared outside: once a cell is withheld, no share is shown (a count over its share gives the total).
    const shared = await get(`/api/reports/activity-share?${OCTOBER}&suppress=2`);
    const book = shared.body.rows.find((r: { activity: string }) => r.activity === 'book');
    expect(book).toMatchObject({ attempts: 3, share: null });
    expect(shared.body.rows.every((r: { share: unknown }) => r.share === null)).toBe(true);
    expect(shared.body.totals).toMatchObject({ attempts: null, share: null });
  });

  it('activity-by-organisation: region, provider, service, activity', async () => {
    const res = await get(`/api/reports/activity-by-organisation?${OCTOBER}`);
    expect(res.body.groupBy).toEqual(['region', 'provider', 'service', 'activity']);
    const rows = bare(res.body.rows).map((r) =>
      [r.region, r.provider, r.service, r.activity, r.attempts, r.successes].join(' '),
    );
    expect(rows).toEqual([
      'E12000007 ed 2000011147 book 2 1',
      'E12000007 ed 2000011147 list-appointments 1 1',
      'E12000007 ed 2000011147 read-appointment 1 1',
      'E12000007 ed 2000011147 referral 1 1',
      'E12000007 ed 2000011147 slot-search 2 2',
      'E12000007 ed 2000011147 update 1 1',
      'E12000008 utc 3000033333 book 1 0',
      'E12000008 utc 3000033333 cancel 1 1',
      'E12000008 utc 3000033333 capability 1 1',
      'E12000008 utc 3000033333 referral 1 1',
      'E12000008 utc 3000033333 slot-search 1 0',
    ]);
  });
});

describe('providers', () => {
  it('provider-conformance: the share of answers that follow the standard, and of each error class', async () => {
    const res = await get(`/api/reports/provider-conformance?${OCTOBER}`);
    expect(bare(res.body.rows)).toEqual([
      {
        provider: 'ed',
        exchanges: 7,
        responses: 7,
        conforming: 5,
        wrongStatus: 0,
        missingOperationOutcome: 0,
        missingLocation: 0,
        instantsWithoutOffset: 1,
        notSearchset: 1,
        clientErrors: 1,
        serverErrors: 0,
        transportErrors: 0,
        conformingShare: 0.7143,
        clientErrorShare: 0.1429,
        serverErrorShare: 0,
        transportErrorShare: 0,
      },
      {
        provider: 'utc',
        exchanges: 5,
        responses: 4,
        conforming: 3,
        wrongStatus: 0,
        missingOperationOutcome: 1,
        missingLocation: 0,
        instantsWithoutOffset: 0,
        notSearchset: 0,
        clientErrors: 0,
        serverErrors: 1,
        transportErrors: 1,
        conformingShare: 0.75,
        clientErrorShare: 0,
        serverErrorShare: 0.2,
        transportErrorShare: 0.2,
      },
    ]);
  });

  it('provider-conformance shared outside: exchanges, responses and transport errors are withheld together', async () => {
    const res = await get(`/api/reports/provider-conformance?${OCTOBER}&suppress=2`);
    const utc = res.body.rows.find((r: { provider: string }) => r.provider === 'utc');
    // utc's one transport error is withheld; exchanges - responses would give it away.
    expect(utc).toMatchObject({ exchanges: null, responses: null, transportErrors: null, conforming: 3 });
    expect(utc.suppressed).toEqual(expect.arrayContaining(['exchanges', 'responses', 'transportErrors']));
    expect(res.body.totals).toMatchObject({ exchanges: null, responses: null, transportErrors: null });
  });

  it('provider-latency: p50 / p95 / p99 upstream latency and the error rate, per provider and interaction', async () => {
    const res = await get(`/api/reports/provider-latency?${OCTOBER}`);
    const rows = bare(res.body.rows).map((r) =>
      [r.provider, r.activity, r.exchanges, r.errors, r.errorRate, r.p50Ms, r.p95Ms, r.p99Ms].join(' '),
    );
    expect(rows).toEqual([
      'ed book 2 1 0.5 60 69 69.8',
      'ed list-appointments 1 0 0 8 8 8',
      'ed read-appointment 1 0 0 5 5 5',
      'ed slot-search 2 0 0 20 29 29.8',
      'ed update 1 0 0 15 15 15',
      // The booking utc never answered has no latency to tell.
      'utc book 1 1 1   ',
      'utc cancel 1 0 0 20 20 20',
      'utc capability 1 0 0 3 3 3',
      'utc referral 1 0 0 40 40 40',
      'utc slot-search 1 1 1 200 200 200',
    ]);
    // Eleven latencies: 3 5 8 10 15 20 30 40 50 70 200.
    expect(res.body.totals).toEqual({
      exchanges: 12,
      errors: 3,
      errorRate: 0.25,
      p50Ms: 20,
      p95Ms: 135,
      p99Ms: 187,
    });
    // Shared outside: a latency of fewer exchanges than k is withheld with their count.
    const shared = bare(
      (await get(`/api/reports/provider-latency?${OCTOBER}&provider=ed&suppress=2`)).body.rows,
    );
    expect(shared.find((r) => r.activity === 'slot-search')).toMatchObject({
      exchanges: 2,
      errors: 0,
      errorRate: 0,
      p50Ms: 20,
    });
    expect(shared.find((r) => r.activity === 'update')).toEqual({
      provider: 'ed',
      activity: 'update',
      exchanges: null,
      errors: 0,
      errorRate: null,
      p50Ms: null,
      p95Ms: null,
      p99Ms: null,
      suppressed: ['exchanges'],
    });
  });
});

describe.each([...OPERATIONAL, ...PROVIDER].map((r) => r.id))('%s in every format', (id) => {
  it('answers as JSON, as CSV with its figures, and as an R4 MeasureReport', async () => {
    const json = await get(`/api/reports/${id}?${OCTOBER}`);
    const csv = await get(`/api/reports/${id}?${OCTOBER}&format=csv`);
    const header = csv.text.split('\r\n')[0]!.split(',');
    expect(header).toEqual([...json.body.groupBy, ...json.body.measures, ...json.body.figures]);
    expect(csv.text.trimEnd().split('\r\n')).toHaveLength(json.body.rows.length + 1);
    const fhir = await get(`/api/reports/${id}?${OCTOBER}&format=fhir`);
    expect(r4Problems(fhir.body)).toEqual([]);
    expect(fhir.body.group.map((g: { id: string }) => g.id)).toEqual([
      ...json.body.measures,
      ...json.body.figures,
    ]);
    const measure = await get(`/api/fhir/Measure/${id}`);
    expect(r4Problems(measure.body)).toEqual([]);
  });
});
