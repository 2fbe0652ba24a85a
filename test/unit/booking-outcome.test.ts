import { readdirSync } from 'node:fs';
import path from 'node:path';
import { bookingOutcome, type BookingOutcome } from '../../src/derive/booking-outcome.js';
import type { Dialect } from '../../src/fhir/classify.js';
import { failure, type Failure } from '../../src/sandbox/outcomes.js';
import { fixture } from '../helpers/sandbox.js';

const SPINE = 'https://fhir.nhs.uk/STU3/CodeSystem/Spine-ErrorOrWarningCode-1';

/** A hand-made OperationOutcome in the STU3 / GP Connect style (Spine code in details). */
function spine(issueCode: string, spineCode: string, diagnostics?: string) {
  return {
    resourceType: 'OperationOutcome',
    issue: [
      {
        severity: 'error',
        code: issueCode,
        details: { coding: [{ system: SPINE, code: spineCode }] },
        ...(diagnostics ? { diagnostics } : {}),
      },
    ],
  };
}

const bars = (name: string) => fixture(`bars/operation-outcomes/${name}.json`);

/** Every row of booking-standards.md's outcome table, per dialect. */
const TABLE: [string, Dialect, number | null, unknown, BookingOutcome][] = [
  // Slot taken between search and book
  [
    'STU3 slot taken (API spec: 422 processing)',
    'stu3',
    422,
    spine('processing', 'INVALID_VALUE', 'slot no longer available'),
    'slot_unavailable',
  ],
  [
    'STU3 slot taken (error table: 409 conflict)',
    'stu3',
    409,
    spine('conflict', 'DUPLICATE_REJECTED'),
    'slot_unavailable',
  ],
  [
    'BaRS slot taken (409 REC_CONFLICT conflict)',
    'bars',
    409,
    bars('409-REC_CONFLICT-conflict'),
    'slot_unavailable',
  ],
  [
    'GP Connect slot taken (409 DUPLICATE_REJECTED)',
    'gpconnect',
    409,
    spine('invalid', 'DUPLICATE_REJECTED'),
    'slot_unavailable',
  ],
  // Same request id sent twice
  [
    'STU3 repeated request (409 duplicate)',
    'stu3',
    409,
    spine('duplicate', 'DUPLICATE_REJECTED'),
    'duplicate',
  ],
  [
    'BaRS repeated request (409 REC_CONFLICT duplicate)',
    'bars',
    409,
    bars('409-REC_CONFLICT-duplicate'),
    'duplicate',
  ],
  // Invalid body / NHS number / business rule
  ['STU3 invalid body (400)', 'stu3', 400, spine('invalid', 'INVALID_RESOURCE'), 'rejected'],
  ['STU3 business rule (422)', 'stu3', 422, spine('business-rule', 'INVALID_NHS_NUMBER'), 'rejected'],
  ['BaRS invalid (400 REC_BAD_REQUEST)', 'bars', 400, bars('400-REC_BAD_REQUEST-invariant'), 'rejected'],
  [
    'BaRS invalid at the proxy (400 SEND_BAD_REQUEST)',
    'bars',
    400,
    bars('400-SEND_BAD_REQUEST-required'),
    'rejected',
  ],
  [
    'BaRS unprocessable (422 REC_UNPROCESSABLE_ENTITY)',
    'bars',
    422,
    bars('422-REC_UNPROCESSABLE_ENTITY-too-costly'),
    'rejected',
  ],
  [
    'GP Connect invalid (422 INVALID_RESOURCE)',
    'gpconnect',
    422,
    spine('invalid', 'INVALID_RESOURCE'),
    'rejected',
  ],
  // Not allowed
  ['STU3 forbidden (403)', 'stu3', 403, spine('forbidden', 'ACCESS_DENIED'), 'unauthorised'],
  [
    'BaRS unauthorised (401 SEND_UNAUTHORIZED)',
    'bars',
    401,
    bars('401-SEND_UNAUTHORIZED-expired'),
    'unauthorised',
  ],
  [
    'GP Connect forbidden (403 ACCESS_DENIED)',
    'gpconnect',
    403,
    spine('forbidden', 'ACCESS_DENIED'),
    'unauthorised',
  ],
  // Unknown service / appointment
  ['STU3 unknown (404)', 'stu3', 404, spine('not-found', 'NO_RECORD_FOUND'), 'rejected'],
  ['BaRS unknown (404 REC_NOT_FOUND)', 'bars', 404, bars('404-REC_NOT_FOUND-not-found'), 'rejected'],
  [
    'GP Connect unknown (404 NO_RECORD_FOUND)',
    'gpconnect',
    404,
    spine('not-found', 'NO_RECORD_FOUND'),
    'rejected',
  ],
  // Provider down / timed out, raised by the national proxy
  ['STU3 502 with an empty body', 'stu3', 502, undefined, 'provider_error'],
  ['STU3 504 with an empty body', 'stu3', 504, undefined, 'provider_error'],
  ['BaRS 408 REC_TIMEOUT', 'bars', 408, bars('408-REC_TIMEOUT-timeout'), 'provider_error'],
  ['BaRS 500 REC_SERVER_ERROR', 'bars', 500, bars('500-REC_SERVER_ERROR-exception'), 'provider_error'],
  [
    'BaRS 503 REC_SERVICE_UNAVAILABLE',
    'bars',
    503,
    bars('503-REC_SERVICE_UNAVAILABLE-transient'),
    'provider_error',
  ],
  ['GP Connect 502', 'gpconnect', 502, undefined, 'provider_error'],
  // Success
  ['STU3 201 Created', 'stu3', 201, fixture('stu3/appointment-book-request.json'), 'booked'],
  ['BaRS 200 response message', 'bars', 200, fixture('bars/process-message-booking-response.json'), 'booked'],
  ['GP Connect 201 Created', 'gpconnect', 201, undefined, 'booked'],
  // Ambiguous: a 409 that is neither conflict nor duplicate
  [
    'STU3 409 with no telling code',
    'stu3',
    409,
    spine('processing', 'INVALID_REQUEST_STATE'),
    'unclassified',
  ],
  ['BaRS 409 with no body', 'bars', 409, undefined, 'unclassified'],
];

describe('bookingOutcome: every row of the outcome table, per dialect', () => {
  it.each(TABLE)('%s', (_name, dialect, status, body, expected) => {
    expect(bookingOutcome({ dialect, status, transport: 'ok', body }).outcome).toBe(expected);
  });

  it('covers every published BaRS OperationOutcome', () => {
    const published = readdirSync(path.resolve('..', 'shared', 'fixtures', 'bars', 'operation-outcomes')).map(
      (f) => f.replace(/\.json$/, ''),
    );
    const used = TABLE.flatMap(([, , , body]) =>
      published.filter((name) => JSON.stringify(body) === JSON.stringify(bars(name))),
    );
    // Throttling (429) is the one the table does not name: the sender was refused by the proxy.
    expect(published.filter((name) => !used.includes(name))).toEqual([
      '429-SEND_TOO_MANY_REQUESTS-throttled',
    ]);
    expect(
      bookingOutcome({
        dialect: 'bars',
        status: 429,
        transport: 'ok',
        body: bars('429-SEND_TOO_MANY_REQUESTS-throttled'),
      }),
    ).toMatchObject({
      outcome: 'rejected',
      raisedBy: 'sender',
    });
  });
});

describe('bookingOutcome: what it keeps and when the collector answered', () => {
  it('keeps the issue codes, detail codes, diagnostics and who raised a BaRS error', () => {
    const result = bookingOutcome({
      dialect: 'bars',
      status: 409,
      transport: 'ok',
      body: bars('409-REC_CONFLICT-conflict'),
    });
    expect(result).toMatchObject({
      outcome: 'slot_unavailable',
      status: 409,
      issueCodes: ['conflict'],
      detailCodes: ['REC_CONFLICT'],
      raisedBy: 'receiver',
    });
    expect(typeof result.diagnostics === 'string' || result.diagnostics === undefined).toBe(true);
  });

  it('is a transport error when the collector itself answered (timeout, reset, refused)', () => {
    for (const transport of ['timeout', 'reset', 'refused'])
      expect(
        bookingOutcome({ dialect: 'stu3', status: 504, transport, providerAnswered: false }).outcome,
      ).toBe('transport_error');
    // Once the provider's answer has begun, its status stands; the answer is marked incomplete.
    expect(
      bookingOutcome({ dialect: 'stu3', status: 201, transport: 'reset', providerAnswered: true }),
    ).toMatchObject({
      outcome: 'booked',
      incomplete: true,
    });
  });

  it('reads a BaRS 200 whose message header says the booking failed', () => {
    const answer = structuredClone(fixture('bars/process-message-booking-response.json'));
    const header = answer.entry.find((e: any) => e.resource.resourceType === 'MessageHeader').resource;
    header.response = { ...header.response, code: 'fatal-error' };
    expect(bookingOutcome({ dialect: 'bars', status: 200, transport: 'ok', body: answer }).outcome).toBe(
      'rejected',
    );
    header.response.code = 'transient-error';
    expect(bookingOutcome({ dialect: 'bars', status: 200, transport: 'ok', body: answer }).outcome).toBe(
      'provider_error',
    );
  });

  it('is unclassified with no status at all (the consumer left before an answer)', () => {
    expect(bookingOutcome({ dialect: 'stu3', status: null, transport: 'client_aborted' }).outcome).toBe(
      'unclassified',
    );
  });
});

describe('bookingOutcome on what the sandbox answers', () => {
  const EXPECTED: Partial<Record<Failure, BookingOutcome>> = {
    'slot-unavailable': 'slot_unavailable',
    duplicate: 'duplicate',
    invalid: 'rejected',
    unprocessable: 'rejected',
    'invalid-nhs-number': 'rejected',
    unauthorised: 'unauthorised',
    forbidden: 'unauthorised',
    'not-found': 'rejected',
    throttled: 'rejected',
    timeout: 'provider_error',
    'server-error': 'provider_error',
    unavailable: 'provider_error',
    'bad-gateway': 'provider_error',
    'gateway-timeout': 'provider_error',
  };
  const cases = (['stu3', 'bars', 'gpconnect'] as const).flatMap((dialect) =>
    Object.entries(EXPECTED).map(([kind, outcome]) => [dialect, kind as Failure, outcome] as const),
  );

  it.each(cases)('%s %s → %s', (dialect, kind, outcome) => {
    // GP Connect has no repeated-request answer of its own: the sandbox's is its taken-slot answer.
    const expected = dialect === 'gpconnect' && kind === 'duplicate' ? 'slot_unavailable' : outcome;
    for (const stu3SlotConflictStatus of [409, 422] as const) {
      const answer = failure(dialect, kind, { stu3SlotConflictStatus });
      expect(
        bookingOutcome({ dialect, status: answer.status, transport: 'ok', body: answer.body }).outcome,
      ).toBe(expected);
    }
  });
});
