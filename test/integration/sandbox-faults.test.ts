import { request } from 'node:http';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fhir, fixture, issueOf, startSandbox, type RunningSandbox } from '../helpers/sandbox.js';

let sandbox: RunningSandbox;

beforeAll(async () => {
  sandbox = await startSandbox({
    faults: [{ dialect: 'gpconnect', interaction: 'capability', probability: 1, fault: 'status=503' }],
  });
});
afterAll(() => sandbox.close());

const searchPath: Record<string, string> = {
  stu3: '/stu3/Slot?service=2000011147&status=free&start=ge2026-11-23T10:00:00Z&start=le2026-11-23T11:00:00Z',
  bars: '/bars/Slot?Schedule.actor:HealthcareService=2000072489&status=free&start=ge2026-11-23T10:00:00Z&start=le2026-11-23T11:00:00Z',
  gpconnect: '/gpconnect/Slot?start=ge2026-11-23T10:00:00Z&end=le2026-11-23T11:00:00Z&status=free',
};
const withFault = (dialect: string, fault: string) =>
  fhir(`${sandbox.url}${searchPath[dialect]}`, { headers: { 'X-Sandbox-Fault': fault } });

describe('the error rows of the outcome table, on demand', () => {
  it.each([
    // Not allowed
    ['stu3', 'status=403', 403, 'ACCESS_DENIED', 'forbidden'],
    ['bars', 'status=401', 401, 'SEND_UNAUTHORIZED', 'expired'],
    ['stu3', 'status=401', 401, undefined, 'login'],
    ['gpconnect', 'status=408', 408, undefined, 'timeout'],
    ['gpconnect', 'status=405', 405, undefined, 'not-supported'],
    ['bars', 'status=412', 412, 'REC_PRECONDITION_FAILED', 'required'],
    ['bars', 'status=403', 403, 'SEND_FORBIDDEN', 'forbidden'],
    ['gpconnect', 'status=403', 403, 'ACCESS_DENIED', 'forbidden'],
    // Provider down or timed out, as BaRS receivers say it
    ['bars', 'status=408', 408, 'REC_TIMEOUT', 'timeout'],
    ['bars', 'status=500', 500, 'REC_SERVER_ERROR', 'exception'],
    ['bars', 'status=503', 503, 'REC_SERVICE_UNAVAILABLE', 'transient'],
    ['stu3', 'status=500', 500, 'INTERNAL_SERVER_ERROR', 'exception'],
    // Throttled
    ['bars', 'status=429', 429, 'SEND_TOO_MANY_REQUESTS', 'throttled'],
  ])('%s %s → %i %s', async (dialect, fault, status, code, issue) => {
    const res = await withFault(dialect, fault);
    expect(res.status).toBe(status);
    expect(issueOf(res.body)).toMatchObject({ code, issue });
  });

  it.each(['stu3', 'bars', 'gpconnect'])(
    '%s: every status a fault can ask for is the status answered',
    async (dialect) => {
      for (const status of [400, 401, 403, 404, 405, 408, 409, 412, 413, 415, 422, 429, 500, 502, 503, 504]) {
        expect({ status, got: (await withFault(dialect, `status=${status}`)).status }).toEqual({
          status,
          got: status,
        });
      }
    },
  );

  it('BaRS answers as the published BaRS OperationOutcome examples do', async () => {
    // Each example, named <status>-<code>-<issue.code>, and the fault that produces it. Not produced:
    // 400 SEND_BAD_REQUEST (raised by the national proxy about the sender, never by a receiver) and
    // 422 too-costly (a receiver's business-rule rejection is answered with issue.code business-rule).
    const produces: Record<string, string> = {
      '400-REC_BAD_REQUEST-invariant': 'status=400',
      '401-SEND_UNAUTHORIZED-expired': 'status=401',
      '404-REC_NOT_FOUND-not-found': 'status=404',
      '408-REC_TIMEOUT-timeout': 'status=408',
      '409-REC_CONFLICT-conflict': 'error=slot-unavailable',
      '409-REC_CONFLICT-duplicate': 'error=duplicate',
      '429-SEND_TOO_MANY_REQUESTS-throttled': 'status=429',
      '500-REC_SERVER_ERROR-exception': 'status=500',
      '503-REC_SERVICE_UNAVAILABLE-transient': 'status=503',
    };
    const examples = readdirSync(path.resolve('..', 'shared', 'fixtures', 'bars', 'operation-outcomes')).map(
      (f) => f.replace('.json', ''),
    );
    expect(examples.filter((e) => !produces[e]).sort()).toEqual([
      '400-SEND_BAD_REQUEST-required',
      '422-REC_UNPROCESSABLE_ENTITY-too-costly',
    ]);
    for (const [name, fault] of Object.entries(produces)) {
      const example = fixture(`bars/operation-outcomes/${name}.json`);
      const res = await withFault('bars', fault);
      const got = {
        status: res.status,
        code: issueOf(res.body).code,
        issue: issueOf(res.body).issue,
        system: res.body.issue[0].details.coding[0].system,
      };
      const want = {
        status: Number(name.slice(0, 3)),
        code: example.issue[0].details.coding[0].code,
        issue: example.issue[0].code,
        system: example.issue[0].details.coding[0].system,
      };
      expect({ name, ...got }).toEqual({ name, ...want });
    }
  });

  it.each([
    ['stu3', 502],
    ['stu3', 504],
    ['gpconnect', 502],
    ['gpconnect', 504],
    ['bars', 502],
  ])('%s: %i from the national proxy, with an empty body', async (dialect, status) => {
    const res = await withFault(dialect, `status=${status}`);
    expect(res.status).toBe(status);
    expect(res.body).toBeUndefined();
    expect(res.headers.get('content-length')).toBe('0');
  });

  it.each(['stu3', 'bars', 'gpconnect'])('%s: no slots is a 200 with an empty searchset', async (dialect) => {
    const res = await withFault(dialect, 'empty');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ resourceType: 'Bundle', type: 'searchset', total: 0 });
    // FHIR JSON has no empty arrays: no entry element at all.
    expect(res.body).not.toHaveProperty('entry');
  });

  it('STU3: no slots, with an OperationOutcome entry saying why', async () => {
    const res = await withFault('stu3', 'empty-with-outcome');
    expect(res.body.total).toBe(0);
    expect(res.body.entry).toHaveLength(1);
    expect(res.body.entry[0]).toMatchObject({
      search: { mode: 'outcome' },
      resource: { resourceType: 'OperationOutcome' },
    });
  });

  it('a named failure can be forced on any interaction: a taken slot on a BaRS search', async () => {
    const res = await withFault('bars', 'error=slot-unavailable');
    expect(res.status).toBe(409);
    expect(issueOf(res.body)).toMatchObject({ code: 'REC_CONFLICT', issue: 'conflict' });
  });

  it('applies configured faults to their dialect and interaction only', async () => {
    const gpc = await fhir(`${sandbox.url}/gpconnect/metadata`);
    expect(gpc.status).toBe(503);
    expect(gpc.body).toBeUndefined();
    expect((await fhir(`${sandbox.url}/stu3/metadata`)).status).toBe(200);
    expect((await fhir(`${sandbox.url}${searchPath.gpconnect}`)).status).toBe(200);
  });

  it('answers a malformed fault header as a bad request in the dialect', async () => {
    const res = await withFault('stu3', 'meltdown');
    expect(res.status).toBe(400);
    expect(issueOf(res.body).code).toBe('INVALID_RESOURCE');
    expect(res.body.issue[0].diagnostics).toBe('X-Sandbox-Fault: unknown fault directive "meltdown"');
  });
});

/** A raw request, recording what arrived and how it ended, for faults that break HTTP itself. */
function raw(path: string, fault: string, giveUpMs = 1500) {
  return new Promise<{
    status?: number;
    bytes: number;
    chunks: number;
    ended: 'complete' | 'error' | 'gave-up';
    ms: number;
  }>((resolve) => {
    const started = Date.now();
    let status: number | undefined;
    let bytes = 0;
    let chunks = 0;
    const req = request(`${sandbox.url}${path}`, { headers: { 'X-Sandbox-Fault': fault } }, (res) => {
      status = res.statusCode;
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        chunks += 1;
      });
      res.on('end', () => finish('complete'));
      res.on('error', () => finish('error'));
    });
    const timer = setTimeout(() => {
      req.destroy();
      finish('gave-up');
    }, giveUpMs);
    let done = false;
    const finish = (ended: 'complete' | 'error' | 'gave-up') => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ ...(status ? { status } : {}), bytes, chunks, ended, ms: Date.now() - started });
    };
    req.on('error', () => finish('error'));
    req.end();
  });
}

describe('transport faults', () => {
  it('latency: the answer comes, later', async () => {
    const res = await raw(searchPath.stu3!, 'latency=300');
    expect(res).toMatchObject({ status: 200, ended: 'complete' });
    expect(res.ms).toBeGreaterThanOrEqual(290);
  });

  it('reset: headers and part of the body arrive, then the connection is cut', async () => {
    const res = await raw(searchPath.bars!, 'reset');
    expect(res.status).toBe(200);
    expect(res.bytes).toBeGreaterThan(0);
    expect(res.ended).toBe('error');
  });

  it('hang: headers and part of the body arrive, and the rest never does', async () => {
    const res = await raw(searchPath.stu3!, 'hang', 600);
    expect(res.status).toBe(200);
    expect(res.bytes).toBeGreaterThan(0);
    expect(res.ended).toBe('gave-up');
  });

  it('stall: nothing at all arrives', async () => {
    const res = await raw(searchPath.gpconnect!, 'stall', 600);
    expect(res).toMatchObject({ bytes: 0, ended: 'gave-up' });
    expect(res.status).toBeUndefined();
  });

  it('trickle: the whole body arrives, a few bytes at a time', async () => {
    const metadata = await raw('/stu3/metadata', 'latency=0');
    const res = await raw('/stu3/metadata', 'trickle=200:20', 10_000);
    const pieces = Math.ceil(metadata.bytes / 200);
    expect(res).toMatchObject({ status: 200, ended: 'complete', bytes: metadata.bytes });
    expect(res.chunks).toBeGreaterThanOrEqual(pieces - 1);
    expect(res.ms).toBeGreaterThanOrEqual((pieces - 1) * 20);
  });
});

describe('real races', () => {
  async function race(book: () => Promise<{ status: number }>): Promise<number[]> {
    const answers = await Promise.all([book(), book()]);
    return answers.map((a) => a.status).sort();
  }

  it('two concurrent STU3 bookings of one slot: exactly one wins, the other gets 422', async () => {
    const slot = (await fhir(`${sandbox.url}${searchPath.stu3}`)).body.entry[0].resource;
    const body = {
      resourceType: 'Appointment',
      status: 'booked',
      contained: [
        {
          resourceType: 'Patient',
          id: 'P1',
          identifier: [{ system: 'https://fhir.nhs.uk/Id/nhs-number', value: '9434765919' }],
        },
      ],
      slot: [{ reference: `Slot/${slot.id}` }],
      participant: [{ actor: { reference: '#P1' } }],
    };
    expect(await race(() => fhir(`${sandbox.url}/stu3/Appointment`, { body }))).toEqual([201, 422]);
  });

  it('two concurrent BaRS bookings of one slot: exactly one wins, the other gets 409 REC_CONFLICT', async () => {
    const slot = (await fhir(`${sandbox.url}${searchPath.bars}`)).body.entry[0].resource;
    let n = 0;
    const message = () => ({
      resourceType: 'Bundle',
      id: `race-${++n}`,
      type: 'message',
      entry: [
        {
          fullUrl: 'urn:uuid:h',
          resource: {
            resourceType: 'MessageHeader',
            eventCoding: { code: 'booking-request' },
            focus: [{ reference: 'urn:uuid:a' }],
          },
        },
        {
          fullUrl: 'urn:uuid:a',
          resource: {
            resourceType: 'Appointment',
            status: 'booked',
            slot: [{ reference: 'urn:uuid:s' }],
            participant: [{ actor: { reference: 'urn:uuid:p' } }],
          },
        },
        { fullUrl: 'urn:uuid:s', resource: { resourceType: 'Slot', id: slot.id } },
        {
          fullUrl: 'urn:uuid:p',
          resource: {
            resourceType: 'Patient',
            identifier: [{ system: 'https://fhir.nhs.uk/Id/nhs-number', value: '9434765919' }],
          },
        },
      ],
    });
    expect(await race(() => fhir(`${sandbox.url}/bars/$process-message`, { body: message() }))).toEqual([
      200, 409,
    ]);
  });

  it('two concurrent GP Connect bookings of one slot: exactly one wins, the other gets 409 DUPLICATE_REJECTED', async () => {
    const slot = (await fhir(`${sandbox.url}${searchPath.gpconnect}`)).body.entry[0].resource;
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
    expect(await race(() => fhir(`${sandbox.url}/gpconnect/Appointment`, { body }))).toEqual([201, 409]);
  });
});
