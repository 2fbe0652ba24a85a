import { fhir, issueOf, startSandbox, type RunningSandbox } from '../helpers/sandbox.js';

let sandbox: RunningSandbox;

beforeAll(async () => {
  sandbox = await startSandbox({
    faults: [{ dialect: 'gpconnect', interaction: 'update', probability: 1, fault: 'status=500' }],
  });
});
afterAll(() => sandbox.close());

const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  fhir(`${sandbox.url}${path}`, { body, headers });

describe('the sandbox on malformed input: a 4xx in the dialect, never a 500', () => {
  it.each([
    [
      'STU3 slot [null]',
      '/stu3/Appointment',
      { resourceType: 'Appointment', status: 'booked', slot: [null] },
    ],
    [
      'STU3 participant [null]',
      '/stu3/Appointment',
      { resourceType: 'Appointment', status: 'booked', slot: [{ reference: 'Slot/x' }], participant: [null] },
    ],
    [
      'STU3 contained [null]',
      '/stu3/Appointment',
      { resourceType: 'Appointment', status: 'booked', contained: [null], slot: [{ reference: '#s' }] },
    ],
    ['STU3 body an array', '/stu3/Appointment', [1, 2, 3]],
    ['STU3 body null', '/stu3/Appointment', 'null'],
    [
      'GP Connect extension [null]',
      '/gpconnect/Appointment',
      { resourceType: 'Appointment', status: 'booked', extension: [null] },
    ],
    [
      'BaRS entry [null]',
      '/bars/$process-message',
      { resourceType: 'Bundle', type: 'message', entry: [null] },
    ],
    [
      'BaRS null members everywhere',
      '/bars/$process-message',
      {
        resourceType: 'Bundle',
        type: 'message',
        entry: [
          {
            fullUrl: 'urn:uuid:h',
            resource: {
              resourceType: 'MessageHeader',
              eventCoding: { code: 'booking-request' },
              focus: [{ reference: 'urn:uuid:a' }],
              destination: [null],
            },
          },
          {
            fullUrl: 'urn:uuid:a',
            resource: { resourceType: 'Appointment', status: 'booked', slot: [null], participant: [null] },
          },
          null,
          { fullUrl: 'urn:uuid:p', resource: { resourceType: 'Patient', identifier: [null] } },
        ],
      },
    ],
    [
      'BaRS focus a number',
      '/bars/$process-message',
      {
        resourceType: 'Bundle',
        type: 'message',
        entry: [{ resource: { resourceType: 'MessageHeader', focus: 5 } }],
      },
    ],
  ])('%s', async (_name, path, body) => {
    const res = await post(path, body);
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(res.body.resourceType).toBe('OperationOutcome');
  });

  it('an empty or blank date parameter is a bad parameter', async () => {
    for (const value of [
      '',
      '%20',
      'ge',
      'ge2026-02-31',
      'ge2026-11-22T25:00:00Z',
      'ge2026-11-22T10:00:00',
    ]) {
      const res = await fhir(`${sandbox.url}/stu3/Slot?service=2000011147&start=${value}`);
      expect({ value, status: res.status, code: issueOf(res.body).code }).toEqual({
        value,
        status: 400,
        code: 'INVALID_PARAMETER',
      });
    }
  });

  it('an unknown status value is refused rather than ignored', async () => {
    const res = await fhir(`${sandbox.url}/bars/Slot?status=FREE`);
    expect(res.status).toBe(400);
    expect(issueOf(res.body)).toMatchObject({ code: 'REC_BAD_REQUEST', expression: 'status' });
  });

  it('an oversize body is 413, an unknown charset 415, an undecodable path 400', async () => {
    const big = await post('/stu3/Appointment', `{"x":"${'a'.repeat(6 * 1024 * 1024)}"}`);
    expect(big.status).toBe(413);
    const latin = await fetch(`${sandbox.url}/bars/$process-message`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/fhir+json; charset=latin2' },
      body: '{}',
    });
    expect(latin.status).toBe(415);
    const undecodable = await fhir(`${sandbox.url}/stu3/Appointment/%E0%A4%A`);
    expect(undecodable.status).toBe(400);
  });

  it('another method on a known path is 405 with Allow', async () => {
    const res = await fetch(`${sandbox.url}/stu3/Appointment/abc`, { method: 'DELETE' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('PUT, GET');
  });

  it('a fault asking for more than ten minutes of latency is refused, not shortened to nothing', async () => {
    const res = await fhir(`${sandbox.url}/stu3/metadata`, {
      headers: { 'X-Sandbox-Fault': 'latency=1e10' },
    });
    expect(res.status).toBe(400);
    expect(res.body.issue[0].diagnostics).toContain('at most 600000');
  });
});

describe('search dates as FHIR defines them', () => {
  const gpc = (query: string) => fhir(`${sandbox.url}/gpconnect/Slot?status=free&${query}`);
  const starts = (res: any): string[] => (res.body.entry ?? []).map((e: any) => e.resource.start);

  it('a bare-date upper bound takes in the whole day', async () => {
    const res = await gpc('start=ge2026-11-23&end=le2026-11-24');
    expect(res.status).toBe(200);
    const days = new Set(starts(res).map((s) => s.slice(0, 10)));
    expect([...days].sort()).toEqual(['2026-11-23', '2026-11-24']);
  });

  it('end=le bounds the end of the slot, not its start', async () => {
    const res = await gpc('start=ge2026-11-23T08:00:00Z&end=le2026-11-23T09:00:00Z');
    const slots = res.body.entry.map((e: any) => e.resource);
    expect(slots.length).toBeGreaterThan(0);
    for (const slot of slots)
      expect(new Date(slot.end).getTime()).toBeLessThanOrEqual(Date.parse('2026-11-23T09:00:00Z'));
  });

  it('gt and lt leave out the bound itself; ge and le keep it', async () => {
    const all = starts(
      await fhir(
        `${sandbox.url}/stu3/Slot?service=2000011148&status=free&start=ge2026-11-23T10:00:00Z&start=le2026-11-23T12:00:00Z`,
      ),
    );
    const first = all[0]!;
    const last = all[all.length - 1]!;
    const strict = starts(
      await fhir(
        `${sandbox.url}/stu3/Slot?service=2000011148&status=free&start=gt${encodeURIComponent(first)}&start=lt${encodeURIComponent(last)}`,
      ),
    );
    expect(strict).toEqual(all.slice(1, -1).filter((s) => s !== first && s !== last));
  });
});

describe('GP Connect amendments', () => {
  it('cannot move a booking to another slot, and faults can aim at them', async () => {
    const res = await fhir(
      `${sandbox.url}/gpconnect/Slot?status=free&start=ge2026-11-24T09:00:00Z&end=le2026-11-24T12:00:00Z`,
    );
    const [slot, other] = res.body.entry
      .filter((e: any) => e.resource.resourceType === 'Slot')
      .map((e: any) => e.resource);
    const body = {
      resourceType: 'Appointment',
      status: 'booked',
      extension: [
        {
          url: 'https://fhir.nhs.uk/STU3/StructureDefinition/Extension-GPConnect-BookingOrganisation-1',
          valueReference: { reference: '#1' },
        },
      ],
      slot: [{ reference: `Slot/${slot.id}` }],
      participant: [{ actor: { reference: 'Patient/P9434765919' } }],
    };
    const booked = await fhir(`${sandbox.url}/gpconnect/Appointment`, { body });
    expect(booked.status).toBe(201);
    const moved = await fhir(`${sandbox.url}/gpconnect/Appointment/${booked.body.id}`, {
      method: 'PUT',
      body: { ...booked.body, slot: [{ reference: `Slot/${other.id}` }] },
      headers: { 'If-Match': 'W/"1"', 'X-Sandbox-Fault': '' },
    });
    // The configured fault (interaction update, status 500) fires before the amend is looked at.
    expect(moved.status).toBe(500);
    const quiet = await startSandbox();
    try {
      const again = await fhir(`${quiet.url}/gpconnect/Appointment`, { body });
      const refused = await fhir(`${quiet.url}/gpconnect/Appointment/${again.body.id}`, {
        method: 'PUT',
        body: { ...again.body, slot: [{ reference: `Slot/${other.id}` }] },
        headers: { 'If-Match': 'W/"1"' },
      });
      expect(refused.status).toBe(422);
      expect(issueOf(refused.body)).toMatchObject({
        code: 'INVALID_RESOURCE',
        expression: 'Appointment.slot',
      });
      expect(quiet.diary.slot(slot.id)!.status).toBe('busy');
      expect(quiet.diary.slot(other.id)!.status).toBe('free');
    } finally {
      await quiet.close();
    }
  });
});
