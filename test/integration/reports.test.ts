import { sql } from 'kysely';
import request from 'supertest';
import { eventsJson } from '../../src/capture/captured.js';
import { newId } from '../../src/ids.js';
import { ALL_REPORTS, REPORTS } from '../../src/reports/catalogue.js';
import { SUPPRESSED_EXTENSION } from '../../src/reports/fhir-measure.js';
import { insertEventsJson } from '../../src/store/json-inserts.js';
import type { NewEventRow } from '../../src/store/tables/event.table.js';
import { metricEvent } from '../helpers/events.js';
import { bearer, buildTestApp } from '../helpers/app.js';
import { r4Problems } from '../helpers/fhir-r4.js';
import { TEST_PROVIDER } from '../helpers/observed.js';
import { fixture } from '../helpers/sandbox.js';
import { outcomeCode } from '../helpers/outcome.js';
import { openTestStore, type TestStore } from '../helpers/store.js';

/*
 * The national metrics over a hand-made set of episodes whose every count is known: each report's
 * numbers, buckets in the reporting timezone, rates, drill-down to the very events, CSV, suppression.
 */

let store: TestStore;
beforeAll(async () => {
  store = await openTestStore();
  for (const table of ['events', 'episode_keys', 'episodes', 'exchanges', 'ingest_records'])
    await sql`delete from ${sql.table(table)}`.execute(store.db);
  await insertEventsJson(store.db, eventsJson(EVENTS));
  // Episodes A to C as resolution keeps them, with the counts reports read; D has no row (an episode of
  // an older version): its referral is judged from its events. Both ways must count the same.
  const episode = (id: string, attributes: Record<string, number>) => ({
    id,
    opened_at: new Date('2026-10-10T09:00:00Z'),
    last_activity_at: new Date('2026-10-10T09:00:00Z'),
    attributes: JSON.stringify(attributes),
  });
  await store.db
    .insertInto('episodes')
    .values([
      episode(EPISODE.A, { bookings: 1, searches: 2, searchesOffering: 2, slotsInTime: 1 }),
      episode(EPISODE.B, { bookings: 0, searches: 1, searchesOffering: 0, slotsInTime: 0 }),
      episode(EPISODE.C, { bookings: 0, searches: 1, searchesOffering: 1, slotsInTime: 0 }),
    ])
    .execute();
});
afterAll(() => store.dispose());

const EPISODE = { A: newId(), B: newId(), C: newId(), D: newId(), E: newId(), F: newId() };

function event(
  type: string,
  at: string,
  attributes: Record<string, unknown>,
  over: Partial<NewEventRow> = {},
): NewEventRow {
  return metricEvent(type, at, attributes, {
    provider_id: 'ed',
    service_id: '2000011147',
    episode_id: EPISODE.A,
    ...over,
  });
}
const slot = (key: string, wouldBreach: boolean) => ({ key, start: '2026-10-10T10:00:00.000Z', wouldBreach });

/** A cancellation in a later call, of a consumer the collector could not tell. */
const NO_CONSUMER = event(
  'booking.cancelled',
  '2026-10-20T09:00:00Z',
  { sameEncounter: false, partOfRebooking: false },
  { consumer_org: null },
);

/** The booking in episode A, and the same exchange's event under an older rule version (not counted twice). */
const BOOKED = event('booking.attempted', '2026-10-10T09:05:00Z', { outcome: 'booked' });

const EVENTS: NewEventRow[] = [
  // Episode A (Dx02, ed): referred, two searches offering k1 (in time once, late once) and k2 (late), booked.
  event('referral.made', '2026-10-10T09:00:00Z', {}),
  event('slot.searched', '2026-10-10T09:01:00Z', {
    offered: 2,
    slots: [slot('ed|k1', false), slot('ed|k2', true)],
  }),
  event('slot.searched', '2026-10-10T09:02:00Z', { offered: 1, slots: [slot('ed|k1', true)] }),
  event('booking.attempted', '2026-10-10T09:03:00Z', {
    outcome: 'slot_unavailable',
    issueCodes: ['conflict'],
    detailCodes: ['SLOT_UNAVAILABLE'],
  }),
  BOOKED,
  { ...BOOKED, id: newId(), rule_version: '2026-01-01.1' },
  // A search without a deadline (no disposition): its slot's breach is unknown.
  event(
    'slot.searched',
    '2026-10-14T09:01:00Z',
    { offered: 1, slots: [{ key: 'ed|k9', start: '2026-10-14T10:00:00.000Z' }] },
    { disposition: null, episode_id: null },
  ),
  // Episode B (Dx02, ed): referred, searched, nothing offered, not booked.
  event('referral.made', '2026-10-11T09:00:00Z', {}, { episode_id: EPISODE.B }),
  event('slot.searched', '2026-10-11T09:01:00Z', { offered: 0, slots: [] }, { episode_id: EPISODE.B }),
  // Episode C (Dx03, utc): referred, offered one slot that would breach, not booked.
  event(
    'referral.made',
    '2026-10-12T09:00:00Z',
    {},
    {
      episode_id: EPISODE.C,
      disposition: 'Dx03',
      provider_id: 'utc',
      data_quality: ['ingested-late'],
      source_kind: 'ingest',
    },
  ),
  event(
    'slot.searched',
    '2026-10-12T09:01:00Z',
    { offered: 1, slots: [slot('utc|k3', true)] },
    { episode_id: EPISODE.C, disposition: 'Dx03', provider_id: 'utc' },
  ),
  // Episode D: referred (just after midnight London time on 1 October: still in October), never searched.
  event(
    'referral.made',
    '2026-09-30T23:30:00Z',
    {},
    { episode_id: EPISODE.D, data_quality: ['disposition-unknown'] },
  ),
  // Not counted: a referral the provider refused, one before the period (23:30 on 30 September, London).
  event('referral.made', '2026-10-13T09:00:00Z', { succeeded: false }, { episode_id: EPISODE.D }),
  event('referral.made', '2026-09-30T22:30:00Z', {}, { episode_id: EPISODE.D }),
  // Directory selections: one passing over a bookable first entry.
  event('service.selected', '2026-10-10T08:59:00Z', { topBookableRejected: true }, { source_kind: 'ingest' }),
  event(
    'service.selected',
    '2026-10-11T08:59:00Z',
    { topBookableRejected: false },
    { source_kind: 'ingest' },
  ),
  // Cancellations: in the call, in the call as part of a re-booking, later, and one refused.
  event('booking.cancelled', '2026-10-10T09:10:00Z', { sameEncounter: true, partOfRebooking: false }),
  event('booking.cancelled', '2026-10-10T09:11:00Z', { sameEncounter: true, partOfRebooking: true }),
  event('booking.rebooked', '2026-10-10T09:12:00Z', { how: 'cancel-and-book' }),
  NO_CONSUMER,
  event('booking.cancelled', '2026-10-20T09:05:00Z', { succeeded: false }),
  // November, episode E: explicit `replaces` re-bookings: one in the call of the booking it replaces,
  // one in a later call (not rep-cons-08's: that asks for the same encounter).
  ...(() => {
    const inE = (encounter: string) => ({ episode_id: EPISODE.E, encounter_id: encounter });
    return [
      event(
        'booking.attempted',
        '2026-11-05T09:00:00Z',
        { outcome: 'booked', appointmentId: 'X1' },
        inE('call-1'),
      ),
      event(
        'booking.rebooked',
        '2026-11-05T09:05:00Z',
        { how: 'replaces', replaces: ['Appointment/X1'] },
        inE('call-1'),
      ),
      event(
        'booking.attempted',
        '2026-11-05T09:06:00Z',
        { outcome: 'booked', appointmentId: 'Y1' },
        inE('call-1'),
      ),
      event(
        'booking.rebooked',
        '2026-11-06T09:00:00Z',
        { how: 'replaces', replaces: ['https://ed.example/Appointment/Y1/_history/2'] },
        inE('call-2'),
      ),
      // Episode F: the patient calls back and re-books: the new booking replaces the old one and the old one
      // is cancelled in that same call, a cancellation and a new booking in one encounter (rep-cons-08).
      event(
        'booking.attempted',
        '2026-11-10T09:00:00Z',
        { outcome: 'booked', appointmentId: 'Z1' },
        { episode_id: EPISODE.F, encounter_id: 'call-f1' },
      ),
      event(
        'booking.rebooked',
        '2026-11-11T09:00:00Z',
        { how: 'replaces', replaces: ['Appointment/Z1'] },
        { episode_id: EPISODE.F, encounter_id: 'call-f2' },
      ),
      event(
        'booking.cancelled',
        '2026-11-11T09:01:00Z',
        { appointmentId: 'Z1', sameEncounter: false, partOfRebooking: true },
        { episode_id: EPISODE.F, encounter_id: 'call-f2' },
      ),
    ];
  })(),
];

const get = (path: string, role: 'report' | 'ingest' = 'report') =>
  request(buildTestApp(store)).get(path).set('Authorization', bearer(role));

const OCTOBER = 'from=2026-10-01&to=2026-11-01';

/** Every national metric's totals over October, as the counting rules of reports.md give them. */
const EXPECTED: Record<string, Record<string, number | null>> = {
  'rep-prov-01': { bookings: 1 },
  'rep-cons-01': { bookings: 1, referrals: 4, rate: 0.25 },
  'rep-prov-02': { bookings: 1, referrals: 4, rate: 0.25 },
  'rep-prov-03': { bookings: 1, slotsOffered: 4 },
  'rep-cons-10': { bookings: 1, slotsWithinDeadline: 1 },
  'rep-cons-11': { bookings: 1, slotsBeyondDeadline: 2 },
  'rep-prov-04': { referralsNotBooked: 3, referrals: 4, rate: 0.75 },
  'rep-cons-02': { referralsNotBooked: 1, noSearch: 1 },
  'rep-cons-03': { referralsNotBooked: 1 },
  'rep-cons-12': { referralsNotBooked: 1 },
  'rep-cons-04': { slotUnavailable: 1 },
  'rep-cons-05': { topBookableRejected: 1, selections: 2 },
  'rep-cons-06': { failedAttempts: 1 },
  'rep-cons-07': { cancelledSameEncounter: 1 },
  'rep-cons-08': { rebookings: 1 },
  'rep-cons-09': { cancelledLater: 1 },
  'rep-prov-05': { cancellations: 3 },
};

describe('GET /api/reports', () => {
  it('lists every national metric with its measures and groupings', async () => {
    const res = await get('/api/reports').expect(200);
    const ids = (res.body.reports as { id: string }[]).map((r) => r.id).sort();
    expect(ids).toEqual(ALL_REPORTS.map((r) => r.id).sort());
    expect(ids).toEqual(expect.arrayContaining(Object.keys(EXPECTED)));
    const utilisation = res.body.reports.find((r: { id: string }) => r.id === 'rep-cons-01');
    expect(utilisation).toMatchObject({
      measures: [{ name: 'bookings' }, { name: 'referrals' }],
      rates: [{ name: 'rate', numerator: 'bookings', denominator: 'referrals' }],
    });
    expect(utilisation.groupBy).toEqual(expect.arrayContaining(['month', 'provider', 'disposition']));
  });
});

describe('GET /api/reports/{id}', () => {
  it.each(REPORTS.map((r) => r.id))('%s counts by its rule', async (id) => {
    const res = await get(`/api/reports/${id}?${OCTOBER}`).expect(200);
    const { evidence: _e, ...totals } = res.body.totals;
    expect(totals).toEqual(EXPECTED[id]);
    expect(res.body.period).toEqual({
      from: '2026-10-01T00:00:00+01:00',
      to: '2026-11-01T00:00:00Z',
      timezone: 'Europe/London',
    });
  });

  it('groups per the dimensions asked, with a rate and a drill-down link per cell that lists its events', async () => {
    const res = await get(`/api/reports/rep-cons-01?${OCTOBER}&groupBy=month,provider`).expect(200);
    expect(res.body.rows.map(({ evidence: _e, ...row }: Record<string, unknown>) => row)).toEqual([
      { month: '2026-10', provider: 'ed', bookings: 1, referrals: 3, rate: 0.3333 },
      { month: '2026-10', provider: 'utc', bookings: 0, referrals: 1, rate: 0 },
    ]);
    const drill = await get(res.body.rows[0].evidence.referrals).expect(200);
    expect(drill.body.events.map((e: { type: string }) => e.type)).toEqual([
      'referral.made',
      'referral.made',
      'referral.made',
    ]);
    expect(drill.body.events[0]).toMatchObject({
      occurred_at: '2026-09-30T23:30:00.000Z',
      evidence: { exchange: expect.any(String) },
    });
    // Paged: a cursor to the rest.
    const first = await get(`${res.body.rows[0].evidence.referrals}&limit=2`).expect(200);
    expect(first.body.events).toHaveLength(2);
    const rest = await get(first.body.next).expect(200);
    expect(rest.body.events.map((e: { id: string }) => e.id)).toEqual([drill.body.events[2].id]);
  });

  it('counts the slots of rep-cons-10 and -11 per disposition, disjoint, adding up to those offered', async () => {
    const within = await get(`/api/reports/rep-cons-10?${OCTOBER}`).expect(200);
    const beyond = await get(`/api/reports/rep-cons-11?${OCTOBER}`).expect(200);
    const per = (rows: Record<string, unknown>[], measure: string) =>
      Object.fromEntries(rows.map((r) => [r.disposition, r[measure]]));
    expect(per(within.body.rows, 'slotsWithinDeadline')).toEqual({ Dx02: 1, Dx03: 0 });
    expect(per(beyond.body.rows, 'slotsBeyondDeadline')).toEqual({ Dx02: 1, Dx03: 1 });
    // A slot offered without a deadline is in neither, and said so.
    expect(within.body.dataQuality.slotsBreachUnknown).toBe(1);
    // Their drill-downs list the searches the count took: k1 within (the first search only); k2 beyond.
    const dx02 = (rows: { disposition: string }[]) => rows.find((r) => r.disposition === 'Dx02') as any;
    const inTime = await get(dx02(within.body.rows).evidence.slotsWithinDeadline).expect(200);
    expect(inTime.body.events.map((e: { id: string }) => e.id)).toEqual([EVENTS[1]!.id]);
    const late = await get(dx02(beyond.body.rows).evidence.slotsBeyondDeadline).expect(200);
    expect(late.body.events.map((e: { id: string }) => e.id)).toEqual([EVENTS[1]!.id]);
  });

  it('drills down into a cell without a value (a provider-less event) as into any other', async () => {
    const res = await get(`/api/reports/rep-prov-05?${OCTOBER}&groupBy=consumer`).expect(200);
    const none = res.body.rows.find((r: { consumer: string | null }) => r.consumer === null);
    expect(none).toMatchObject({ cancellations: 1 });
    expect(none.evidence.cancellations).toContain('cell.consumer=%28none%29');
    const drill = await get(none.evidence.cancellations).expect(200);
    expect(drill.body.events.map((e: { id: string }) => e.id)).toEqual([NO_CONSUMER.id]);
  });

  it('groups booking failures by outcome and error code, and buckets weekdays in the reporting timezone', async () => {
    const failures = await get(`/api/reports/rep-cons-06?${OCTOBER}`).expect(200);
    expect(failures.body.rows).toMatchObject([
      { outcome: 'slot_unavailable', errorCode: 'SLOT_UNAVAILABLE', failedAttempts: 1 },
    ]);
    const referrals = await get(`/api/reports/rep-cons-01?${OCTOBER}&groupBy=weekday`).expect(200);
    // 1 October 2026 (00:30 London) is a Thursday; 10-12 October a Saturday, Sunday and Monday.
    expect(
      Object.fromEntries(referrals.body.rows.map((r: Record<string, unknown>) => [r.weekday, r.referrals])),
    ).toEqual({ Thursday: 1, Saturday: 1, Sunday: 1, Monday: 1 });
  });

  it('filters, reports data quality, suppresses small numbers, and answers CSV', async () => {
    const utc = await get(`/api/reports/rep-cons-01?${OCTOBER}&provider=utc`).expect(200);
    expect(utc.body.totals).toMatchObject({ bookings: 0, referrals: 1, rate: 0 });
    expect(utc.body.filters).toEqual({ provider: 'utc' });
    const quality = await get(`/api/reports/rep-prov-04?${OCTOBER}`).expect(200);
    expect(quality.body.dataQuality).toMatchObject({ ingestedLate: 1, dispositionUnknown: 1 });

    const suppressed = await get(`/api/reports/rep-cons-01?${OCTOBER}&groupBy=provider&suppress=3`).expect(
      200,
    );
    expect(suppressed.body.rows[0]).toMatchObject({
      provider: 'ed',
      bookings: null,
      referrals: 3,
      rate: null,
      suppressed: ['bookings'],
    });
    // Nothing gives the withheld count away: not the total, not the data quality, not a link.
    expect(suppressed.body.rows[0].evidence).toEqual({ referrals: expect.any(String) });
    expect(suppressed.body.totals).toMatchObject({ bookings: null, referrals: null, rate: null }); // utc's 1 referral is withheld too
    expect(suppressed.body.dataQuality).toMatchObject({ ingestedLate: null, dispositionUnknown: null });

    const csv = await get(`/api/reports/rep-cons-01?${OCTOBER}&groupBy=month,provider&format=csv`).expect(
      200,
    );
    expect(csv.headers['content-type']).toMatch(/^text\/csv/);
    expect(csv.text).toBe(
      'month,provider,bookings,referrals,rate\r\n2026-10,ed,1,3,0.3333\r\n2026-10,utc,0,1,0\r\n',
    );
  });

  it('refuses what it cannot answer: 400 naming the parameter, 404 for an unknown report, 403 without the role', async () => {
    const cases: [string, string][] = [
      ['/api/reports/rep-cons-01?to=2026-11-01', 'from'],
      ['/api/reports/rep-cons-01?from=2026-13-01&to=2026-11-01', 'from'],
      ['/api/reports/rep-cons-01?from=2026-11-01&to=2026-10-01', 'from'],
      ['/api/reports/rep-cons-01?from=2026-10-01T00:00:00&to=2026-11-01', 'from'],
      [`/api/reports/rep-cons-01?${OCTOBER}&groupBy=colour`, 'groupBy'],
      [`/api/reports/rep-cons-01?${OCTOBER}&groupBy=month,month`, 'groupBy'],
      [`/api/reports/rep-cons-01?${OCTOBER}&groupBy=outcome`, 'groupBy'],
      [`/api/reports/rep-cons-01?${OCTOBER}&suppress=1`, 'suppress'],
      [`/api/reports/rep-cons-01?${OCTOBER}&format=xml`, 'format'],
      [`/api/reports/rep-cons-01?${OCTOBER}&provider=a&provider=b`, 'provider'],
      [`/api/events?${OCTOBER}&report=rep-cons-01&measure=slots`, 'measure'],
      ['/api/reports/rep-cons-01?from=2026-02-30&to=2026-11-01', 'from'],
      ['/api/reports/rep-cons-01?from=0000-01-01&to=2026-11-01', 'from'],
      [`/api/reports/rep-cons-01?${OCTOBER}&useCase=a1t1`, 'useCase'],
      // London's 1 October began at 23:00 UTC: this period ends before it begins.
      ['/api/reports/rep-cons-01?from=2026-10-01&to=2026-09-30T22:30:00Z', 'from'],
      [`/api/events?${OCTOBER}&report=rep-cons-01&measure=bookings&limit=-1`, 'limit'],
      [`/api/events?${OCTOBER}&report=rep-cons-01&measure=bookings&limit=2.5`, 'limit'],
      [
        `/api/events?${OCTOBER}&report=rep-cons-01&measure=bookings&after=${Buffer.from('x|y').toString('base64url')}`,
        'after',
      ],
    ];
    for (const [path, parameter] of cases) {
      const res = await get(path).expect(400);
      expect({ path, code: outcomeCode(res.body), expression: res.body.issue[0].expression }).toEqual({
        path,
        code: 'BAD_REQUEST',
        expression: [parameter],
      });
    }
    expect(outcomeCode((await get(`/api/reports/rep-cons-99?${OCTOBER}`).expect(404)).body)).toBe(
      'NOT_FOUND',
    );
    expect(outcomeCode((await get(`/api/reports/rep-cons-01?${OCTOBER}`, 'ingest').expect(403)).body)).toBe(
      'FORBIDDEN',
    );
  });
});

describe('rep-cons-08 and explicit replaces', () => {
  it('counts a re-booking that replaces a booking of the same call, or cancels the one it replaces in its own call; not one that only replaces a booking of an earlier call', async () => {
    const res = await get('/api/reports/rep-cons-08?from=2026-11-01&to=2026-12-01').expect(200);
    expect(res.body.totals).toEqual({ rebookings: 2 });
  });
});

describe('reports by region', () => {
  /** ed serves two DoS services in London, utc one in the South East. */
  const regional = () =>
    buildTestApp(store, {
      config: {
        providers: [
          { ...TEST_PROVIDER, id: 'ed', region: 'E12000007', dosServiceIds: ['2000011147', '2000022222'] },
          { ...TEST_PROVIDER, id: 'utc', region: 'E12000008', dosServiceIds: ['3000033333'] },
        ],
      },
    });
  const fetchRegional = (path: string) =>
    request(regional()).get(path).set('Authorization', bearer('report')).expect(200);

  it('counts bookings per 1000 inhabitants of each region (population table bundled, ONS mid-2022)', async () => {
    const res = await fetchRegional(`/api/reports/bookings-per-1000?${OCTOBER}`);
    expect(res.body.rows.map(({ evidence: _e, ...row }: Record<string, unknown>) => row)).toEqual([
      { region: 'E12000007', bookings: 1, population: 8_866_000, per1000: 0.000113 },
    ]);
    expect(res.body.totals).toEqual({ bookings: 1, population: 8_866_000, per1000: 0.000113 });
  });

  it('sets services connected against services active, per region, and filters and groups by region', async () => {
    const res = await fetchRegional(`/api/reports/units-connected-vs-active?${OCTOBER}`);
    expect(res.body.rows.map(({ evidence: _e, ...row }: Record<string, unknown>) => row)).toEqual([
      { region: 'E12000007', servicesBooked: 1, servicesSearched: 1, servicesConnected: 2 },
      { region: 'E12000008', servicesBooked: 0, servicesSearched: 1, servicesConnected: 1 },
    ]);
    // Totals add the regions up (a service counts in each region it was active in).
    expect(res.body.totals).toEqual({ servicesBooked: 1, servicesSearched: 2, servicesConnected: 3 });
    const southEast = await fetchRegional(`/api/reports/rep-cons-01?${OCTOBER}&region=E12000008`);
    expect(southEast.body.totals).toMatchObject({ bookings: 0, referrals: 1 });
    const byRegion = await fetchRegional(`/api/reports/rep-cons-01?${OCTOBER}&groupBy=region`);
    expect(
      Object.fromEntries(byRegion.body.rows.map((r: Record<string, unknown>) => [r.region, r.referrals])),
    ).toEqual({ E12000007: 3, E12000008: 1 });
  });
});

describe('the FHIR view', () => {
  it('answers a report as an R4 MeasureReport: a group per measure, the rate, strata per groupBy', async () => {
    const res = await get(`/api/reports/rep-cons-01?${OCTOBER}&groupBy=provider&format=fhir`).expect(200);
    expect(res.headers['content-type']).toMatch(/^application\/fhir\+json/);
    const report = res.body;
    expect(r4Problems(report)).toEqual([]);
    expect(report).toMatchObject({
      resourceType: 'MeasureReport',
      status: 'complete',
      type: 'summary',
      measure: 'https://booking-event-collector.nhs.example/fhir/Measure/rep-cons-01|1',
      period: { start: '2026-10-01T00:00:00+01:00', end: '2026-10-31T23:59:59.999Z' },
    });
    const group = (id: string) => report.group.find((g: { id: string }) => g.id === id);
    expect(report.group.map((g: { id: string }) => g.id)).toEqual(['bookings', 'referrals', 'rate']);
    expect(group('referrals').population[0]).toMatchObject({
      code: { coding: [{ code: 'initial-population' }] },
      count: 4,
    });
    expect(group('rate').measureScore).toEqual({ value: 0.25 });
    expect(group('rate').population.map((p: { count: number }) => p.count)).toEqual([1, 4]);
    const strata = group('rate').stratifier[0].stratum;
    expect(
      strata.map((s: any) => [
        s.component[0].value.text,
        s.population.map((p: any) => p.count),
        s.measureScore?.value,
      ]),
    ).toEqual([
      ['ed', [1, 3], 0.3333],
      ['utc', [0, 1], 0],
    ]);
    // A suppressed count has no number, and says why.
    const shared = await get(
      `/api/reports/rep-cons-01?${OCTOBER}&groupBy=provider&format=fhir&suppress=3`,
    ).expect(200);
    expect(r4Problems(shared.body)).toEqual([]);
    const bookingsEd = shared.body.group[0].stratifier[0].stratum[0].population[0];
    expect(bookingsEd.count).toBeUndefined();
    expect(bookingsEd.extension[0]).toEqual({ url: SUPPRESSED_EXTENSION, valueBoolean: true });
  });

  it('publishes a Measure per report at /api/fhir/Measure, and evaluates one at /api/fhir/MeasureReport', async () => {
    const measures = await get('/api/fhir/Measure').expect(200);
    expect(r4Problems(measures.body)).toEqual([]);
    expect(measures.body.total).toBe(ALL_REPORTS.length);
    const utilisation = await get('/api/fhir/Measure/rep-cons-01').expect(200);
    expect(utilisation.body).toMatchObject({
      resourceType: 'Measure',
      url: 'https://booking-event-collector.nhs.example/fhir/Measure/rep-cons-01',
      status: 'active',
      scoring: { coding: [{ code: 'ratio' }] },
    });
    expect(utilisation.body.group.map((g: { id: string }) => g.id)).toEqual([
      'bookings',
      'referrals',
      'rate',
    ]);
    const evaluated = await get(
      `/api/fhir/MeasureReport?measure=${encodeURIComponent(utilisation.body.url)}&${OCTOBER}`,
    ).expect(200);
    expect(r4Problems(evaluated.body)).toEqual([]);
    expect(evaluated.body.entry[0].resource.group[2].measureScore).toEqual({ value: 0.25 });
    await get('/api/fhir/Measure/rep-cons-99').expect(404);
  });

  it('checks against R4 for real: the published BaRS examples pass, a misplaced or mistyped element is named', () => {
    for (const example of [
      'process-message-referral-validation-request',
      'process-message-booking-request',
      'slot-search-response',
    ])
      expect(r4Problems(fixture(`bars/${example}.json`))).toEqual([]);
    expect(
      r4Problems({
        resourceType: 'MeasureReport',
        status: 'complete',
        group: { id: 'not an array' },
        period: { start: 3 },
        colour: 'red',
        extension: [{ url: 'x', valueBoolean: 'yes' }],
      } as never),
    ).toEqual([
      'MeasureReport.group: repeats: expected an array',
      'MeasureReport.period.start: expected a string (dateTime)',
      'MeasureReport.colour: no such element in R4',
      'MeasureReport.extension[0].valueBoolean: expected a boolean',
    ]);
  });
});
