import { fhir, fixture, issueOf, startSandbox, type RunningSandbox } from '../helpers/sandbox.js';

const ED = '2000011147';
let sandbox: RunningSandbox;
let base: string;

beforeAll(async () => {
  sandbox = await startSandbox();
  base = `${sandbox.url}/stu3`;
});
afterAll(() => sandbox.close());

/** A book request shaped exactly like the published example, pointed at one of our slots. */
function bookRequest(slot: any, nhsNumber?: string): any {
  const body = fixture('stu3/appointment-book-request.json');
  const contained = body.contained.find((c: any) => c.resourceType === 'Slot');
  Object.assign(contained, { id: slot.id, start: slot.start, end: slot.end, schedule: slot.schedule });
  body.slot = [{ reference: `#${slot.id}` }];
  body.start = slot.start;
  body.end = slot.end;
  if (nhsNumber)
    body.contained.find((c: any) => c.resourceType === 'Patient').identifier[0].value = nhsNumber;
  return body;
}

async function freeSlots(query = `schedule.actor:healthcareservice=${ED}&status=free`): Promise<any[]> {
  const res = await fhir(`${base}/Slot?${query}`);
  expect(res.status).toBe(200);
  return res.body.entry.filter((e: any) => e.search.mode === 'match').map((e: any) => e.resource);
}

describe('STU3 Booking Standard sandbox', () => {
  it('serves a STU3 CapabilityStatement', async () => {
    const res = await fhir(`${base}/metadata`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/fhir+json; charset=utf-8');
    expect(res.body).toMatchObject({
      resourceType: 'CapabilityStatement',
      fhirVersion: '3.0.1',
      kind: 'instance',
    });
  });

  it('answers a slot search with a searchset shaped like the published example', async () => {
    const example = fixture('stu3/slot-search-response.json');
    const query =
      `schedule.actor:healthcareservice=${ED}&start=ge2026-11-22T10:00:00%2B00:00&start=le2026-11-22T12:00:00%2B00:00` +
      '&status=free&_include=Slot:schedule&_include:iterate=Schedule:actor:HealthcareService' +
      '&_include:iterate=Schedule:actor:Practitioner&_include:iterate=HealthcareService.location';
    const res = await fhir(`${base}/Slot?${query}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ resourceType: example.resourceType, type: example.type });
    const kinds = (mode: string) => [
      ...new Set(
        res.body.entry.filter((e: any) => e.search.mode === mode).map((e: any) => e.resource.resourceType),
      ),
    ];
    expect(kinds('match')).toEqual(['Slot']);
    expect(kinds('include')).toEqual(
      expect.arrayContaining(['Schedule', 'HealthcareService', 'Practitioner', 'Location']),
    );
    expect(res.body.total).toBe(res.body.entry.filter((e: any) => e.search.mode === 'match').length);
    for (const e of res.body.entry.filter((x: any) => x.search.mode === 'match')) {
      // Same keys as the example's Slots, in a window, free, with offset instants and absolute full URLs.
      expect(Object.keys(e.resource).sort()).toEqual(Object.keys(example.entry[0].resource).sort());
      expect(e.resource.status).toBe('free');
      expect(e.resource.start).toMatch(/^2026-11-22T(10|11|12):\d{2}:00\.000\+00:00$/);
      expect(e.fullUrl).toBe(`${base}/Slot/${e.resource.id}`);
    }
    const service = res.body.entry.find((e: any) => e.resource.resourceType === 'HealthcareService').resource;
    expect(service.id).toBe(ED);
  });

  it('accepts every spelling of the service parameter and of _include, with the same answer', async () => {
    const window = 'start=ge2026-11-22T13:00:00Z&start=le2026-11-22T15:00:00Z&status=free';
    const spellings = [
      `schedule.actor:healthcareservice=${ED}&${window}&_include=Slot:schedule`,
      `Schedule.actor:HealthcareService=${ED}&${window}&_include=Slot.schedule`,
      `service=${ED}&${window}&_include=Slot:schedule`,
      `service=HealthcareService/${ED}&${window}&_include=Slot.schedule`,
    ];
    const answers = await Promise.all(spellings.map((q) => fhir(`${base}/Slot?${q}`)));
    const ids = answers.map((a) =>
      a.body.entry.map((e: any) => `${e.search.mode}:${e.resource.resourceType}/${e.resource.id}`),
    );
    expect(ids[0].length).toBeGreaterThan(2);
    expect(ids[0].some((id: string) => id.startsWith('include:Schedule/'))).toBe(true);
    for (const other of ids.slice(1)) expect(other).toEqual(ids[0]);
  });

  it('filters by status: free, or free,busy', async () => {
    const slot = (await freeSlots())[0];
    await fhir(`${base}/Appointment`, {
      body: bookRequest(slot),
      headers: { 'X-Request-ID': 'status-filter' },
    });
    const onlyFree = await freeSlots(`service=${ED}&status=free`);
    const both = await fhir(`${base}/Slot?service=${ED}&status=free,busy`);
    expect(onlyFree.map((s) => s.id)).not.toContain(slot.id);
    expect(both.body.entry.find((e: any) => e.resource.id === slot.id).resource.status).toBe('busy');
  });

  it('treats $find-slots (GET and POST, query, form or Parameters) as the same search', async () => {
    const query = `service=${ED}&start=ge2026-11-23T09:00:00Z&start=le2026-11-23T11:00:00Z&status=free`;
    const plain = await fhir(`${base}/Slot?${query}`);
    const ids = (body: any) => body.entry.map((e: any) => e.resource.id);
    expect(ids((await fhir(`${base}/Slot/$find-slots?${query}`)).body)).toEqual(ids(plain.body));
    expect(ids((await fhir(`${base}/$find-slots?${query}`)).body)).toEqual(ids(plain.body));
    const parameters = {
      resourceType: 'Parameters',
      parameter: [...new URLSearchParams(query)].map(([name, valueString]) => ({ name, valueString })),
    };
    expect(ids((await fhir(`${base}/$find-slots`, { body: parameters })).body)).toEqual(ids(plain.body));
    const form = await fetch(`${base}/Slot/$find-slots`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: query,
    });
    expect(ids(await form.json())).toEqual(ids(plain.body));
  });

  it('answers 400 with the parameter for a malformed date, and 404 for an unknown service', async () => {
    const bad = await fhir(`${base}/Slot?service=${ED}&start=geSoon`);
    expect(bad.status).toBe(400);
    expect(issueOf(bad.body)).toMatchObject({ code: 'INVALID_PARAMETER', expression: 'start' });
    const unknown = await fhir(`${base}/Slot?service=999999`);
    expect(unknown.status).toBe(404);
    expect(issueOf(unknown.body)).toMatchObject({ code: 'NO_RECORD_FOUND', issue: 'not-found' });
  });

  it('runs search → book → conflict → duplicate → cancel → re-book as the standard describes', async () => {
    const [slot, other] = await freeSlots(`service=${ED}&status=free&start=ge2026-11-24T10:00:00Z`);

    // Book: 201 with Location and ETag, the slot becomes busy.
    const booked = await fhir(`${base}/Appointment`, {
      body: bookRequest(slot),
      headers: { 'X-Request-ID': 'book-1' },
    });
    expect(booked.status).toBe(201);
    const id = booked.body.id;
    expect(booked.headers.get('location')).toBe(`${base}/Appointment/${id}/_history/1`);
    expect(booked.headers.get('etag')).toBe('W/"1"');
    expect(booked.body).toMatchObject({
      resourceType: 'Appointment',
      status: 'booked',
      meta: { versionId: '1' },
    });
    expect(sandbox.diary.slot(slot.id)!.status).toBe('busy');

    // Slot taken: 422, issue code processing (the API spec's answer).
    const conflict = await fhir(`${base}/Appointment`, {
      body: bookRequest(slot),
      headers: { 'X-Request-ID': 'book-2' },
    });
    expect(conflict.status).toBe(422);
    expect(issueOf(conflict.body)).toMatchObject({ issue: 'processing' });
    expect(conflict.body.issue[0].diagnostics).toBe('slot no longer available');

    // The same request id again: 409 duplicate.
    const duplicate = await fhir(`${base}/Appointment`, {
      body: bookRequest(other),
      headers: { 'X-Request-ID': 'book-1' },
    });
    expect(duplicate.status).toBe(409);
    expect(issueOf(duplicate.body)).toMatchObject({ issue: 'duplicate', code: 'DUPLICATE_REJECTED' });

    // Cancel: GET it, change only the status, PUT with If-Match (the published cancel example's shape).
    const read = await fhir(`${base}/Appointment/${id}`);
    expect(read.status).toBe(200);
    expect(read.headers.get('etag')).toBe('W/"1"');
    const cancelBody = {
      ...fixture('stu3/appointment-cancel-request.json'),
      ...read.body,
      status: 'cancelled',
    };
    const noIfMatch = await fhir(`${base}/Appointment/${id}`, { method: 'PUT', body: cancelBody });
    expect(noIfMatch.status).toBe(412);
    const stale = await fhir(`${base}/Appointment/${id}`, {
      method: 'PUT',
      body: cancelBody,
      headers: { 'If-Match': 'W/"7"' },
    });
    expect(stale.status).toBe(409);
    expect(issueOf(stale.body).issue).toBe('conflict');
    const cancelled = await fhir(`${base}/Appointment/${id}`, {
      method: 'PUT',
      body: cancelBody,
      headers: { 'If-Match': 'W/"1"' },
    });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ id, status: 'cancelled', meta: { versionId: '2' } });
    expect(cancelled.headers.get('etag')).toBe('W/"2"');
    expect(
      (await freeSlots(`service=${ED}&status=free&start=ge2026-11-24T10:00:00Z`)).map((s) => s.id),
    ).toContain(slot.id);

    // Re-book the freed slot.
    const rebooked = await fhir(`${base}/Appointment`, {
      body: bookRequest(slot),
      headers: { 'X-Request-ID': 'book-3' },
    });
    expect(rebooked.status).toBe(201);
    expect(rebooked.body.id).not.toBe(id);
  });

  it("lists a patient's appointments by NHS number", async () => {
    const slot = (await freeSlots(`service=${ED}&status=free&start=ge2026-11-24T15:00:00Z`))[0];
    await fhir(`${base}/Appointment`, { body: bookRequest(slot, '9434765919') });
    const res = await fhir(`${base}/Appointment?identifier=https://fhir.nhs.uk/Id/nhs-number|9434765919`);
    expect(res.status).toBe(200);
    expect(res.body.type).toBe('searchset');
    expect(res.body.entry.map((e: any) => e.resource.slot[0].reference)).toEqual([`#${slot.id}`]);
    const nobody = await fhir(`${base}/Appointment?identifier=https://fhir.nhs.uk/Id/nhs-number|9876543210`);
    expect(nobody.body.total).toBe(0);
  });

  it('rejects bad bodies with an OperationOutcome pointing at the element', async () => {
    const slot = (await freeSlots(`service=${ED}&status=free&start=ge2026-11-24T18:00:00Z`))[0];
    const notAppointment = await fhir(`${base}/Appointment`, { body: { resourceType: 'Patient' } });
    expect(notAppointment.status).toBe(400);
    expect(issueOf(notAppointment.body)).toMatchObject({
      code: 'INVALID_RESOURCE',
      expression: 'Appointment',
    });
    const badNumber = await fhir(`${base}/Appointment`, { body: bookRequest(slot, '1234567890') });
    expect(badNumber.status).toBe(422);
    expect(issueOf(badNumber.body)).toMatchObject({
      code: 'INVALID_NHS_NUMBER',
      expression: 'Patient.identifier',
    });
    const noSlot = { ...bookRequest(slot), slot: [] };
    expect(issueOf((await fhir(`${base}/Appointment`, { body: noSlot })).body).expression).toBe(
      'Appointment.slot',
    );
    const notJson = await fhir(`${base}/Appointment`, { body: '{"resourceType":' });
    expect(notJson.status).toBe(400);
    expect(await fhir(`${base}/Appointment/no-such-id`).then((r) => r.status)).toBe(404);
  });

  it('answers 409 for a taken slot when configured to follow the error table', async () => {
    const strict = await startSandbox({ stu3SlotConflictStatus: 409 });
    try {
      const res = await fhir(`${strict.url}/stu3/Slot?service=${ED}&status=free`);
      const slot = res.body.entry[0].resource;
      expect((await fhir(`${strict.url}/stu3/Appointment`, { body: bookRequest(slot) })).status).toBe(201);
      const again = await fhir(`${strict.url}/stu3/Appointment`, { body: bookRequest(slot) });
      expect(again.status).toBe(409);
      // The error table's 409, told apart from a duplicate by issue.code.
      expect(issueOf(again.body)).toEqual({ issue: 'conflict', code: undefined });
    } finally {
      await strict.close();
    }
  });
});
