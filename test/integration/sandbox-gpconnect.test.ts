import {
  fhir,
  gpConnectAppointment as appointment,
  issueOf,
  startSandbox,
  type RunningSandbox,
} from '../helpers/sandbox.js';

const NHS_NUMBER = '9434765919';
let sandbox: RunningSandbox;
let base: string;

beforeAll(async () => {
  sandbox = await startSandbox();
  base = `${sandbox.url}/gpconnect`;
});
afterAll(() => sandbox.close());

async function window(from: string, to: string): Promise<any[]> {
  const res = await fhir(
    `${base}/Slot?start=ge${from}&end=le${to}&status=free&_include=Slot:schedule&searchFilter=https://fhir.nhs.uk/Id/ods-organization-code|A99999`,
  );
  expect(res.status).toBe(200);
  return res.body.entry.filter((e: any) => e.search.mode === 'match').map((e: any) => e.resource);
}

describe('GP Connect sandbox', () => {
  it('serves a STU3 CapabilityStatement', async () => {
    const res = await fhir(`${base}/metadata`);
    expect(res.body).toMatchObject({ resourceType: 'CapabilityStatement', fhirVersion: '3.0.1' });
  });

  it('finds the patient by NHS number, as GP Connect consumers do first', async () => {
    const res = await fhir(`${base}/Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|${NHS_NUMBER}`);
    expect(res.status).toBe(200);
    expect(res.body.entry[0].resource).toMatchObject({ resourceType: 'Patient', id: `P${NHS_NUMBER}` });
    const bad = await fhir(`${base}/Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|1234567890`);
    expect(bad.status).toBe(422);
    expect(issueOf(bad.body).code).toBe('INVALID_NHS_NUMBER');
  });

  it('searches slots in a window of at most 14 days, with UK local times and GP Connect profiles', async () => {
    const slots = await window('2026-11-23T00:00:00%2B00:00', '2026-11-23T23:59:59%2B00:00');
    expect(slots.length).toBeGreaterThan(0);
    expect(slots[0].start).toMatch(/^2026-11-23T\d{2}:\d{2}:00\+00:00$/);
    expect(slots[0].meta.profile).toEqual(['https://fhir.nhs.uk/STU3/StructureDefinition/GPConnect-Slot-1']);
    const tooLong = await fhir(`${base}/Slot?start=ge2026-11-22&end=le2026-12-20&status=free`);
    expect(tooLong.status).toBe(422);
    expect(issueOf(tooLong.body)).toMatchObject({ code: 'INVALID_PARAMETER', expression: 'end' });
    const unbounded = await fhir(`${base}/Slot?status=free`);
    expect(unbounded.status).toBe(422);
  });

  it('runs search → book → conflict → cancel → re-book with If-Match and the cancellation reason', async () => {
    const [slot] = await window('2026-11-24T09:00:00Z', '2026-11-24T12:00:00Z');
    const patient = `P${NHS_NUMBER}`;

    const booked = await fhir(`${base}/Appointment`, { body: appointment(slot, patient) });
    expect(booked.status).toBe(201);
    const id = booked.body.id;
    expect(booked.headers.get('location')).toBe(`${base}/Appointment/${id}/_history/1`);
    expect(booked.headers.get('etag')).toBe('W/"1"');

    const conflict = await fhir(`${base}/Appointment`, { body: appointment(slot, patient) });
    expect(conflict.status).toBe(409);
    expect(issueOf(conflict.body)).toMatchObject({ code: 'DUPLICATE_REJECTED' });

    const current = (await fhir(`${base}/Appointment/${id}`)).body;
    const withoutReason = { ...current, status: 'cancelled' };
    const noReason = await fhir(`${base}/Appointment/${id}`, {
      method: 'PUT',
      body: withoutReason,
      headers: { 'If-Match': 'W/"1"' },
    });
    expect(noReason.status).toBe(422);
    expect(issueOf(noReason.body)).toMatchObject({
      code: 'INVALID_RESOURCE',
      expression: 'Appointment.extension',
    });

    const cancel = {
      ...current,
      status: 'cancelled',
      extension: [
        ...current.extension,
        {
          url: 'https://fhir.nhs.uk/STU3/StructureDefinition/Extension-GPConnect-AppointmentCancellationReason-1',
          valueString: 'Patient no longer needs it',
        },
      ],
    };
    expect((await fhir(`${base}/Appointment/${id}`, { method: 'PUT', body: cancel })).status).toBe(412);
    const stale = await fhir(`${base}/Appointment/${id}`, {
      method: 'PUT',
      body: cancel,
      headers: { 'If-Match': 'W/"3"' },
    });
    expect(stale.status).toBe(409);
    const done = await fhir(`${base}/Appointment/${id}`, {
      method: 'PUT',
      body: cancel,
      headers: { 'If-Match': 'W/"1"' },
    });
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ id, status: 'cancelled', meta: { versionId: '2' } });

    const rebooked = await fhir(`${base}/Appointment`, { body: appointment(slot, patient) });
    expect(rebooked.status).toBe(201);
  });

  it('amends a booking with a PUT that keeps it booked', async () => {
    const [slot] = await window('2026-11-24T13:00:00Z', '2026-11-24T17:00:00Z');
    const booked = await fhir(`${base}/Appointment`, { body: appointment(slot, 'P9434765870') });
    const amended = await fhir(`${base}/Appointment/${booked.body.id}`, {
      method: 'PUT',
      body: { ...booked.body, comment: 'Wheelchair access needed' },
      headers: { 'If-Match': booked.headers.get('etag')! },
    });
    expect(amended.status).toBe(200);
    expect(amended.body).toMatchObject({
      status: 'booked',
      comment: 'Wheelchair access needed',
      meta: { versionId: '2' },
    });
    expect(sandbox.diary.slot(slot.id)!.status).toBe('busy');
  });

  it("lists a patient's appointments, within a start window", async () => {
    const [slot] = await window('2026-11-23T14:00:00Z', '2026-11-23T17:00:00Z');
    await fhir(`${base}/Appointment`, { body: appointment(slot, 'P9876543210') });
    const res = await fhir(`${base}/Patient/P9876543210/Appointment?start=ge2026-11-23&start=le2026-11-24`);
    expect(res.status).toBe(200);
    expect(res.body.entry.map((e: any) => e.resource.slot[0].reference)).toEqual([`Slot/${slot.id}`]);
    const outside = await fhir(
      `${base}/Patient/P9876543210/Appointment?start=ge2026-11-24&start=le2026-11-25`,
    );
    expect(outside.body.total).toBe(0);
  });

  it('refuses a booking without the booking organisation, and answers unknown records as NO_RECORD_FOUND', async () => {
    const [slot] = await window('2026-11-24T17:00:00Z', '2026-11-24T18:00:00Z');
    const body = { ...appointment(slot, `P${NHS_NUMBER}`), extension: [] };
    const res = await fhir(`${base}/Appointment`, { body });
    expect(res.status).toBe(422);
    expect(issueOf(res.body)).toMatchObject({
      code: 'INVALID_RESOURCE',
      expression: 'Appointment.extension',
    });
    const unknown = await fhir(`${base}/Appointment/nothing-here`);
    expect(unknown.status).toBe(404);
    expect(issueOf(unknown.body)).toMatchObject({ code: 'NO_RECORD_FOUND', issue: 'not-found' });
    const badJson = await fhir(`${base}/Appointment`, { body: '{' });
    expect(badJson.status).toBe(400);
    expect(issueOf(badJson.body).code).toBe('BAD_REQUEST');
  });
});
