import fc from 'fast-check';
import { classify, seenBody, type ClassifyInput } from '../../src/fhir/classify.js';
import { fixture } from '../helpers/sandbox.js';

const json = (value: unknown) => ({ kind: 'json' as const, value });

/** The BaRS booking request with its Appointment's status (and only that) changed. */
function barsBooking(status: string): unknown {
  const message = structuredClone(fixture('bars/process-message-booking-request.json'));
  for (const entry of message.entry)
    if (entry.resource.resourceType === 'Appointment') entry.resource.status = status;
  return message;
}

describe('classify: the published examples', () => {
  it.each<[string, ClassifyInput, Partial<ReturnType<typeof classify>>]>([
    [
      'STU3 book: POST Appointment',
      {
        dialect: 'stu3',
        method: 'POST',
        path: '/ssp/https://p.example/fhir/Appointment',
        status: 201,
        request: json(fixture('stu3/appointment-book-request.json')),
      },
      { interaction: 'book', dialect: 'stu3', appointmentStatus: 'booked' },
    ],
    [
      'STU3 cancel: PUT Appointment/{id}, status cancelled',
      {
        dialect: 'stu3',
        method: 'PUT',
        path: '/fhir/Appointment/1234',
        status: 200,
        request: json(fixture('stu3/appointment-cancel-request.json')),
      },
      { interaction: 'cancel', appointmentStatus: 'cancelled' },
    ],
    [
      'STU3 slot search',
      {
        dialect: 'stu3',
        method: 'GET',
        path: '/base/Slot',
        query: 'schedule.actor:healthcareservice=918999198999&status=free',
        status: 200,
        response: json(fixture('stu3/slot-search-response.json')),
      },
      { interaction: 'slot-search' },
    ],
    [
      'BaRS booking-request with a booked Appointment',
      {
        dialect: 'bars',
        method: 'POST',
        path: '/bars/$process-message',
        status: 200,
        request: json(fixture('bars/process-message-booking-request.json')),
      },
      { interaction: 'book', dialect: 'bars', messageEvent: 'booking-request', appointmentStatus: 'booked' },
    ],
    [
      'BaRS referral: servicerequest-request',
      {
        dialect: 'bars',
        method: 'POST',
        path: '/$process-message',
        status: 200,
        request: json(fixture('bars/process-message-referral-validation-request.json')),
      },
      { interaction: 'referral', messageEvent: 'servicerequest-request' },
    ],
    [
      'BaRS slot search',
      {
        dialect: 'bars',
        method: 'GET',
        path: '/Slot',
        query: 'status=free&Schedule.actor:HealthcareService=1',
        status: 200,
        response: json(fixture('bars/slot-search-response.json')),
      },
      { interaction: 'slot-search' },
    ],
    [
      'BaRS appointment read',
      {
        dialect: 'bars',
        method: 'GET',
        path: '/Appointment/aca94bdb',
        status: 200,
        response: json(fixture('bars/appointment-read-response.json')),
      },
      { interaction: 'read-appointment' },
    ],
  ])('%s', (_name, input, expected) => {
    expect(classify(input)).toMatchObject({ ...expected, dataQuality: [] });
  });
});

describe('classify: every spelling and form', () => {
  const kind = (input: Partial<ClassifyInput> & { method: string; path: string }) =>
    classify(input).interaction;

  it('slot searches: GET Slot, $find-slots by GET or POST, POST Slot/_search, under any base path', () => {
    expect(kind({ method: 'GET', path: '/sandbox/stu3/Slot' })).toBe('slot-search');
    expect(kind({ method: 'GET', path: '/Slot/$find-slots' })).toBe('slot-search');
    expect(kind({ method: 'POST', path: '/Slot/$find-slots' })).toBe('slot-search');
    expect(kind({ method: 'POST', path: '/base/$find-slots' })).toBe('slot-search');
    expect(kind({ method: 'GET', path: '/base/%24find-slots' })).toBe('slot-search');
    expect(kind({ method: 'POST', path: '/Slot/_search' })).toBe('slot-search');
    expect(kind({ method: 'DELETE', path: '/Slot' })).toBe('other');
  });

  it("a patient's appointments: by NHS number, and GP Connect's Patient/{id}/Appointment", () => {
    expect(
      kind({
        method: 'GET',
        path: '/Appointment',
        query: 'identifier=https://fhir.nhs.uk/Id/nhs-number|9434765919',
      }),
    ).toBe('list-appointments');
    expect(kind({ method: 'GET', path: '/gp/Patient/2/Appointment', query: 'start=ge2026-11-22' })).toBe(
      'list-appointments',
    );
  });

  it('reads, including a version read, and the capability statement', () => {
    expect(kind({ method: 'GET', path: '/Appointment/1/_history/2' })).toBe('read-appointment');
    expect(kind({ method: 'GET', path: '/base/metadata' })).toBe('capability');
    expect(kind({ method: 'GET', path: '/ServiceRequest/1' })).toBe('other');
  });

  it('BaRS cancels by status, whatever the message reason says (cancelled or entered-in-error)', () => {
    for (const status of ['cancelled', 'entered-in-error'])
      expect(
        classify({ method: 'POST', path: '/$process-message', request: json(barsBooking(status)) }),
      ).toMatchObject({
        interaction: 'cancel',
        dialect: 'bars',
        appointmentStatus: status,
      });
    expect(kind({ method: 'POST', path: '/$process-message', request: json(barsBooking('pending')) })).toBe(
      'update',
    );
  });

  it('GP Connect: a PUT to cancelled is a cancel, one that keeps booked an amend (update)', () => {
    const appointment = (status: string) =>
      json({ resourceType: 'Appointment', id: '1', status, extension: [] });
    expect(
      kind({
        dialect: 'gpconnect',
        method: 'PUT',
        path: '/Appointment/1',
        request: appointment('cancelled'),
      }),
    ).toBe('cancel');
    expect(
      kind({ dialect: 'gpconnect', method: 'PUT', path: '/Appointment/1', request: appointment('booked') }),
    ).toBe('update');
  });

  it('XML bodies: by method and path, and the Appointment status outside contained resources', () => {
    const xml = (status: string) => ({
      kind: 'xml' as const,
      text: `<Appointment xmlns="http://hl7.org/fhir"><contained><DocumentReference><status value="current"/></DocumentReference></contained><status value="${status}"/></Appointment>`,
    });
    expect(classify({ method: 'POST', path: '/Appointment', request: xml('booked') })).toMatchObject({
      interaction: 'book',
      appointmentStatus: 'booked',
    });
    expect(kind({ method: 'PUT', path: '/Appointment/1', request: xml('cancelled') })).toBe('cancel');
    expect(kind({ method: 'PUT', path: '/Appointment/1', request: xml('booked') })).toBe('update');
  });
});

describe('classify: headers are heard, not trusted', () => {
  it('records an Ssp-InteractionID that disagrees with the request', () => {
    const result = classify({
      method: 'POST',
      path: '/Appointment',
      headers: { 'ssp-interactionid': 'urn:nhs:names:services:careconnect:fhir:rest:read:appointment' },
      request: json(fixture('stu3/appointment-book-request.json')),
    });
    expect(result).toMatchObject({
      interaction: 'book',
      claimed: 'read-appointment',
      dataQuality: ['header-disagrees'],
    });
  });

  it('agrees when the claim matches, a cancel counting as an update, in either standard', () => {
    const cancel = json(fixture('stu3/appointment-cancel-request.json'));
    for (const id of [
      'urn:nhs:names:services:careconnect:fhir:rest:update:appointment',
      'urn:nhs:names:services:gpconnect:fhir:rest:cancel:appointment-1',
    ])
      expect(
        classify({
          method: 'PUT',
          path: '/Appointment/1',
          headers: { 'ssp-interactionid': id },
          request: cancel,
        }).dataQuality,
      ).toEqual([]);
    expect(
      classify({
        method: 'GET',
        path: '/Slot',
        headers: { 'ssp-interactionid': 'urn:nhs:names:services:gpconnect:fhir:rest:search:slot-1' },
      }),
    ).toMatchObject({
      interaction: 'slot-search',
      claimed: 'slot-search',
      dialect: 'gpconnect',
      dataQuality: [],
    });
  });

  it('reads BaRS use-context, and flags it when the message says otherwise', () => {
    const headers = { 'use-context': 'a1t1|booked|booking-request|new' };
    expect(
      classify({ method: 'POST', path: '/$process-message', headers, request: json(barsBooking('booked')) })
        .dataQuality,
    ).toEqual([]);
    expect(
      classify({
        method: 'POST',
        path: '/$process-message',
        headers,
        request: json(barsBooking('cancelled')),
      }),
    ).toMatchObject({
      interaction: 'cancel',
      claimed: 'book',
      dataQuality: ['header-disagrees'],
    });
  });

  it('notes a dialect the exchange contradicts (a BaRS message sent to a provider configured as STU3)', () => {
    const result = classify({
      dialect: 'stu3',
      method: 'POST',
      path: '/$process-message',
      request: json(barsBooking('booked')),
    });
    expect(result).toMatchObject({
      dialect: 'stu3',
      interaction: 'book',
      dataQuality: ['dialect-disagrees'],
    });
  });

  it('marks a body it could not read', () => {
    expect(
      classify({ method: 'PUT', path: '/Appointment/1', request: seenBody('{"resourceType": "Appoint') }),
    ).toMatchObject({
      interaction: 'update',
      dataQuality: ['body-unparseable'],
    });
  });
});

describe('seenBody', () => {
  it('tells JSON, XML, nothing and the unreadable apart', () => {
    expect(seenBody('{"a":1}')).toEqual({ kind: 'json', value: { a: 1 } });
    expect(seenBody('  <Bundle/>')).toEqual({ kind: 'xml', text: '  <Bundle/>' });
    expect(seenBody('x', 'application/fhir+xml')).toMatchObject({ kind: 'xml' });
    expect(seenBody(null)).toEqual({ kind: 'none' });
    expect(seenBody('{oops')).toEqual({ kind: 'unreadable' });
  });
});

describe('classify on anything', () => {
  it('never throws and gives the same answer twice, for arbitrary paths, headers and JSON', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'get'),
        fc.array(
          fc.oneof(
            fc.constantFrom(
              'Slot',
              'Appointment',
              '$process-message',
              '_history',
              'metadata',
              '%zz',
              '$find-slots',
            ),
            fc.string(),
          ),
          { maxLength: 6 },
        ),
        fc.dictionary(
          fc.constantFrom('ssp-interactionid', 'use-context', 'nhsd-target-identifier', 'x'),
          fc.string(),
        ),
        fc.jsonValue(),
        fc.jsonValue(),
        (method, parts, headers, request, response) => {
          const input: ClassifyInput = {
            method,
            path: `/${parts.join('/')}`,
            headers,
            request: json(request),
            response: json(response),
          };
          const first = classify(input);
          expect(classify(input)).toEqual(first);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('never throws on message-shaped nonsense', () => {
    fc.assert(
      fc.property(
        fc.record({
          resourceType: fc.constantFrom('Bundle', 'Appointment'),
          status: fc.oneof(fc.string(), fc.integer()),
          entry: fc.array(
            fc.record({
              fullUrl: fc.oneof(fc.string(), fc.constant(null)),
              resource: fc.oneof(
                fc.record({
                  resourceType: fc.constantFrom('MessageHeader', 'Appointment', 'ServiceRequest'),
                  eventCoding: fc.jsonValue(),
                  focus: fc.jsonValue(),
                  status: fc.jsonValue(),
                  id: fc.jsonValue(),
                }),
                fc.jsonValue(),
              ),
            }),
          ),
        }),
        (body) => {
          for (const path of ['/$process-message', '/Appointment/1', '/Appointment'])
            expect(() =>
              classify({ method: path === '/Appointment/1' ? 'PUT' : 'POST', path, request: json(body) }),
            ).not.toThrow();
        },
      ),
      { numRuns: 1000 },
    );
  });
});
