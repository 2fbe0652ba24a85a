import fc from 'fast-check';
import { deriveEvents, RULE_VERSION, type DerivableExchange } from '../../src/derive/derive.js';
import { loadDerivationTables } from '../../src/derive/tables.js';
import { exchangeOf } from '../helpers/journey.js';
import { fixture } from '../helpers/sandbox.js';

const tables = loadDerivationTables({});
const target = (id: string) =>
  Buffer.from(JSON.stringify({ system: 'https://fhir.nhs.uk/Id/dos-service-id', value: id })).toString(
    'base64',
  );

/** An exchange to an STU3 emergency department, seen on 22 November 2026 (test/helpers/journey.ts). */
function exchange(over: Partial<DerivableExchange>): DerivableExchange {
  return exchangeOf({
    received_at: '2026-11-22T10:00:00.000Z',
    provider_id: 'ed',
    dialect: 'stu3',
    request_headers: {},
    ...over,
  });
}

describe('deriveEvents on the published examples', () => {
  it('an STU3 slot search: each free slot with its key, start and breach against the window it asked for', () => {
    const [event, ...more] = deriveEvents(
      exchange({
        path: '/base/Slot',
        query:
          'schedule.actor:healthcareservice=918999198999&start=ge2019-05-09T09:00:00Z&start=le2019-05-09T10:20:00Z&status=free',
        response_body: JSON.stringify(fixture('stu3/slot-search-response.json')),
      }),
      tables,
    );
    expect(more).toEqual([]);
    expect(event).toMatchObject({
      type: 'slot.searched',
      source_kind: 'exchange',
      rule_version: RULE_VERSION,
      provider_id: 'ed',
      service_id: '918999198999',
      consumer_org: 'NHS111',
      deadline: new Date('2019-05-09T10:20:00Z'),
      deadline_source: 'search-window',
      data_quality: ['deadline-inferred'],
    });
    expect(event!.attributes).toMatchObject({
      interaction: 'slot-search',
      succeeded: true,
      offered: 3,
      earliestStart: '2019-05-09T10:00:00.000Z',
      empty: false,
      slots: [
        { key: 'ed|Slot/slot005', start: '2019-05-09T10:00:00.000Z', wouldBreach: false },
        { key: 'ed|Slot/slot006', start: '2019-05-09T10:15:00.000Z', wouldBreach: false },
        { key: 'ed|Slot/slot007', start: '2019-05-09T10:30:00.000Z', wouldBreach: true },
      ],
    });
  });

  it('an STU3 booking answered 201: booked, the appointment id from Location, the slot start', () => {
    const [event] = deriveEvents(
      exchange({
        method: 'POST',
        path: '/base/Appointment',
        request_body: JSON.stringify(fixture('stu3/appointment-book-request.json')),
        response_status: 201,
        response_headers: { location: 'https://p.example/base/Appointment/A123/_history/1' },
      }),
      tables,
    );
    expect(event).toMatchObject({ type: 'booking.attempted', data_quality: [] });
    expect(event!.attributes).toMatchObject({
      outcome: 'booked',
      appointmentId: 'A123',
      slotStart: '2019-01-17T15:00:00.000Z',
      issueCodes: [],
    });
  });

  it('the same booking refused because the slot was taken (STU3 422 processing)', () => {
    const [event] = deriveEvents(
      exchange({
        method: 'POST',
        path: '/base/Appointment',
        request_body: JSON.stringify(fixture('stu3/appointment-book-request.json')),
        response_status: 422,
        response_body: JSON.stringify({
          resourceType: 'OperationOutcome',
          issue: [{ severity: 'error', code: 'processing', diagnostics: 'slot no longer available' }],
        }),
      }),
      tables,
    );
    expect(event!.attributes).toMatchObject({
      outcome: 'slot_unavailable',
      appointmentId: null,
      succeeded: false,
      issueCodes: ['processing'],
      diagnostics: 'slot no longer available',
    });
  });

  it('an STU3 cancellation, with the appointment it cancels', () => {
    const [event] = deriveEvents(
      exchange({
        method: 'PUT',
        path: '/base/Appointment/A123',
        request_body: JSON.stringify(fixture('stu3/appointment-cancel-request.json')),
      }),
      tables,
    );
    expect(event).toMatchObject({
      type: 'booking.cancelled',
      attributes: { appointmentId: 'A123', appointmentStatus: 'cancelled' },
    });
  });

  it('a BaRS booking: the service from NHSD-Target-Identifier, the appointment id from the answer', () => {
    const [event] = deriveEvents(
      exchange({
        dialect: 'bars',
        provider_id: 'utc',
        method: 'POST',
        path: '/$process-message',
        request_headers: { 'nhsd-target-identifier': target('2000072489') },
        request_body: JSON.stringify(fixture('bars/process-message-booking-request.json')),
        response_body: JSON.stringify(fixture('bars/process-message-booking-response.json')),
      }),
      tables,
    );
    expect(event).toMatchObject({ type: 'booking.attempted', service_id: '2000072489' });
    expect(event!.attributes).toMatchObject({
      outcome: 'booked',
      appointmentId: 'e284470a-6695-4c95-b2ad-fa26b3a486c7',
    });
  });

  it('a BaRS referral: disposition (any case), deadline from occurrencePeriod.end, disposition time, category', () => {
    const [event] = deriveEvents(
      exchange({
        dialect: 'bars',
        method: 'POST',
        path: '/$process-message',
        request_body: JSON.stringify(fixture('bars/process-message-referral-validation-request.json')),
      }),
      tables,
    );
    expect(event).toMatchObject({
      type: 'referral.made',
      disposition: 'Dx0122',
      deadline: new Date('2021-11-26T15:20:00Z'),
      deadline_source: 'referral',
      // Dx0122 is not in the bundled table: the deadline still comes from the referral.
      data_quality: ['disposition-unknown'],
    });
    expect(event!.attributes).toMatchObject({
      dispositionAt: '2021-11-26T15:00:00.000Z',
      referredAt: '2021-11-26T15:00:00.000Z',
      category: 'validation',
    });
  });

  it('reads, lists and the capability statement; nothing for other exchanges', () => {
    expect(
      deriveEvents(
        exchange({
          path: '/Appointment/A1',
          response_body: JSON.stringify(fixture('bars/appointment-read-response.json')),
        }),
        tables,
      )[0],
    ).toMatchObject({
      type: 'appointment.read',
      attributes: { appointmentId: 'A1' },
    });
    expect(
      deriveEvents(
        exchange({
          path: '/Appointment',
          query: 'identifier=https://fhir.nhs.uk/Id/nhs-number|hash:x',
          response_body: JSON.stringify({
            resourceType: 'Bundle',
            entry: [{ resource: { resourceType: 'Appointment' } }],
          }),
        }),
        tables,
      )[0],
    ).toMatchObject({ type: 'appointments.listed', attributes: { listed: 1 } });
    expect(deriveEvents(exchange({}), tables)[0]).toMatchObject({ type: 'capability.read' });
    expect(deriveEvents(exchange({ path: '/ServiceRequest/1' }), tables)).toEqual([]);
  });

  it('a timed-out search is still a search, marked as not succeeded', () => {
    const [event] = deriveEvents(
      exchange({
        path: '/Slot',
        response_status: 504,
        transport_outcome: 'timeout',
        provider_answered: false,
      }),
      tables,
    );
    // Not "empty": it offered nothing because it failed, which reports must not count as no slots.
    expect(event).toMatchObject({
      type: 'slot.searched',
      attributes: { succeeded: false, offered: 0, empty: null },
    });
  });

  it('a booking the provider answered 201 before the connection failed is booked, marked incomplete', () => {
    const book = {
      method: 'POST',
      path: '/Appointment',
      request_body: JSON.stringify(fixture('stu3/appointment-book-request.json')),
      response_status: 201,
      response_headers: { location: 'Appointment/A9/_history/1' },
    };
    const [cut] = deriveEvents(
      exchange({ ...book, transport_outcome: 'reset', provider_answered: true }),
      tables,
    );
    expect(cut).toMatchObject({
      attributes: { outcome: 'booked', appointmentId: 'A9' },
      data_quality: ['response-incomplete'],
    });
    const [none] = deriveEvents(
      exchange({
        ...book,
        response_status: 504,
        response_headers: {},
        transport_outcome: 'timeout',
        provider_answered: false,
      }),
      tables,
    );
    expect(none).toMatchObject({ attributes: { outcome: 'transport_error' }, data_quality: [] });
  });

  it('a booking whose Appointment replaces another is a re-booking too (when it was booked)', () => {
    const message = structuredClone(fixture('bars/process-message-booking-request.json'));
    const appointment = message.entry.find((e: any) => e.resource.resourceType === 'Appointment').resource;
    appointment.replaces = [{ reference: 'Appointment/old-1' }];
    const request = {
      dialect: 'bars',
      method: 'POST',
      path: '/$process-message',
      request_body: JSON.stringify(message),
      response_body: JSON.stringify(fixture('bars/process-message-booking-response.json')),
    };
    const [attempted, rebooked, ...more] = deriveEvents(exchange(request), tables);
    expect(more).toEqual([]);
    expect(attempted).toMatchObject({
      type: 'booking.attempted',
      ordinal: 0,
      attributes: { replaces: ['Appointment/old-1'] },
    });
    expect(rebooked).toMatchObject({
      type: 'booking.rebooked',
      ordinal: 1,
      attributes: {
        appointmentId: 'e284470a-6695-4c95-b2ad-fa26b3a486c7',
        replaces: ['Appointment/old-1'],
        how: 'replaces',
      },
    });
    expect(rebooked!.id).not.toBe(attempted!.id);
    // Refused: no re-booking happened.
    const refused = deriveEvents(
      exchange({
        ...request,
        response_status: 409,
        response_body: JSON.stringify(fixture('bars/operation-outcomes/409-REC_CONFLICT-conflict.json')),
      }),
      tables,
    );
    expect(refused.map((e) => e.type)).toEqual(['booking.attempted']);
  });

  it('keeps an appointment id that is not valid percent-encoding as it was sent', () => {
    expect(deriveEvents(exchange({ path: '/Appointment/%ZZ' }), tables)[0]).toMatchObject({
      type: 'appointment.read',
      attributes: { appointmentId: '%ZZ' },
    });
  });
});

describe('deriveEvents is a pure function', () => {
  it('gives the same events, ids included, every time; different exchanges get different ids', () => {
    const one = exchange({
      path: '/Slot',
      response_body: JSON.stringify(fixture('bars/slot-search-response.json')),
    });
    expect(deriveEvents(one, tables)).toEqual(deriveEvents(structuredClone(one), tables));
    const other = { ...one, id: '0190b2a0-0000-7000-8000-ffffffffffff' };
    expect(deriveEvents(other, tables)[0]!.id).not.toBe(deriveEvents(one, tables)[0]!.id);
    expect(deriveEvents(one, tables)[0]!.id).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
  });

  it('never throws on arbitrary bodies, paths and statuses', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('GET', 'POST', 'PUT'),
        fc.constantFrom('/Slot', '/Appointment', '/Appointment/1', '/$process-message', '/metadata', '/x'),
        fc.oneof(
          fc.jsonValue().map((v) => JSON.stringify(v)),
          fc.string(),
          fc.constant(null),
        ),
        fc.oneof(
          fc.jsonValue().map((v) => JSON.stringify(v)),
          fc.string(),
          fc.constant(null),
        ),
        fc.oneof(fc.integer({ min: 100, max: 599 }), fc.constant(null)),
        fc.string(),
        (method, path, request, response, status, query) => {
          const input = exchange({
            method,
            path,
            request_body: request,
            response_body: response,
            response_status: status,
            query,
          });
          expect(deriveEvents(input, tables)).toEqual(deriveEvents(input, tables));
        },
      ),
      { numRuns: 1500 },
    );
  });
});
