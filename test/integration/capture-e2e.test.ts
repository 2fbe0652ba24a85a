import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { withReadableBodies } from '../../src/capture/stored-body.js';
import type { RunningCollector } from '../../src/server.js';
import { startTestCollector } from '../helpers/collector.js';
import { TEST_ENGINE } from '../helpers/store.js';
import { memoryLogger, TEST_TOKENS } from '../helpers/app.js';
import { personalValues } from '../helpers/personal.js';
import { fixture, gpConnectAppointment, startSandbox, type RunningSandbox } from '../helpers/sandbox.js';

let collector: RunningCollector;
let stopCollector: () => Promise<void>;

beforeAll(async () => {
  ({ collector, stop: stopCollector } = await startTestCollector('collector-e2e'));
});

afterAll(async () => {
  await stopCollector();
});

const jwt = (ods: string) => {
  const part = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${part({ alg: 'none' })}.${part({ requesting_organization: { identifier: [{ system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: ods }] } })}.`;
};
const target = (dos: string) =>
  Buffer.from(JSON.stringify({ system: 'https://fhir.nhs.uk/Id/dos-service-id', value: dos })).toString(
    'base64',
  );

async function call(
  pathAndQuery: string,
  init: { method?: string; body?: unknown; headers?: Record<string, string> } = {},
) {
  const res = await fetch(`${collector.url}${pathAndQuery}`, {
    method: init.method ?? (init.body ? 'POST' : 'GET'),
    headers: { 'Content-Type': 'application/fhir+json', ...init.headers },
    ...(init.body ? { body: JSON.stringify(init.body) } : {}),
  });
  return { status: res.status, body: (await res.json()) as any };
}

describe('sandbox traffic through the collector, captured', () => {
  it('stores every exchange, and no name, address, telecom, NHS number or Authorization value from the fixtures', async () => {
    const token = jwt('NHS111');
    const sent: unknown[] = [];

    const search = await call(
      '/fhir/sandbox-stu3/Slot?service=2000011147&status=free&_include=Slot:schedule',
      { headers: { 'Ssp-TraceID': 'call-1' } },
    );
    expect(search.status).toBe(200);
    const slot = search.body.entry[0].resource;

    const stu3 = fixture('stu3/appointment-book-request.json');
    Object.assign(
      stu3.contained.find((c: any) => c.resourceType === 'Slot'),
      { id: slot.id },
    );
    stu3.slot = [{ reference: `#${slot.id}` }];
    sent.push(stu3);
    const booked = await call('/fhir/sandbox-stu3/Appointment', {
      body: stu3,
      headers: { Authorization: `Bearer ${token}`, 'Ssp-TraceID': 'call-1' },
    });
    expect(booked.status).toBe(201);

    const bars = await call('/bars/Slot?status=free&Schedule.actor:HealthcareService=2000072489', {
      headers: { 'NHSD-Target-Identifier': target('2000072489') },
    });
    const barsSlot = bars.body.entry[0].resource;
    const barsBooking = fixture('bars/process-message-booking-request.json');
    Object.assign(barsBooking.entry.find((e: any) => e.resource.resourceType === 'Slot').resource, {
      id: barsSlot.id,
    });
    sent.push(barsBooking);
    const barsBooked = await call('/bars/$process-message', {
      body: barsBooking,
      headers: {
        'NHSD-Target-Identifier': target('2000072489'),
        'X-Correlation-ID': 'corr-1',
        'X-Request-ID': 'r-1',
      },
    });
    expect(barsBooked.status).toBe(200);

    const referral = fixture('bars/process-message-referral-validation-request.json');
    sent.push(referral);
    expect(
      (
        await call('/bars/$process-message', {
          body: referral,
          headers: { 'NHSD-Target-Identifier': target('2000072489') },
        })
      ).status,
    ).toBe(200);

    const nhsNumber = stu3.contained.find((c: any) => c.resourceType === 'Patient').identifier[0].value;
    const list = await call(
      `/fhir/sandbox-stu3/Appointment?identifier=https://fhir.nhs.uk/Id/nhs-number|${nhsNumber}`,
    );
    expect(list.body.total).toBe(1);

    // What the providers answered carries personal data too (the bookings and the list, echoed back).
    const answered = [booked.body, barsBooked.body, list.body];

    await collector.capture.drain();
    // Redacted and derived on the worker thread, as configured (never silently on the proxy's thread).
    expect(collector.capture.status().redactingOnWorker).toBe(true);
    const rows = (
      await collector.store.db.selectFrom('exchanges').selectAll().orderBy('received_at').execute()
    ).map(withReadableBodies);
    expect(rows.map((r) => [r.provider_id, r.method, r.response_status, r.interaction])).toEqual([
      ['sandbox-stu3', 'GET', 200, 'slot-search'],
      ['sandbox-stu3', 'POST', 201, 'book'],
      ['sandbox-bars', 'GET', 200, 'slot-search'],
      ['sandbox-bars', 'POST', 200, 'book'],
      ['sandbox-bars', 'POST', 200, 'referral'],
      ['sandbox-stu3', 'GET', 200, 'list-appointments'],
    ]);
    expect(rows[1]).toMatchObject({
      consumer_org: 'NHS111',
      trace_id: 'call-1',
      route: 'fhir',
      dialect: 'stu3',
      transport_outcome: 'ok',
    });
    expect(rows[3]).toMatchObject({ route: 'bars', correlation_id: 'corr-1', request_id: 'r-1' });
    expect(rows[1]!.request_body).toContain('"resourceType":"Appointment"');
    expect(rows[1]!.patient_hash).toBe(rows[5]!.patient_hash);

    // Each exchange's events, derived as it was captured.
    const events = await collector.store.db.selectFrom('events').selectAll().execute();
    const eventOf = (i: number) => events.find((e) => e.source_id === rows[i]!.id);
    expect(rows.map((_, i) => eventOf(i)?.type)).toEqual([
      'slot.searched',
      'booking.attempted',
      'slot.searched',
      'booking.attempted',
      'referral.made',
      'appointments.listed',
    ]);
    expect(eventOf(0)!.attributes).toMatchObject({ succeeded: true, empty: false });
    expect((eventOf(0)!.attributes as { offered: number }).offered).toBeGreaterThan(0);
    expect(eventOf(1)!.attributes).toMatchObject({ outcome: 'booked' });
    expect(eventOf(3)).toMatchObject({ service_id: '2000072489', attributes: { outcome: 'booked' } });
    expect(eventOf(4)).toMatchObject({ disposition: 'Dx0122', deadline_source: 'referral' });
    expect(eventOf(5)!.attributes).toMatchObject({ listed: 1 });

    // Nothing personal in either table: the rows with their bodies, and every column of every event.
    const stored = JSON.stringify([rows, events]);
    const personal = [...new Set([...sent, ...answered].flatMap((payload) => personalValues(payload)))];
    expect(personal.length).toBeGreaterThan(10);
    expect(JSON.stringify(answered)).toContain(nhsNumber); // the providers did echo the patient back
    for (const value of [...personal, token, nhsNumber])
      expect({ value, stored: stored.includes(value) }).toEqual({ value, stored: false });
  });
});

/** The events of the exchanges sharing a call key, in the order the exchanges came (after a drain). */
async function journeyEvents(key: 'trace_id' | 'correlation_id', value: string) {
  await collector.capture.drain();
  await collector.stitcher.settled();
  // Stitched on its worker thread on PostgreSQL (off the proxy's event loop), on the main thread on PGlite.
  expect(collector.stitcher.onWorker).toBe(TEST_ENGINE === 'postgres');
  return collector.store.db
    .selectFrom('events')
    .innerJoin('exchanges', 'exchanges.id', 'events.source_id')
    .select([
      'events.type',
      'events.attributes',
      'events.service_id',
      'events.data_quality',
      'events.episode_id',
      'events.encounter_id',
      'events.ordinal',
      'exchanges.episode_id as exchange_episode_id',
    ])
    .where(`exchanges.${key}`, '=', value)
    .orderBy('exchanges.received_at')
    .orderBy('events.ordinal')
    .execute();
}

/**
 * What the journey's episode says: one episode and one call for all of it (exchanges included), the
 * accepted cancellation timed against its booking, and the new booking in the same call made a re-booking.
 */
function expectOneCallRebooked(events: Awaited<ReturnType<typeof journeyEvents>>, cancelled: string) {
  expect(new Set(events.map((e) => e.episode_id)).size).toBe(1);
  expect(events[0]!.episode_id).not.toBeNull();
  expect(new Set(events.map((e) => e.exchange_episode_id))).toEqual(new Set([events[0]!.episode_id]));
  expect(new Set(events.map((e) => e.encounter_id)).size).toBe(1);
  const accepted = events.filter(
    (e) => e.type === 'booking.cancelled' && (e.attributes as { succeeded: boolean }).succeeded,
  );
  expect(accepted).toHaveLength(1);
  expect(accepted[0]!.attributes).toMatchObject({
    appointmentId: cancelled,
    bookedAt: expect.any(String),
    sinceBookingSeconds: expect.any(Number),
    sameEncounter: true,
    partOfRebooking: true,
  });
  const rebooked = events.filter((e) => e.type === 'booking.rebooked');
  expect(rebooked).toHaveLength(1);
  expect(rebooked[0]).toMatchObject({ ordinal: 100 });
  expect(rebooked[0]!.attributes).toMatchObject({ replaces: [cancelled], how: 'cancel-and-book' });
}

/** An event as [type, outcome or succeeded, appointment id]. */
function step(e: { type: string; attributes: unknown }): [string, string | boolean, string | null] {
  const a = e.attributes as { outcome?: string; succeeded: boolean; appointmentId?: string | null };
  return [e.type, a.outcome ?? a.succeeded, a.appointmentId ?? null];
}

describe('the events of a booking journey, through the collector', () => {
  it('STU3: search → book → slot taken → duplicate → cancel (412, stale 409, 200) → re-book', async () => {
    const trace = `journey-${Date.now()}`;
    const headers = { 'Ssp-TraceID': trace };
    const search = await call(
      '/fhir/sandbox-stu3/Slot?service=2000011148&status=free&_include=Slot:schedule',
      {
        headers,
      },
    );
    const [slot, other] = search.body.entry
      .map((e: any) => e.resource)
      .filter((r: any) => r.resourceType === 'Slot');
    const book = (s: any, requestId: string) => {
      const body = fixture('stu3/appointment-book-request.json');
      Object.assign(
        body.contained.find((c: any) => c.resourceType === 'Slot'),
        { id: s.id, start: s.start, end: s.end },
      );
      body.slot = [{ reference: `#${s.id}` }];
      body.start = s.start;
      body.end = s.end;
      return call('/fhir/sandbox-stu3/Appointment', {
        body,
        headers: { ...headers, 'X-Request-ID': requestId },
      });
    };
    const booked = await book(slot, `${trace}-1`);
    expect(booked.status).toBe(201);
    expect((await book(slot, `${trace}-2`)).status).toBe(422);
    expect((await book(other, `${trace}-1`)).status).toBe(409);
    const id = booked.body.id as string;
    const read = await call(`/fhir/sandbox-stu3/Appointment/${id}`, { headers });
    const cancel = { ...read.body, status: 'cancelled' };
    const put = (ifMatch?: string) =>
      call(`/fhir/sandbox-stu3/Appointment/${id}`, {
        method: 'PUT',
        body: cancel,
        headers: { ...headers, ...(ifMatch ? { 'If-Match': ifMatch } : {}) },
      });
    expect((await put()).status).toBe(412);
    expect((await put('W/"7"')).status).toBe(409);
    expect((await put('W/"1"')).status).toBe(200);
    expect((await book(slot, `${trace}-3`)).status).toBe(201);

    const all = await journeyEvents('trace_id', trace);
    expectOneCallRebooked(all, id);
    const events = all.filter((e) => e.type !== 'booking.rebooked');
    const seen = events.map(step);
    expect(seen).toEqual([
      ['slot.searched', true, null],
      ['booking.attempted', 'booked', id],
      ['booking.attempted', 'slot_unavailable', null],
      ['booking.attempted', 'duplicate', null],
      ['appointment.read', true, id],
      ['booking.cancelled', false, id],
      ['booking.cancelled', false, id],
      ['booking.cancelled', true, id],
      ['booking.attempted', 'booked', expect.any(String)],
    ]);
    expect(seen[8]![2]).not.toBe(id);
  });

  it('BaRS: search → book → slot taken → duplicate → cancel → re-book through $process-message', async () => {
    const journey = `corr-${Date.now()}`;
    const headers = (requestId: string) => ({
      'NHSD-Target-Identifier': target('2000072490'),
      'X-Correlation-ID': journey,
      'X-Request-ID': requestId,
    });
    const search = await call('/bars/Slot?status=free&Schedule.actor:HealthcareService=2000072490', {
      headers: headers(`${journey}-s`),
    });
    const slot = search.body.entry.map((e: any) => e.resource).find((r: any) => r.resourceType === 'Slot');
    const message = (bundleId: string, appointment?: any) => {
      const m = fixture('bars/process-message-booking-request.json');
      m.id = bundleId;
      Object.assign(m.entry.find((e: any) => e.resource.resourceType === 'Slot').resource, {
        id: slot.id,
        start: slot.start,
        end: slot.end,
      });
      const entry = m.entry.find((e: any) => e.resource.resourceType === 'Appointment');
      entry.resource = appointment ?? { ...entry.resource, start: slot.start, end: slot.end };
      return m;
    };
    const send = (body: unknown, requestId: string) =>
      call('/bars/$process-message', { body, headers: headers(requestId) });
    const booked = await send(message(`${journey}-b1`), `${journey}-1`);
    expect(booked.status).toBe(200);
    const appointment = booked.body.entry[1].resource;
    expect((await send(message(`${journey}-b2`), `${journey}-2`)).status).toBe(409);
    expect((await send(message(`${journey}-b3`), `${journey}-1`)).status).toBe(409);
    expect(
      (await send(message(`${journey}-b4`, { ...appointment, status: 'cancelled' }), `${journey}-4`)).status,
    ).toBe(200);
    const rebooked = await send(message(`${journey}-b5`), `${journey}-5`);
    expect(rebooked.status).toBe(200);

    const all = await journeyEvents('correlation_id', journey);
    expectOneCallRebooked(all, appointment.id);
    const events = all.filter((e) => e.type !== 'booking.rebooked');
    expect(events.map((e) => [...step(e), e.service_id])).toEqual([
      ['slot.searched', true, null, '2000072490'],
      ['booking.attempted', 'booked', appointment.id, '2000072490'],
      ['booking.attempted', 'slot_unavailable', null, '2000072490'],
      ['booking.attempted', 'duplicate', null, '2000072490'],
      ['booking.cancelled', true, appointment.id, '2000072490'],
      ['booking.attempted', 'booked', rebooked.body.entry[1].resource.id, '2000072490'],
    ]);
  });

  it('GP Connect: search → book → slot taken → cancel (no reason 422, 412, stale 409, 200) → re-book', async () => {
    const trace = `gpc-${Date.now()}`;
    const urn = (what: string) => `urn:nhs:names:services:gpconnect:fhir:rest:${what}`;
    const headers = (what: string) => ({ 'Ssp-TraceID': trace, 'Ssp-InteractionID': urn(what) });
    // The next weekday's surgery hours.
    let day = new Date(Date.now() + 86_400_000);
    while (day.getUTCDay() === 0 || day.getUTCDay() === 6) day = new Date(day.getTime() + 86_400_000);
    const date = day.toISOString().slice(0, 10);
    const search = await call(
      `/fhir/sandbox-gpconnect/Slot?start=ge${date}T08:00:00Z&end=le${date}T18:00:00Z&status=free&_include=Slot:schedule`,
      { headers: headers('search:slot-1') },
    );
    expect(search.status).toBe(200);
    const slot = search.body.entry.map((e: any) => e.resource).find((r: any) => r.resourceType === 'Slot');
    const appointment = gpConnectAppointment(slot, 'P9434765919');
    const book = () =>
      call('/fhir/sandbox-gpconnect/Appointment', {
        body: appointment,
        headers: headers('create:appointment-1'),
      });
    const booked = await book();
    expect(booked.status).toBe(201);
    expect((await book()).status).toBe(409);
    const id = booked.body.id as string;
    const cancel = (body: unknown, ifMatch?: string) =>
      call(`/fhir/sandbox-gpconnect/Appointment/${id}`, {
        method: 'PUT',
        body,
        headers: { ...headers('cancel:appointment-1'), ...(ifMatch ? { 'If-Match': ifMatch } : {}) },
      });
    const reason = {
      url: 'https://fhir.nhs.uk/STU3/StructureDefinition/Extension-GPConnect-AppointmentCancellationReason-1',
      valueString: 'No longer needed',
    };
    const cancelled = { ...booked.body, status: 'cancelled', extension: [...booked.body.extension, reason] };
    expect((await cancel({ ...booked.body, status: 'cancelled' }, 'W/"1"')).status).toBe(422);
    expect((await cancel(cancelled)).status).toBe(412);
    expect((await cancel(cancelled, 'W/"5"')).status).toBe(409);
    expect((await cancel(cancelled, 'W/"1"')).status).toBe(200);
    expect((await book()).status).toBe(201);

    const all = await journeyEvents('trace_id', trace);
    expectOneCallRebooked(all, id);
    const events = all.filter((e) => e.type !== 'booking.rebooked');
    expect(events.map((e) => step(e).slice(0, 2))).toEqual([
      ['slot.searched', true],
      ['booking.attempted', 'booked'],
      ['booking.attempted', 'slot_unavailable'],
      ['booking.cancelled', false],
      ['booking.cancelled', false],
      ['booking.cancelled', false],
      ['booking.cancelled', true],
      ['booking.attempted', 'booked'],
    ]);
    // The interaction ids agreed with what was sent, all the way.
    expect(events.every((e) => !e.data_quality.includes('header-disagrees'))).toBe(true);

    // And the national metrics count the journey from the events derivation and stitching made.
    const today = new Date();
    const from = new Date(today.getTime() - 86_400_000).toISOString().slice(0, 10);
    const to = new Date(today.getTime() + 2 * 86_400_000).toISOString().slice(0, 10);
    const totals = async (id: string) => {
      const res = await fetch(
        `${collector.url}/api/reports/${id}?from=${from}&to=${to}&provider=sandbox-gpconnect`,
        {
          headers: { Authorization: `Bearer ${TEST_TOKENS.report}` },
        },
      );
      expect(res.status).toBe(200);
      return ((await res.json()) as { totals: Record<string, unknown> }).totals;
    };
    const freeSlots = new Set(
      search.body.entry
        .map((e: any) => e.resource)
        .filter((r: any) => r.resourceType === 'Slot' && r.status === 'free')
        .map((r: any) => r.id),
    );
    expect(await totals('rep-prov-03')).toMatchObject({ bookings: 2, slotsOffered: freeSlots.size });
    expect(await totals('rep-cons-04')).toMatchObject({ slotUnavailable: 1 });
    expect(await totals('rep-cons-06')).toMatchObject({ failedAttempts: 1 });
    expect(await totals('rep-prov-05')).toMatchObject({ cancellations: 1 });
    expect(await totals('rep-cons-07')).toMatchObject({ cancelledSameEncounter: 0 }); // part of the re-booking
    expect(await totals('rep-cons-08')).toMatchObject({ rebookings: 1 });
    expect(await totals('rep-cons-09')).toMatchObject({ cancelledLater: 0 });
  });
});

describe('an ingested referral and the wire, through the collector', () => {
  it("joins the booking's episode and call, and gives the booking its disposition and deadline", async () => {
    const search = await call(
      '/fhir/sandbox-stu3/Slot?service=2000011147&status=free&_include=Slot:schedule',
      { headers: { 'Ssp-TraceID': 'call-ingest-1' } },
    );
    const slot = search.body.entry.find((e: any) => e.resource.resourceType === 'Slot').resource;
    const book = fixture('stu3/appointment-book-request.json');
    Object.assign(
      book.contained.find((c: any) => c.resourceType === 'Slot'),
      { id: slot.id },
    );
    book.slot = [{ reference: `#${slot.id}` }];
    const booked = await call('/fhir/sandbox-stu3/Appointment', {
      body: book,
      headers: { 'Ssp-TraceID': 'call-ingest-1' },
    });
    expect(booked.status).toBe(201);

    const dispositionAt = new Date(Date.now() - 120_000);
    const posted = await fetch(`${collector.url}/api/events`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${TEST_TOKENS.ingest}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({
        id: 'call-ingest-1-referral',
        type: 'referral.made',
        occurredAt: new Date(dispositionAt.getTime() + 30_000).toISOString(),
        correlation: { traceId: 'call-ingest-1' },
        disposition: { code: 'Dx03', at: dispositionAt.toISOString() },
        referredTo: { serviceId: '2000011147', providerId: 'sandbox-stu3' },
      }),
    });
    expect(posted.status).toBe(201);

    const events = await journeyEvents('trace_id', 'call-ingest-1');
    const made = await collector.store.db
      .selectFrom('events')
      .selectAll()
      .where('type', '=', 'referral.made')
      .where('source_kind', '=', 'ingest')
      .executeTakeFirstOrThrow();
    expect(made.episode_id).not.toBeNull();
    expect(new Set(events.map((e) => e.episode_id))).toEqual(new Set([made.episode_id]));
    expect(new Set(events.map((e) => e.encounter_id))).toEqual(new Set([made.encounter_id]));
    const booking = await collector.store.db
      .selectFrom('events')
      .selectAll()
      .where('type', '=', 'booking.attempted')
      .where('episode_id', '=', made.episode_id)
      .executeTakeFirstOrThrow();
    // Dx03: within 4 hours of the disposition.
    expect(booking.disposition).toBe('Dx03');
    expect(new Date(booking.deadline!).getTime()).toBe(dispositionAt.getTime() + 4 * 3600_000);

    // Counted on /metrics, as is an event refused.
    const refused = await fetch(`${collector.url}/api/events`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${TEST_TOKENS.ingest}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ events: [{ id: 'x', type: 'consumer.error' }, { type: 'booking.done' }] }),
    });
    expect(refused.status).toBe(422);
    const exposition = await (await fetch(`${collector.url}/metrics`)).text();
    expect(exposition).toMatch(/^collector_ingest_events_total\{type="referral.made",result="created"\} 1$/m);
    expect(exposition).toMatch(
      /^collector_ingest_events_total\{type="consumer.error",result="refused"\} 1$/m,
    );
    expect(exposition).toMatch(/^collector_ingest_events_total\{type="unknown",result="refused"\} 1$/m);
  });
});

describe('a provider that fails, through the collector, captured', () => {
  let failing: RunningCollector;
  let stopFailing: () => Promise<void>;
  let sandbox: RunningSandbox;

  beforeAll(async () => {
    sandbox = await startSandbox();
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const closedUrl = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise((resolve) => closed.close(resolve));
    const provider = (id: string, baseUrl: string) => ({
      id,
      name: id,
      baseUrl,
      dialect: 'stu3' as const,
      dosServiceIds: [],
      timeouts: { connectMs: 500, responseMs: 300 },
      captureFullBodies: false,
    });
    ({ collector: failing, stop: stopFailing } = await startTestCollector('collector-failing', {
      config: { providers: [provider('ed', `${sandbox.url}/stu3`), provider('gone', closedUrl)] },
    }));
  });

  afterAll(async () => {
    await stopFailing();
    await sandbox.close();
  });

  /** A GET through the collector, read to its end or its cut; `abortAfterMs`: the consumer leaves. */
  const get = (path: string, fault?: string, abortAfterMs?: number) =>
    new Promise<{ status: number; ending: 'complete' | 'cut' }>((resolve) => {
      const req = httpRequest(
        `${failing.url}${path}`,
        { headers: fault ? { 'X-Sandbox-Fault': fault } : {} },
        (res) => {
          const status = res.statusCode!;
          if (abortAfterMs !== undefined)
            setTimeout(() => {
              req.destroy();
              resolve({ status, ending: 'cut' });
            }, abortAfterMs);
          res.on('data', () => undefined);
          res.on('end', () => resolve({ status, ending: 'complete' }));
          res.on('error', () => resolve({ status, ending: 'cut' }));
          res.on('aborted', () => resolve({ status, ending: 'cut' }));
        },
      );
      req.on('error', () => resolve({ status: 0, ending: 'cut' }));
      req.end();
    });

  it('stores each exchange with how it ended: refused, timeout, reset, client_aborted, and a hang cut at the timeout', async () => {
    const answers = {
      refused: await get('/fhir/gone/metadata'),
      stalled: await get('/fhir/ed/metadata', 'stall'),
      reset: await get('/fhir/ed/metadata', 'reset'),
      hung: await get('/fhir/ed/metadata', 'hang'),
      abandoned: await get('/fhir/ed/metadata', 'hang', 100),
    };
    expect(answers).toEqual({
      refused: { status: 502, ending: 'complete' },
      stalled: { status: 504, ending: 'complete' },
      reset: { status: 200, ending: 'cut' },
      // Headers and part of the body came, then nothing: cut at the provider's response timeout.
      hung: { status: 200, ending: 'cut' },
      abandoned: { status: 200, ending: 'cut' },
    });
    // The abandoned exchange ends at the provider's response timeout; then all five are captured.
    for (let waited = 0; failing.capture.counters.captured < 5 && waited < 5000; waited += 20)
      await new Promise((resolve) => setTimeout(resolve, 20));
    await failing.capture.drain();
    const rows = await failing.store.db
      .selectFrom('exchanges')
      .select(['provider_id', 'response_status', 'transport_outcome', 'first_byte_at'])
      .orderBy('received_at')
      .orderBy('id')
      .execute();
    expect(
      rows.map((r) => [r.provider_id, r.response_status, r.transport_outcome, r.first_byte_at !== null]),
    ).toEqual([
      ['gone', 502, 'refused', false],
      ['ed', 504, 'timeout', false],
      ['ed', 200, 'reset', true],
      ['ed', 200, 'timeout', true],
      ['ed', 200, 'client_aborted', true],
    ]);
    // Each one's event says how its exchange ended, the same way.
    const events = await failing.store.db
      .selectFrom('events')
      .select(['provider_id', 'attributes'])
      .where('source_kind', '=', 'exchange')
      .execute();
    const transports = (list: { provider_id: string | null; transport: unknown }[]) =>
      list.map((e) => `${e.provider_id} ${String(e.transport)}`).sort();
    expect(
      transports(
        events.map((e) => ({ provider_id: e.provider_id, transport: (e.attributes as any).transport })),
      ),
    ).toEqual(transports(rows.map((r) => ({ provider_id: r.provider_id, transport: r.transport_outcome }))));
  });
});

describe('a GP Connect booking, through the collector', () => {
  let gp: RunningCollector;
  let stopGp: () => Promise<void>;
  const memory = memoryLogger();
  beforeAll(async () => {
    ({ collector: gp, stop: stopGp } = await startTestCollector('collector-gp-privacy', {
      logger: memory.logger,
    }));
  });

  it('says as it starts where redaction and stitching run', () => {
    const listening = memory.lines().map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(listening.find((l) => l.msg === 'collector listening')).toMatchObject({
      engine: TEST_ENGINE,
      redactionOnWorker: true,
      stitchingOnWorker: TEST_ENGINE === 'postgres',
    });
  });
  afterAll(async () => {
    await stopGp();
  });

  it("stores neither the patient's logical id nor the NHS number inside it, in either table", async () => {
    let day = new Date(Date.now() + 86_400_000);
    while (day.getUTCDay() === 0 || day.getUTCDay() === 6) day = new Date(day.getTime() + 86_400_000);
    const date = day.toISOString().slice(0, 10);
    const search = await fetch(
      `${gp.url}/fhir/sandbox-gpconnect/Slot?start=ge${date}T08:00:00Z&end=le${date}T18:00:00Z&status=free`,
    );
    const slot = ((await search.json()) as any).entry
      .map((e: any) => e.resource)
      .find((r: any) => r.resourceType === 'Slot');
    // GP Connect names the patient only by a logical id, in the participant reference.
    const patient = 'P9434765919';
    const booked = await fetch(`${gp.url}/fhir/sandbox-gpconnect/Appointment`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/fhir+json' },
      body: JSON.stringify(gpConnectAppointment(slot, patient)),
    });
    expect(booked.status).toBe(201);
    expect(await booked.text()).toContain(`Patient/${patient}`); // echoed back by the provider
    await gp.capture.drain();
    const rows = (await gp.store.db.selectFrom('exchanges').selectAll().execute()).map(withReadableBodies);
    const events = await gp.store.db.selectFrom('events').selectAll().execute();
    expect(rows.map((r) => r.interaction).sort()).toEqual(['book', 'slot-search']);
    const booking = rows.find((r) => r.interaction === 'book')!;
    expect(booking.patient_hash).toMatch(/^[A-Za-z0-9_-]{43}$/); // base64url HMAC-SHA-256
    expect(booking.request_body).toContain(`Patient/hash:${booking.patient_hash}`);
    const stored = JSON.stringify([rows, events]);
    for (const value of [patient, patient.slice(1)])
      expect({ value, stored: stored.includes(value) }).toEqual({ value, stored: false });
  });
});
