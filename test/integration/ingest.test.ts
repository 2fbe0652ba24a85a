import request from 'supertest';
import { sql } from 'kysely';
import { eventsJson } from '../../src/capture/captured.js';
import { deriveEvents } from '../../src/derive/derive.js';
import { stitchAll, type StitchOptions } from '../../src/derive/stitch-episodes.js';
import { loadDerivationTables } from '../../src/derive/tables.js';
import { createPatientHasher } from '../../src/privacy/patient-hash.js';
import { insertEventsJson } from '../../src/store/json-inserts.js';
import type { Config } from '../../src/config/config.types.js';
import { bearer, buildTestApp } from '../helpers/app.js';
import { TEST_PROVIDER } from '../helpers/observed.js';
import { exchangeOf, JSON_TYPE, referralBundle } from '../helpers/journey.js';
import { outcomeCode } from '../helpers/outcome.js';
import { fixture } from '../helpers/sandbox.js';
import { openTestStore, type TestStore } from '../helpers/store.js';

/*
 * POST /api/events: off-wire events stored with their metric events, all or nothing, idempotent by the
 * client's id, and joined into the wire's episodes. The test app's clock says 2026-11-22T10:00:00Z.
 */

const tables = loadDerivationTables({});
const hash = createPatientHasher('test-hash-secret-0123456789-0123456789');
const stitching: StitchOptions = { windowMs: 12 * 3600_000, encounterWindowMs: 3600_000, maxEvents: 100 };
const NHS_NUMBER = '1234554321'; // the STU3 book example's patient (a valid check digit)
let store: TestStore;

beforeAll(async () => {
  store = await openTestStore();
});
afterAll(() => store.dispose());
beforeEach(async () => {
  for (const table of ['events', 'episode_keys', 'episodes', 'exchanges', 'ingest_records'])
    await sql`delete from ${sql.table(table)}`.execute(store.db);
});

/** The app under test, with the providers events may name. */
const app = (config: Partial<Config> = {}) =>
  buildTestApp(store, {
    config: { providers: [{ ...TEST_PROVIDER, dosServiceIds: ['2000011147'] }], ...config },
  });

let n = 0;
/** A referral as a 111 system posts it, with an id of its own. */
function referral(over: Record<string, unknown> = {}) {
  n += 1;
  return {
    id: `case-77-referral-${n}`,
    type: 'referral.made',
    occurredAt: '2026-11-22T09:50:00Z',
    correlation: { traceId: `trace-${n}`, caseId: `case-77-${n}`, nhsNumber: NHS_NUMBER },
    consumerOrg: 'NHS111',
    disposition: { code: 'DX02', at: '2026-11-22T09:48:00Z' },
    referredTo: { serviceId: '2000011147', providerId: 'ed' },
    ...over,
  };
}

const post = (
  body: unknown,
  options: { app?: ReturnType<typeof buildTestApp>; type?: string; headers?: Record<string, string> } = {},
) =>
  request(options.app ?? app())
    .post('/api/events')
    .set('Authorization', bearer('ingest'))
    .set('Content-Type', options.type ?? 'application/json')
    .set(options.headers ?? {})
    .send(typeof body === 'string' ? body : JSON.stringify(body));

const target = Buffer.from(
  JSON.stringify({ system: 'https://fhir.nhs.uk/Id/dos-service-id', value: '2000011147' }),
).toString('base64');
/** A referral posted through the FHIR door, in the call C0RR-1, for the DoS service 2000011147. */
const postFhir = (body: unknown) =>
  post(body, {
    type: 'application/fhir+json',
    headers: { 'X-Correlation-ID': 'C0RR-1', 'NHSD-Target-Identifier': target },
  });

const storedEvents = () =>
  store.db
    .selectFrom('events')
    .selectAll()
    .where('source_kind', '=', 'ingest')
    .orderBy('occurred_at')
    .execute();

describe('POST /api/events', () => {
  it('stores a referral with its metric event: disposition and deadline from the table, keys, the patient hashed', async () => {
    const sent = referral();
    const res = await post(sent).expect(201);
    expect(res.body).toMatchObject({
      created: 1,
      duplicates: 0,
      events: [{ id: sent.id, status: 'created', late: false }],
    });
    const [event] = await storedEvents();
    expect(event).toMatchObject({
      type: 'referral.made',
      source_kind: 'ingest',
      source_id: res.body.events[0].ingestId,
      disposition: 'Dx02', // the table's spelling
      deadline_source: 'disposition',
      service_id: '2000011147',
      provider_id: 'ed',
      consumer_org: 'NHS111',
      patient_hash: hash(NHS_NUMBER),
      data_quality: [],
    });
    expect(new Date(event!.deadline!).toISOString()).toBe('2026-11-22T10:48:00.000Z'); // Dx02: 1 hour
    expect(event!.correlation_keys).toEqual([`case:case-77-${n}`, `trace:trace-${n}`]);
    // The NHS number itself is stored nowhere.
    const records = await store.db.selectFrom('ingest_records').selectAll().execute();
    expect(JSON.stringify(records)).not.toContain(NHS_NUMBER);
    expect(JSON.stringify(await storedEvents())).not.toContain(NHS_NUMBER);
  });

  it('takes a batch, and the other two types: a directory selection and an error on the screen', async () => {
    const res = await post({
      events: [
        {
          id: 'sel-1',
          type: 'service.selected',
          occurredAt: '2026-11-22T09:49:00Z',
          correlation: { caseId: 'case-88' },
          disposition: { code: 'Dx03' },
          ranked: [
            { serviceId: '111', bookable: true },
            { serviceId: '222', bookable: false },
            { serviceId: '333', bookable: true },
          ],
          chosenServiceId: '333',
        },
        {
          id: 'err-1',
          type: 'consumer.error',
          occurredAt: '2026-11-22T09:51:00Z',
          correlation: { caseId: 'case-88' },
          where: 'booking',
          message: `Booking failed for patient ${NHS_NUMBER}: slot taken \ud800`,
          code: `E-409/${NHS_NUMBER}`,
          providerId: 'ed',
        },
      ],
    }).expect(201);
    expect(res.body.created).toBe(2);
    const [selected, error] = await storedEvents();
    expect(selected).toMatchObject({
      type: 'service.selected',
      service_id: '333',
      disposition: 'Dx03',
      attributes: { chosenRank: 3, topBookable: true, topBookableRejected: true },
    });
    expect(error).toMatchObject({
      type: 'consumer.error',
      provider_id: 'ed',
      attributes: { where: 'booking', code: `E-409/hash:${hash(NHS_NUMBER)}` },
      correlation_keys: ['case:case-88'],
    });
    // An NHS number in the text is hashed like any other; a lone surrogate (jsonb refuses it) replaced.
    expect((error!.attributes as { message: string }).message).toBe(
      `Booking failed for patient hash:${hash(NHS_NUMBER)}: slot taken \ufffd`,
    );
    const records = JSON.stringify(await store.db.selectFrom('ingest_records').selectAll().execute());
    expect(records).not.toContain(NHS_NUMBER);
  });

  it('counts a retry once, and answers it as before', async () => {
    const sent = referral();
    const first = await post(sent).expect(201);
    const again = await post(sent).expect(200);
    expect(again.body).toEqual({
      created: 0,
      duplicates: 1,
      events: [{ ...first.body.events[0], status: 'duplicate' }],
    });
    expect(await storedEvents()).toHaveLength(1);
  });

  it('counts identical posts racing each other once', async () => {
    const sent = { events: [referral(), referral()] };
    const answers = await Promise.all(Array.from({ length: 8 }, () => post(sent)));
    expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 201]);
    const ingestIds = new Set(
      answers.flatMap((a) => a.body.events.map((e: { ingestId: string }) => e.ingestId)),
    );
    expect(ingestIds.size).toBe(2);
    expect(await storedEvents()).toHaveLength(2);
    expect(await store.db.selectFrom('ingest_records').select('id').execute()).toHaveLength(2);
  });

  it('refuses an id reused for different content (409), keeping nothing of that batch', async () => {
    const sent = referral();
    await post(sent).expect(201);
    const fresh = referral();
    const res = await post({
      events: [fresh, { ...sent, disposition: { code: 'Dx03', at: '2026-11-22T09:48:00Z' } }],
    }).expect(409);
    expect(outcomeCode(res.body)).toBe('EVENT_ID_CONFLICT');
    expect(res.body.issue[0].expression).toEqual(['events[1].id']);
    const stored = await storedEvents();
    expect(stored.map((e) => e.disposition)).toEqual(['Dx02']); // the first one only, unchanged
  });

  it('refuses a whole batch when one event is bad, naming each problem by its path (422)', async () => {
    const res = await post({
      events: [
        referral(),
        referral({ disposition: { code: 'chest pain', at: '2026-11-22T09:48:00Z' }, colour: 'red' }),
        referral({ correlation: { nhsNumber: '1234554322' } }),
        referral({ occurredAt: '2026-11-22T11:00:00Z' }),
        { type: 'booking.made' },
      ],
    }).expect(422);
    expect(outcomeCode(res.body)).toBe('EVENTS_INVALID');
    const paths = (res.body.issue as { expression: string[] }[]).map((i) => i.expression[0]).sort();
    expect(paths).toEqual([
      'events[1].colour',
      'events[1].disposition.code',
      'events[2].correlation.nhsNumber',
      'events[3].occurredAt',
      'events[4].type',
    ]);
    // The bad NHS number is not echoed back.
    expect(JSON.stringify(res.body)).not.toContain('1234554322');
    expect(await storedEvents()).toHaveLength(0);
    expect(await store.db.selectFrom('ingest_records').select('id').execute()).toHaveLength(0);
  });

  it('takes an event that arrives late, flagged late; refuses one repeated within a batch', async () => {
    const late = referral({ occurredAt: '2026-11-22T07:00:00Z' });
    const res = await post(late).expect(201);
    expect(res.body.events[0].late).toBe(true);
    const [event] = await storedEvents();
    expect(event!.data_quality).toEqual(['ingested-late']);
    const record = await store.db.selectFrom('ingest_records').select('late').executeTakeFirstOrThrow();
    expect(record.late).toBe(true);

    const twice = referral();
    const repeated = await post({ events: [twice, twice] }).expect(422);
    expect(repeated.body.issue[0].expression).toEqual(['events[1].id']);
  });

  it('answers 413 beyond the body size or the batch size, 415 for other content, 400 for malformed JSON', async () => {
    const small = app({
      ingest: {
        maxBatch: 2,
        maxBodyBytes: 2048,
        lateAfterMinutes: 60,
        maxFutureSeconds: 300,
        rateLimit: { perSecond: 100, burst: 100 },
      },
    });
    const big = await post(
      { events: [referral({ id: 'x'.repeat(100) }), referral()], pad: 'y'.repeat(3000) },
      { app: small },
    ).expect(413);
    expect(outcomeCode(big.body)).toBe('PAYLOAD_TOO_LARGE');
    const many = await post({ events: [referral(), referral(), referral()] }, { app: small }).expect(413);
    expect(outcomeCode(many.body)).toBe('PAYLOAD_TOO_LARGE');
    const text = await post('referral please', { app: small, type: 'text/plain' }).expect(415);
    expect(outcomeCode(text.body)).toBe('UNSUPPORTED_MEDIA_TYPE');
    const broken = await post('{"id": ', { app: small }).expect(400);
    expect(outcomeCode(broken.body)).toBe('BAD_REQUEST');
    expect(await storedEvents()).toHaveLength(0);
  });

  it("limits each token's rate (429 with Retry-After), and needs the ingest role (403)", async () => {
    const slow = app({
      ingest: {
        maxBatch: 500,
        maxBodyBytes: 1 << 20,
        lateAfterMinutes: 60,
        maxFutureSeconds: 300,
        rateLimit: { perSecond: 0.5, burst: 2 },
      },
    });
    await post(referral(), { app: slow }).expect(201);
    await post(referral(), { app: slow }).expect(201);
    const limited = await post(referral(), { app: slow }).expect(429);
    expect(outcomeCode(limited.body)).toBe('RATE_LIMITED');
    expect(limited.headers['retry-after']).toBe('2');
    const wrongRole = await request(slow)
      .post('/api/events')
      .set('Authorization', bearer('report'))
      .send(referral())
      .expect(403);
    expect(outcomeCode(wrongRole.body)).toBe('FORBIDDEN');
    expect(await storedEvents()).toHaveLength(2);
  });
});

describe('the FHIR door', () => {
  it('turns the BaRS referral Bundle into the same referral.made the proxy derives from the wire', async () => {
    const bundle = fixture('bars/process-message-referral-validation-request.json');
    const res = await postFhir(bundle).expect(201);
    const entry = bundle.entry.find((e: any) => e.resource.resourceType === 'ServiceRequest');
    expect(res.body.events[0].id).toBe(`ServiceRequest/${entry.fullUrl.slice('urn:uuid:'.length)}`);
    const [event] = await storedEvents();
    const [wire] = deriveEvents(
      exchangeOf({
        method: 'POST',
        path: '/base/$process-message',
        request_headers: { ...JSON_TYPE, 'x-correlation-id': 'C0RR-1' },
        request_body: JSON.stringify(bundle),
      }),
      tables,
    );
    expect(wire!.type).toBe('referral.made');
    expect(event).toMatchObject({
      type: 'referral.made',
      disposition: wire!.disposition,
      deadline_source: wire!.deadline_source,
      correlation_keys: wire!.correlation_keys,
      attributes: {
        ...Object.fromEntries(
          ['dispositionAt', 'referredAt', 'useCase', 'category', 'succeeded'].map((k) => [
            k,
            (wire!.attributes as Record<string, unknown>)[k],
          ]),
        ),
        via: 'fhir',
      },
    });
    expect(new Date(event!.deadline!).toISOString()).toBe((wire!.deadline as Date).toISOString());
    // The service and provider as the wire's routing header names them; the sender's ODS code.
    expect(event).toMatchObject({ service_id: '2000011147', provider_id: 'ed', consumer_org: 'RND' });
    // Kept redacted, as the proxy keeps what it captures: the patient by the keyed hash alone.
    const record = await store.db.selectFrom('ingest_records').select('payload').executeTakeFirstOrThrow();
    const patient = bundle.entry.find((e: any) => e.resource.resourceType === 'Patient').resource;
    const nhsNumber = patient.identifier[0].value as string;
    expect(event!.patient_hash).toBe(hash(nhsNumber));
    const stored = JSON.stringify([record, await storedEvents()]);
    for (const value of [patient.name[0].family, nhsNumber]) expect(stored).not.toContain(value);
    // The same referral again (a retry) counts once.
    await postFhir(bundle).expect(200);
    expect(await storedEvents()).toHaveLength(1);
  });

  it('takes a ServiceRequest with its CarePlan contained, and refuses a message that is not a referral', async () => {
    const { bundle } = referralBundle('2026-11-22T12:00:00+00:00', '8f1c0000-0000-4000-8000-000000000001');
    const resources = bundle.entry.map((e: any) => e.resource);
    const serviceRequest = resources.find((r: any) => r.resourceType === 'ServiceRequest');
    const carePlan = resources.find((r: any) => r.resourceType === 'CarePlan');
    const alone = { ...serviceRequest, id: 'sr-alone-1', contained: [carePlan] };
    await postFhir(alone).expect(201);
    const [event] = await storedEvents();
    expect(event).toMatchObject({ type: 'referral.made', deadline_source: 'referral' });
    expect(new Date(event!.deadline!).toISOString()).toBe('2026-11-22T12:00:00.000Z');

    const booking = fixture('bars/process-message-booking-request.json');
    const refused = await postFhir(booking).expect(422);
    expect(refused.body.issue.map((i: any) => i.expression[0])).toContain(
      'Bundle.entry.resource.ofType(MessageHeader).eventCoding.code',
    );
    // Without its CarePlan there is no disposition: refused, not stored half-known.
    const bare = await postFhir({ ...serviceRequest, id: 'sr-alone-2' }).expect(422);
    expect(bare.body.issue.map((i: any) => i.expression[0])).toEqual(['ServiceRequest.contained']);
    expect(await storedEvents()).toHaveLength(1);
  });
});

describe('ingested events and wire events', () => {
  const TRACE = 'a1b2c3d4-0000-4000-8000-00000000beef';
  /** The STU3 book example, sent in the call TRACE at 09:55 and booked. */
  const wireBooking = () =>
    exchangeOf({
      received_at: '2026-11-22T09:55:00Z',
      provider_id: 'ed',
      dialect: 'stu3',
      method: 'POST',
      path: '/base/Appointment',
      request_headers: { ...JSON_TYPE, 'ssp-traceid': TRACE },
      request_body: JSON.stringify(fixture('stu3/appointment-book-request.json')),
      response_status: 201,
      response_headers: { ...JSON_TYPE, location: 'https://ed.example/base/Appointment/77/_history/1' },
    });
  const writeWire = async () => {
    const events = deriveEvents(wireBooking(), tables);
    await insertEventsJson(store.db, eventsJson(events));
  };
  const ingestReferral = () => post(referral({ correlation: { traceId: TRACE.toUpperCase() } })).expect(201);

  async function expectJoined() {
    await stitchAll(store.db, tables, stitching);
    const events = await store.db.selectFrom('events').selectAll().orderBy('occurred_at').execute();
    expect(events.map((e) => e.type)).toEqual(['referral.made', 'booking.attempted']);
    const [made, booking] = events;
    expect(made!.episode_id).not.toBeNull();
    expect(booking!.episode_id).toBe(made!.episode_id);
    expect(booking!.encounter_id).toBe(made!.encounter_id);
    // The booking takes the referral's disposition and deadline: the wire carries neither.
    expect(booking).toMatchObject({ disposition: 'Dx02' });
    expect(new Date(booking!.deadline!).toISOString()).toBe(new Date(made!.deadline!).toISOString());
  }

  it('join one episode and one encounter when the referral is posted first', async () => {
    await ingestReferral();
    await stitchAll(store.db, tables, stitching);
    await writeWire();
    await expectJoined();
  });

  it('join one episode and one encounter when the booking is seen first', async () => {
    await writeWire();
    await stitchAll(store.db, tables, stitching);
    await ingestReferral();
    await expectJoined();
  });
});
