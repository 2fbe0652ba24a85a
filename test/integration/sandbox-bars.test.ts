import { fhir, fixture, issueOf, startSandbox, type RunningSandbox } from '../helpers/sandbox.js';

const UTC = '2000072489';
let sandbox: RunningSandbox;
let base: string;

beforeAll(async () => {
  sandbox = await startSandbox();
  base = `${sandbox.url}/bars`;
});
afterAll(() => sandbox.close());

/** The BaRS routing header: base64 of the DoS service identifier. */
const target = (dosId: string) =>
  Buffer.from(JSON.stringify({ system: 'https://fhir.nhs.uk/Id/dos-service-id', value: dosId })).toString(
    'base64',
  );

async function freeSlots(from: string): Promise<any[]> {
  const res = await fhir(
    `${base}/Slot?status=free&start=ge${from}&Schedule.actor:HealthcareService=${UTC}&_include=Slot:schedule`,
  );
  expect(res.status).toBe(200);
  return res.body.entry.filter((e: any) => e.search.mode === 'match').map((e: any) => e.resource);
}

/**
 * The published booking request, pointed at one of our slots: by the Slot's id as a consumer copies it
 * from the search, or (`byStartOnly`) the way the example does it, with only a start and end, leaving
 * the provider to find a free slot of the routed service at that time.
 */
function bookingMessage(slot: any, bundleId: string, byStartOnly = false): any {
  const message = fixture('bars/process-message-booking-request.json');
  message.id = bundleId;
  const bundleSlot = message.entry.find((e: any) => e.resource.resourceType === 'Slot').resource;
  Object.assign(bundleSlot, { start: slot.start, end: slot.end, ...(byStartOnly ? {} : { id: slot.id }) });
  const appointment = message.entry.find((e: any) => e.resource.resourceType === 'Appointment').resource;
  Object.assign(appointment, { start: slot.start, end: slot.end });
  return message;
}

function cancelMessage(appointment: any, bundleId: string): any {
  const message = fixture('bars/process-message-booking-request.json');
  message.id = bundleId;
  const entry = message.entry.find((e: any) => e.resource.resourceType === 'Appointment');
  entry.resource = { ...appointment, status: 'cancelled' };
  message.entry[0].resource.reason.coding[0].code = 'update';
  return message;
}

const headers = (requestId: string) => ({ 'NHSD-Target-Identifier': target(UTC), 'X-Request-ID': requestId });

describe('BaRS sandbox', () => {
  it('serves an R4 CapabilityStatement with $process-message', async () => {
    const res = await fhir(`${base}/metadata`);
    expect(res.body).toMatchObject({ resourceType: 'CapabilityStatement', fhirVersion: '4.0.1' });
    expect(res.body.rest[0].operation[0].name).toBe('process-message');
  });

  it('answers a slot search with a searchset like the published one: urn:uuid references, UK Core profiles', async () => {
    const example = fixture('bars/slot-search-response.json');
    const res = await fhir(
      `${base}/Slot?status=free&start=ge2026-11-22T12:00:00%2B00:00&start=le2026-11-22T13:00:00%2B00:00&Schedule.actor:HealthcareService=${UTC}&_include=Slot:schedule&_include=Schedule:actor:HealthcareService`,
    );
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ resourceType: 'Bundle', type: example.type });
    const slots = res.body.entry.filter((e: any) => e.resource.resourceType === 'Slot');
    expect(slots.length).toBeGreaterThan(0);
    for (const { fullUrl, resource } of slots) {
      expect(fullUrl).toMatch(/^urn:uuid:[0-9a-f-]{36}$/);
      expect(resource.schedule.reference).toMatch(/^urn:uuid:/);
      expect(resource.meta.profile).toEqual(['https://fhir.hl7.org.uk/StructureDefinition/UKCore-Slot']);
      expect(Object.keys(resource)).toEqual(
        expect.arrayContaining(['serviceCategory', 'appointmentType', 'extension']),
      );
    }
    // Every reference inside the bundle resolves to an entry's fullUrl.
    const fullUrls = new Set(res.body.entry.map((e: any) => e.fullUrl));
    const schedule = res.body.entry.find((e: any) => e.resource.resourceType === 'Schedule').resource;
    expect(fullUrls.has(slots[0].resource.schedule.reference)).toBe(true);
    expect(fullUrls.has(schedule.actor[0].reference)).toBe(true);
  });

  it('runs search → book → conflict → duplicate → cancel → re-book through $process-message', async () => {
    const [slot] = await freeSlots('2026-11-23T10:00:00Z');

    const booked = await fhir(`${base}/$process-message`, {
      body: bookingMessage(slot, 'b-1'),
      headers: headers('req-b-1'),
    });
    expect(booked.status).toBe(200);
    expect(booked.body).toMatchObject({ resourceType: 'Bundle', type: 'message' });
    const [header, focus] = booked.body.entry.map((e: any) => e.resource);
    expect(header).toMatchObject({
      resourceType: 'MessageHeader',
      eventCoding: { code: 'booking-request' },
      response: { code: 'ok' },
    });
    expect(header.focus[0].reference).toBe(booked.body.entry[1].fullUrl);
    expect(focus).toMatchObject({ resourceType: 'Appointment', status: 'booked', meta: { versionId: '1' } });
    expect(sandbox.diary.slot(slot.id)!.status).toBe('busy');

    const conflict = await fhir(`${base}/$process-message`, {
      body: bookingMessage(slot, 'b-2'),
      headers: headers('req-b-2'),
    });
    expect(conflict.status).toBe(409);
    expect(issueOf(conflict.body)).toMatchObject({ code: 'REC_CONFLICT', issue: 'conflict' });

    const duplicate = await fhir(`${base}/$process-message`, {
      body: bookingMessage(slot, 'b-3'),
      headers: headers('req-b-1'),
    });
    expect(duplicate.status).toBe(409);
    expect(issueOf(duplicate.body)).toMatchObject({ code: 'REC_CONFLICT', issue: 'duplicate' });

    const cancelled = await fhir(`${base}/$process-message`, {
      body: cancelMessage(focus, 'b-4'),
      headers: headers('req-b-4'),
    });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.entry[1].resource).toMatchObject({
      id: focus.id,
      status: 'cancelled',
      meta: { versionId: '2' },
    });
    expect(sandbox.diary.slot(slot.id)!.status).toBe('free');
    expect((await fhir(`${base}/Appointment/${focus.id}`)).body.status).toBe('cancelled');

    const rebooked = await fhir(`${base}/$process-message`, {
      body: bookingMessage(slot, 'b-5'),
      headers: headers('req-b-5'),
    });
    expect(rebooked.status).toBe(200);
    expect(rebooked.body.entry[1].resource.id).not.toBe(focus.id);
  });

  it('finds the slot by service and start when the bundle Slot has no id, as in the published example', async () => {
    const slots = await freeSlots('2026-11-23T16:00:00Z');
    const sameStart = slots.filter((s) => s.start === slots[0].start);
    expect(sameStart).toHaveLength(2); // two clinicians, two slots at that time
    const first = await fhir(`${base}/$process-message`, {
      body: bookingMessage(slots[0], 's-1', true),
      headers: headers('req-s-1'),
    });
    const second = await fhir(`${base}/$process-message`, {
      body: bookingMessage(slots[0], 's-2', true),
      headers: headers('req-s-2'),
    });
    const third = await fhir(`${base}/$process-message`, {
      body: bookingMessage(slots[0], 's-3', true),
      headers: headers('req-s-3'),
    });
    expect([first.status, second.status, third.status]).toEqual([200, 200, 409]);
    expect(sameStart.map((s) => sandbox.diary.slot(s.id)!.status)).toEqual(['busy', 'busy']);
  });

  it('cancels on entered-in-error too, and answers a stale version and an unknown appointment in BaRS codes', async () => {
    const [slot] = await freeSlots('2026-11-23T14:00:00Z');
    const booked = await fhir(`${base}/$process-message`, {
      body: bookingMessage(slot, 'e-1'),
      headers: headers('req-e-1'),
    });
    const appointment = booked.body.entry[1].resource;
    const stale = cancelMessage({ ...appointment, meta: { versionId: '5' } }, 'e-2');
    const conflict = await fhir(`${base}/$process-message`, { body: stale, headers: headers('req-e-2') });
    expect(conflict.status).toBe(409);
    expect(issueOf(conflict.body).code).toBe('REC_CONFLICT');
    const error = cancelMessage(appointment, 'e-3');
    error.entry.find((e: any) => e.resource.resourceType === 'Appointment').resource.status =
      'entered-in-error';
    expect(
      (await fhir(`${base}/$process-message`, { body: error, headers: headers('req-e-3') })).status,
    ).toBe(200);
    const unknown = await fhir(`${base}/$process-message`, {
      body: cancelMessage({ ...appointment, id: 'nope' }, 'e-4'),
      headers: headers('req-e-4'),
    });
    expect(unknown.status).toBe(404);
    expect(issueOf(unknown.body)).toMatchObject({ code: 'REC_NOT_FOUND', issue: 'not-found' });
  });

  it('takes the published referral (servicerequest-request) and keeps it', async () => {
    const referral = fixture('bars/process-message-referral-validation-request.json');
    // As published it is addressed to DoS service 111111111, which this receiver does not have.
    const elsewhere = await fhir(`${base}/$process-message`, {
      body: referral,
      headers: { 'X-Request-ID': 'ref-0' },
    });
    expect(elsewhere.status).toBe(404);
    expect(issueOf(elsewhere.body)).toMatchObject({ code: 'REC_NOT_FOUND' });

    const res = await fhir(`${base}/$process-message`, { body: referral, headers: headers('ref-1') });
    expect(res.status).toBe(200);
    const [header, accepted] = res.body.entry.map((e: any) => e.resource);
    expect(header).toMatchObject({
      resourceType: 'MessageHeader',
      response: { identifier: referral.id, code: 'ok' },
    });
    expect(accepted).toMatchObject({
      resourceType: 'ServiceRequest',
      occurrencePeriod: { end: '2021-11-26T15:20:00+00:00' },
    });
    // The focus keeps the request's full URL, and every other entry of the request comes back.
    expect(res.body.entry[1].fullUrl).toBe(referral.entry[0].resource.focus[0].reference);
    expect(res.body.entry).toHaveLength(referral.entry.length);
    const read = await fhir(`${base}/ServiceRequest/${accepted.id}`);
    expect(read.body).toMatchObject({ resourceType: 'ServiceRequest', id: accepted.id });
    expect(sandbox.diary.referral(accepted.id)!.serviceId).toBe(UTC);
    // Sent again with the same request id: a duplicate.
    const again = await fhir(`${base}/$process-message`, { body: referral, headers: headers('ref-1') });
    expect(again.status).toBe(409);
    expect(issueOf(again.body)).toMatchObject({ code: 'REC_CONFLICT', issue: 'duplicate' });
  });

  it('answers a booking like the published response: the request entries back, the focus and slot as booked', async () => {
    const example = fixture('bars/process-message-booking-response.json');
    const [slot] = await freeSlots('2026-11-24T12:00:00Z');
    const request = bookingMessage(slot, 'shape-1');
    const res = await fhir(`${base}/$process-message`, { body: request, headers: headers('req-shape-1') });
    expect(res.status).toBe(200);
    // The same kinds of resources (the published one leaves out the patient's GP Organization; we echo it).
    const types = (bundle: any) => [...new Set(bundle.entry.map((e: any) => e.resource.resourceType))].sort();
    expect(types(res.body)).toEqual(types(example));
    const focusUrl = request.entry[0].resource.focus[0].reference;
    expect(res.body.entry[0].resource.focus[0]).toEqual({ reference: focusUrl, type: 'Appointment' });
    const byUrl = new Map(res.body.entry.map((e: any) => [e.fullUrl, e.resource]));
    const booked: any = byUrl.get(focusUrl);
    // The appointment takes its slot's times, whatever the request said; its references resolve here.
    expect(booked).toMatchObject({ status: 'booked', start: slot.start, end: slot.end });
    expect(byUrl.get(booked.slot[0].reference)).toMatchObject({
      resourceType: 'Slot',
      id: slot.id,
      status: 'busy',
    });
    expect(byUrl.get(booked.participant[0].actor.reference)).toMatchObject({ resourceType: 'Patient' });
    // A read of it has the keys of the published read example.
    const read = await fhir(`${base}/Appointment/${booked.id}`);
    const readExample = fixture('bars/appointment-read-response.json');
    expect(Object.keys(read.body)).toEqual(
      expect.arrayContaining(Object.keys(readExample).filter((k) => k !== 'basedOn')),
    );
  });

  it('answers a cancellation sent twice as a duplicate, and a booking for a service it lacks as not found', async () => {
    const [slot] = await freeSlots('2026-11-24T14:00:00Z');
    const booked = await fhir(`${base}/$process-message`, {
      body: bookingMessage(slot, 'd-1'),
      headers: headers('req-d-1'),
    });
    const message = cancelMessage(
      booked.body.entry.find((e: any) => e.resource.resourceType === 'Appointment').resource,
      'd-2',
    );
    expect(
      (await fhir(`${base}/$process-message`, { body: message, headers: headers('req-d-2') })).status,
    ).toBe(200);
    const again = await fhir(`${base}/$process-message`, { body: message, headers: headers('req-d-2') });
    expect(again.status).toBe(409);
    expect(issueOf(again.body)).toMatchObject({ code: 'REC_CONFLICT', issue: 'duplicate' });

    const elsewhere = await fhir(`${base}/$process-message`, {
      body: bookingMessage(slot, 'd-3', true),
      headers: { 'NHSD-Target-Identifier': target('5555555555'), 'X-Request-ID': 'req-d-3' },
    });
    expect(elsewhere.status).toBe(404);
    expect(issueOf(elsewhere.body)).toMatchObject({ code: 'REC_NOT_FOUND', issue: 'not-found' });
  });

  it("lists a patient's appointments by patient:identifier", async () => {
    const [slot] = await freeSlots('2026-11-24T09:00:00Z');
    await fhir(`${base}/$process-message`, {
      body: bookingMessage(slot, 'l-1'),
      headers: headers('req-l-1'),
    });
    const res = await fhir(
      `${base}/Appointment?patient:identifier=https://fhir.nhs.uk/Id/nhs-number|9476719931`,
    );
    expect(res.status).toBe(200);
    expect(res.body.entry.some((e: any) => e.resource.start === slot.start)).toBe(true);
  });

  it('rejects what is not a message in BaRS terms, pointing at the element', async () => {
    const notBundle = await fhir(`${base}/$process-message`, { body: { resourceType: 'Appointment' } });
    expect(notBundle.status).toBe(400);
    expect(issueOf(notBundle.body)).toMatchObject({ code: 'REC_BAD_REQUEST', expression: 'Bundle.type' });
    const message = fixture('bars/process-message-booking-request.json');
    message.entry[0].resource.eventCoding.code = 'something-else';
    const unknownEvent = await fhir(`${base}/$process-message`, { body: message });
    expect(unknownEvent.status).toBe(422);
    expect(issueOf(unknownEvent.body)).toMatchObject({
      code: 'REC_UNPROCESSABLE_ENTITY',
      expression: 'MessageHeader.eventCoding',
    });
    // The published example as it is: its slot (2021) is not in this diary.
    const old = await fhir(`${base}/$process-message`, {
      body: fixture('bars/process-message-booking-request.json'),
      headers: headers('old'),
    });
    expect(old.status).toBe(422);
    expect(issueOf(old.body)).toMatchObject({
      code: 'REC_UNPROCESSABLE_ENTITY',
      expression: 'Appointment.slot',
    });
  });
});
