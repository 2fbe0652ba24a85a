import { instantsHaveOffsets } from '../../src/derive/conformance.js';
import { deriveEvents, type DerivableExchange } from '../../src/derive/derive.js';
import { loadDerivationTables } from '../../src/derive/tables.js';
import { exchangeOf, JSON_TYPE } from '../helpers/journey.js';
import { fixture } from '../helpers/sandbox.js';

const tables = loadDerivationTables({});

/** The attributes of an exchange's first event: where its latency and conformance are told. */
function judged(over: Partial<DerivableExchange>): Record<string, any> {
  const [first] = deriveEvents(exchangeOf({ upstream_ms: 42, ...over }), tables);
  return first!.attributes as Record<string, any>;
}

const stu3 = { dialect: 'stu3', provider_id: 'ed' };
const slotSearch = {
  ...stu3,
  path: '/base/Slot',
  query: 'schedule.actor:healthcareservice=918999198999&start=ge2019-05-09T09:00:00Z&status=free',
};
const book = {
  ...stu3,
  method: 'POST',
  path: '/base/Appointment',
  request_body: JSON.stringify(fixture('stu3/appointment-book-request.json')),
};

describe('conformance of a provider’s answer to its standard', () => {
  it('passes the published STU3 searchset: status 200, a searchset Bundle, instants with offsets; with its latency', () => {
    const attributes = judged({
      ...slotSearch,
      response_body: JSON.stringify(fixture('stu3/slot-search-response.json')),
    });
    expect(attributes.upstreamMs).toBe(42);
    expect(attributes.conformance).toEqual({
      checks: { status: true, instantOffsets: true, searchsetType: true },
      conforms: true,
      errorClass: 'none',
    });
  });

  it('fails a searchset of the wrong type, or with a local time that has no offset', () => {
    const bundle = fixture('stu3/slot-search-response.json');
    bundle.type = 'collection';
    expect(judged({ ...slotSearch, response_body: JSON.stringify(bundle) }).conformance).toMatchObject({
      checks: { searchsetType: false, instantOffsets: true },
      conforms: false,
    });
    const local = fixture('stu3/slot-search-response.json');
    local.entry.find((e: any) => e.resource.resourceType === 'Slot').resource.start = '2019-05-09T10:00:00';
    expect(judged({ ...slotSearch, response_body: JSON.stringify(local) }).conformance).toMatchObject({
      checks: { searchsetType: true, instantOffsets: false },
      conforms: false,
    });
  });

  it('asks an STU3 create for 201 with a Location naming the Appointment; BaRS messaging answers 200', () => {
    const booked = { ...fixture('stu3/appointment-book-request.json'), id: 'A1' };
    const created = judged({
      ...book,
      response_status: 201,
      response_headers: { ...JSON_TYPE, location: 'https://ed.example/Appointment/A1/_history/1' },
      response_body: JSON.stringify(booked),
    });
    expect(created.conformance).toMatchObject({
      checks: { status: true, location: true },
      conforms: true,
    });
    const noLocation = judged({ ...book, response_status: 201, response_body: JSON.stringify(booked) });
    expect(noLocation.conformance).toMatchObject({ checks: { location: false }, conforms: false });
    const ok200 = judged({ ...book, response_status: 200, response_body: JSON.stringify(booked) });
    expect(ok200.conformance).toMatchObject({ checks: { status: false }, conforms: false });
    const bars = judged({
      dialect: 'bars',
      method: 'POST',
      path: '/$process-message',
      request_body: JSON.stringify(fixture('bars/process-message-booking-request.json')),
      response_body: JSON.stringify(fixture('bars/process-message-booking-response.json')),
    });
    expect(bars.interaction).toBe('book');
    expect(bars.conformance).toMatchObject({ checks: { status: true }, conforms: true });
  });

  it('asks every error answer for an OperationOutcome, and classes errors by who failed', () => {
    const conflict = judged({
      ...book,
      response_status: 409,
      response_body: JSON.stringify(fixture('bars/operation-outcomes/409-REC_CONFLICT-conflict.json')),
    });
    expect(conflict.conformance).toEqual({
      checks: { status: true, operationOutcome: true, instantOffsets: true },
      conforms: true,
      errorClass: 'client',
    });
    const bare502 = judged({ ...book, response_status: 502, response_body: null });
    expect(bare502.conformance).toEqual({
      checks: { status: true, operationOutcome: false },
      conforms: false,
      errorClass: 'server',
    });
    const timeout = judged({
      ...book,
      response_status: 504,
      transport_outcome: 'timeout',
      provider_answered: false,
      upstream_ms: null,
    });
    expect(timeout.upstreamMs).toBeNull();
    expect(timeout.conformance).toEqual({ checks: {}, conforms: null, errorClass: 'transport' });
  });

  it('tells an amendment (a PUT that keeps the Appointment booked) as appointment.updated', () => {
    const amended = { ...fixture('stu3/appointment-book-request.json'), id: 'A1', status: 'booked' };
    const [event] = deriveEvents(
      exchangeOf({
        ...stu3,
        method: 'PUT',
        path: '/base/Appointment/A1',
        request_body: JSON.stringify(amended),
        response_body: JSON.stringify(amended),
      }),
      tables,
    );
    expect(event).toMatchObject({
      type: 'appointment.updated',
      attributes: { interaction: 'update', appointmentId: 'A1', appointmentStatus: 'booked' },
    });
  });

  it('does not judge what it could not read (XML, or cut short by the capture limit) against the provider', () => {
    const searchset = JSON.stringify(fixture('stu3/slot-search-response.json'));
    expect(
      judged({
        ...slotSearch,
        response_headers: { 'content-type': 'application/fhir+json' },
        response_body: searchset.slice(0, 500),
      }).conformance,
    ).toEqual({ checks: { status: true }, conforms: true, errorClass: 'none' });
    const xmlError = judged({
      ...book,
      response_status: 422,
      response_headers: { 'content-type': 'application/fhir+xml' },
      response_body: '<OperationOutcome xmlns="http://hl7.org/fhir"/>',
    });
    expect(xmlError.conformance).toEqual({ checks: { status: true }, conforms: true, errorClass: 'client' });
  });

  it('finds a date-time without an offset anywhere in a resource, and lets dates and offsets pass', () => {
    expect(instantsHaveOffsets({ a: [{ b: '2026-11-22T10:00:00+00:00' }], c: '2026-11-22' })).toBe(true);
    expect(instantsHaveOffsets({ a: [{ b: '2026-11-22T10:00:00Z' }], n: 3, t: true, x: null })).toBe(true);
    expect(instantsHaveOffsets({ extension: [{ valueDateTime: '2026-11-22T10:00' }] })).toBe(false);
    // A text that only begins with a date-time is not one.
    expect(instantsHaveOffsets({ diagnostics: '2026-10-01T10:00 slot no longer available' })).toBe(true);
  });
});

describe('the registered practice', () => {
  it('is read from the BaRS referral and booking (Patient.generalPractitioner → Organization, ODS code)', () => {
    for (const message of ['process-message-referral-validation-request', 'process-message-booking-request'])
      expect(
        judged({
          dialect: 'bars',
          method: 'POST',
          path: '/$process-message',
          request_body: JSON.stringify(fixture(`bars/${message}.json`)),
          response_body: JSON.stringify(fixture('bars/process-message-booking-response.json')),
        }).practice,
      ).toBe('G82080');
  });

  it('is read from a Patient contained in an STU3 Appointment, by identifier or contained Organization', () => {
    const appointment = fixture('stu3/appointment-book-request.json');
    const patient = appointment.contained.find((r: any) => r.resourceType === 'Patient');
    patient.generalPractitioner = [
      { identifier: { system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: 'A81001' } },
    ];
    expect(judged({ ...book, request_body: JSON.stringify(appointment) }).practice).toBe('A81001');
    patient.generalPractitioner = [{ reference: '#gp' }];
    appointment.contained.push({
      resourceType: 'Organization',
      id: 'gp',
      identifier: [{ system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: 'B82002' }],
    });
    expect(judged({ ...book, request_body: JSON.stringify(appointment) }).practice).toBe('B82002');
    expect(judged({ ...book }).practice).toBeUndefined();
    // A reference is resolved to a resource of its type: a Practitioner of the same id is not the practice.
    appointment.contained.unshift({ resourceType: 'Practitioner', id: 'gp' });
    expect(judged({ ...book, request_body: JSON.stringify(appointment) }).practice).toBe('B82002');
  });
});
