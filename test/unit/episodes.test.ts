import fc from 'fast-check';
import { correlationKeys } from '../../src/derive/correlation-keys.js';
import { deriveEvents, type DerivableExchange } from '../../src/derive/derive.js';
import { encounters } from '../../src/derive/encounters.js';
import { resolveEpisode, type EpisodeEvent } from '../../src/derive/episodes.js';
import { loadDerivationTables } from '../../src/derive/tables.js';
import { ingestEvents } from '../../src/ingest/ingest-events.js';
import { fixture } from '../helpers/sandbox.js';
import * as journey from '../helpers/journey.js';

const tables = loadDerivationTables({});
const rules = { encounterWindowMs: 60 * 60_000 };

/** The events of one exchange, as the episode sees them once stored. */
function events(exchange: DerivableExchange): EpisodeEvent[] {
  return deriveEvents(exchange, tables).map((e) => ({
    ...(e as unknown as EpisodeEvent),
    occurred_at: new Date(e.occurred_at as Date),
    ordinal: e.ordinal ?? 0,
    attributes: e.attributes as Record<string, unknown>,
    data_quality: e.data_quality ?? [],
    correlation_keys: e.correlation_keys ?? [],
    encounter_id: null,
  }));
}

/** One patient's BaRS contact (test/helpers/journey.ts), as events. */
function barsContact() {
  const contact = journey.barsContact();
  const [search, referral, booking] = [contact.search, contact.referral, contact.booking].map(
    (x) => events(x)[0]!,
  );
  return { search: search!, referral: referral!, booking: booking!, serviceRequest: contact.serviceRequest };
}

const cancel = (appointment: string, at: string, call: string) =>
  events(journey.cancellationOf(appointment, at, call))[0]!;
const rebook = (serviceRequest: string, at: string, replaces?: string) =>
  events(journey.rebookingOf(serviceRequest, at, journey.CALL, 'A2', replaces));

describe('correlation keys', () => {
  it('STU3: the Ssp-TraceID and the CDA document the booking points at; the appointment once booked', () => {
    const keys = correlationKeys({
      provider: 'ed',
      headers: { 'ssp-traceid': '09A01679-2A5B-4C1D-9C4B-2BB3A1E1E2F9' },
      request: fixture('stu3/appointment-book-request.json'),
      appointmentId: 'A123',
    });
    expect(keys).toEqual([
      'appointment:ed|a123',
      'document:6b9c59dd-675b-4026-98db-f608ef501e6e',
      'trace:09a01679-2a5b-4c1d-9c4b-2bb3a1e1e2f9',
    ]);
  });

  it('BaRS referral: the correlation id, the ServiceRequest, the journey and the case number', () => {
    const keys = correlationKeys({
      provider: 'ed',
      headers: { 'x-correlation-id': 'C-1' },
      request: fixture('bars/process-message-referral-validation-request.json'),
      appointmentId: null,
    });
    expect(keys).toEqual([
      'case:sender1234',
      'correlation:c-1',
      'journey:d877b820-e72b-44d1-a627-195f54bfc606',
      'servicerequest:236bb75d-90ef-461f-b71e-fde7f899802c',
    ]);
  });

  it('follows basedOn and supportingInfo only to the resource type they must name', () => {
    const bundle = {
      resourceType: 'Bundle',
      entry: [
        {
          fullUrl: 'urn:uuid:AAAA0000-0000-4000-8000-000000000001',
          resource: {
            resourceType: 'ServiceRequest',
            supportingInfo: [
              { reference: 'Appointment/APPT-9' },
              { reference: 'urn:uuid:aaaa0000-0000-4000-8000-000000000002' }, // an Observation in the bundle
              { reference: '#contained' },
            ],
          },
        },
        {
          fullUrl: 'urn:uuid:aaaa0000-0000-4000-8000-000000000002',
          resource: { resourceType: 'Observation' },
        },
        {
          resource: {
            resourceType: 'Appointment',
            basedOn: [
              { reference: 'https://x.example/fhir/ServiceRequest/SR-7/_history/3' },
              { reference: 'CarePlan/CP-1' },
            ],
          },
        },
      ],
    };
    expect(correlationKeys({ provider: 'gp', headers: {}, request: bundle, appointmentId: null })).toEqual([
      'appointment:gp|appt-9',
      'servicerequest:aaaa0000-0000-4000-8000-000000000001',
      'servicerequest:sr-7',
    ]);
  });

  it('are written on every event of the exchange', () => {
    const { booking, referral, serviceRequest } = barsContact();
    expect(booking.correlation_keys).toEqual(
      expect.arrayContaining([
        `servicerequest:${serviceRequest}`,
        'appointment:utc|a1',
        'correlation:5b1c7f44-0000-4000-8000-000000000001',
      ]),
    );
    expect(referral.correlation_keys).toContain(`servicerequest:${serviceRequest}`);
  });
});

describe('encounters', () => {
  const at = (minute: number, keys: string[], patient: string | null = 'p1'): EpisodeEvent => ({
    ...barsContact().search,
    id: `e${String(minute).padStart(4, '0')}`,
    occurred_at: new Date(Date.UTC(2026, 10, 22, 9, minute)),
    correlation_keys: keys,
    patient_hash: patient,
  });

  it('one call per call key; without one, the nearest event of the same patient within the window', () => {
    const list = [
      at(0, ['trace:a']),
      at(5, []), // 5 minutes after the first call: joins it
      at(30, ['trace:b']),
      at(40, []), // nearer the second call than the first
      at(200, []), // beyond the window of anything: a call of its own
      at(210, [], 'p2'), // another patient
      at(300, ['trace:a', 'servicerequest:x']), // the first call's key again, much later: still the first call
    ];
    expect(encounters(list, rules.encounterWindowMs)).toEqual([
      'e0000',
      'e0000',
      'e0030',
      'e0030',
      'e0200',
      'e0210',
      'e0000',
    ]);
  });
});

describe('resolveEpisode', () => {
  it('a search takes the deadline of the referral that follows it; slots and the booking are marked against it', () => {
    const { search, referral, booking } = barsContact();
    const resolved = resolveEpisode([booking, search, referral], tables, rules);
    const s = resolved.events.get(search.id)!;
    expect(search).toMatchObject({ deadline_source: 'search-window', data_quality: ['deadline-inferred'] });
    expect(s).toMatchObject({
      disposition: 'Dx0122',
      deadline: new Date('2021-10-06T10:30:00Z'),
      deadline_source: 'referral',
      data_quality: ['disposition-unknown'],
    });
    expect((s.attributes.slots as { wouldBreach: boolean }[]).map((slot) => slot.wouldBreach)).toEqual([
      false,
      false,
      true,
    ]);
    const b = resolved.events.get(booking.id)!;
    expect(b).toMatchObject({ deadline: new Date('2021-10-06T10:30:00Z'), deadline_source: 'referral' });
    expect(b.attributes).toMatchObject({
      outcome: 'booked',
      slotStart: '2021-10-06T10:00:00.000Z',
      wouldBreach: false,
    });
    // One call (one correlation id): every event has the search's encounter.
    expect(new Set([...resolved.events.values()].map((e) => e.encounter_id))).toEqual(new Set([search.id]));
    expect(resolved.episode).toMatchObject({
      opened_at: new Date('2021-10-06T08:00:00Z'),
      last_activity_at: new Date('2021-10-06T08:02:00Z'),
      disposition: 'Dx0122',
      deadline: new Date('2021-10-06T10:30:00Z'),
      deadline_source: 'referral',
      attributes: { events: 3, encounters: 1, referrals: 1, bookings: 1, cancellations: 0, rebookings: 0 },
    });
    // What the reports read off the episode: one search, offering slots, two of the three in time.
    expect(resolved.episode.attributes).toMatchObject({ searches: 1, searchesOffering: 1, slotsInTime: 2 });
  });

  it('without a referral a booking inherits the window of the search before it, marked inferred; a late slot breaches', () => {
    const { search } = barsContact();
    const late = events(
      journey.exchangeOf({
        received_at: '2021-10-06T08:03:00Z',
        method: 'POST',
        path: '/base/$process-message',
        request_body: JSON.stringify(journey.bookingBundle(null, '2021-10-06T12:30:00+00:00')),
        ...journey.booked('A2'),
      }),
    )[0]!;
    const b = resolveEpisode([search, late], tables, rules).events.get(late.id)!;
    expect(b).toMatchObject({
      deadline: new Date('2021-10-06T12:00:00Z'),
      deadline_source: 'search-window',
      data_quality: ['deadline-inferred'],
    });
    expect(b.attributes.wouldBreach).toBe(true);
  });

  it('a cancellation: when its booking was made, how long before, and whether in the same call', () => {
    const { search, referral, booking } = barsContact();
    const sameCall = cancel('A1', '2021-10-06T08:05:30Z', journey.CALL);
    const resolved = resolveEpisode([search, referral, booking, sameCall], tables, rules);
    expect(resolved.events.get(sameCall.id)!.attributes).toMatchObject({
      appointmentId: 'A1',
      bookedAt: '2021-10-06T08:02:00.000Z',
      sinceBookingSeconds: 210,
      sameEncounter: true,
      partOfRebooking: false,
    });
    const later = cancel('A1', '2021-10-07T09:00:00Z', 'another-call');
    expect(
      resolveEpisode([search, referral, booking, later], tables, rules).events.get(later.id)!.attributes,
    ).toMatchObject({
      sinceBookingSeconds: 89_880,
      sameEncounter: false,
      partOfRebooking: false,
    });
    const unknown = cancel('Z9', '2021-10-06T08:05:30Z', 'another-call');
    expect(resolveEpisode([unknown], tables, rules).events.get(unknown.id)!.attributes).toMatchObject({
      bookedAt: null,
      sinceBookingSeconds: null,
      sameEncounter: null,
    });
  });

  it('a cancellation and a new booking in one call are a re-booking, in either order', () => {
    const { search, referral, booking, serviceRequest } = barsContact();
    const call = journey.CALL;
    for (const [cancelAt, bookAt] of [
      ['2021-10-06T08:04:00Z', '2021-10-06T08:05:00Z'],
      ['2021-10-06T08:05:00Z', '2021-10-06T08:04:00Z'],
    ]) {
      const undo = cancel('A1', cancelAt!, call);
      const again = rebook(serviceRequest, bookAt!)[0]!;
      const resolved = resolveEpisode([search, referral, booking, undo, again], tables, rules);
      expect(resolved.made).toHaveLength(1);
      expect(resolved.made[0]).toMatchObject({
        type: 'booking.rebooked',
        source_id: again.source_id,
        occurred_at: again.occurred_at,
        encounter_id: search.id,
        deadline_source: 'referral',
        attributes: { appointmentId: 'A2', replaces: ['A1'], how: 'cancel-and-book', cancellation: undo.id },
      });
      expect(resolved.events.get(undo.id)!.attributes.partOfRebooking).toBe(true);
      expect(resolved.episode.attributes).toMatchObject({ bookings: 2, cancellations: 1, rebookings: 1 });
    }
  });

  it('a booking that says what it replaces is a re-booking already: its cancellation is not paired again', () => {
    const { search, referral, booking, serviceRequest } = barsContact();
    const call = journey.CALL;
    const undo = cancel('A1', '2021-10-06T08:04:00Z', call);
    const replacing = rebook(serviceRequest, '2021-10-06T08:05:00Z', 'A1');
    expect(replacing.map((e) => e.type)).toEqual(['booking.attempted', 'booking.rebooked']);
    const resolved = resolveEpisode([search, referral, booking, undo, ...replacing], tables, rules);
    expect(resolved.made).toEqual([]);
    expect(resolved.events.get(undo.id)!.attributes.partOfRebooking).toBe(true);
  });

  it('a booking in a later call that replaces one cancelled in its own call is no re-booking of that cancellation', () => {
    const { search, referral, booking, serviceRequest } = barsContact();
    const undo = cancel('A1', '2021-10-06T08:04:00Z', journey.CALL);
    // The patient calls back later: a new booking there says it replaces A1 (as a full reference).
    const later = events(
      journey.rebookingOf(
        serviceRequest,
        '2021-10-06T11:00:00Z',
        'call-back',
        'A3',
        'https://utc.example/base/Appointment/A1/_history/1',
      ),
    );
    const resolved = resolveEpisode([search, referral, booking, undo, ...later], tables, rules);
    // The cancellation came in the call that booked A1, and no re-booking in that call: rep-cons-07's.
    expect(resolved.events.get(undo.id)!.attributes).toMatchObject({
      sameEncounter: true,
      partOfRebooking: false,
    });
  });

  it('an STU3 booking, which names no service, takes that of the referral to its provider, else of the search before it', () => {
    const at = (time: string) => `2026-11-22T${time}Z`;
    const stu3 = (over: Partial<DerivableExchange>) =>
      events(
        journey.exchangeOf({
          dialect: 'stu3',
          provider_id: 'ed',
          request_headers: { ...journey.JSON_TYPE, 'ssp-traceid': 'T1' },
          ...over,
        }),
      )[0]!;
    const search = stu3({
      received_at: at('09:01:00'),
      path: '/base/Slot',
      query: 'service=2000011148&status=free&start=ge2026-11-22T09:00:00Z&start=le2026-11-22T12:00:00Z',
      response_body: JSON.stringify(fixture('stu3/slot-search-response.json')),
    });
    const booking = stu3({
      received_at: at('09:02:00'),
      method: 'POST',
      path: '/base/Appointment',
      request_body: JSON.stringify(fixture('stu3/appointment-book-request.json')),
      ...journey.booked('B1'),
    });
    const later = { ...cancel('B1', at('15:00:00'), 'T2'), provider_id: 'ed' };
    const elsewhere = { ...later, id: 'cancel-at-another-provider', provider_id: 'utc' };
    const [referral] = ingestEvents(
      {
        id: 'ingest-1',
        type: 'referral.made',
        occurred_at: at('09:00:00'),
        late: false,
        payload: {
          kind: 'event',
          patientHash: null,
          event: {
            id: 'R1',
            type: 'referral.made',
            occurredAt: at('09:00:00'),
            correlation: { traceId: 'T1' },
            disposition: { code: 'Dx02', at: at('08:59:00') },
            referredTo: { serviceId: '2000011147', providerId: 'ed' },
          },
        },
      },
      tables,
    ).map((e) => ({ ...(e as unknown as EpisodeEvent), encounter_id: null }));
    expect([booking.service_id, later.service_id, search.service_id]).toEqual([null, null, '2000011148']);

    const withReferral = resolveEpisode([search, booking, later, elsewhere, referral!], tables, rules);
    const service = (e: EpisodeEvent) => {
      const r = withReferral.events.get(e.id)!;
      return [r.service_id, r.attributes.serviceFrom];
    };
    expect(service(booking)).toEqual(['2000011147', 'referral']);
    expect(service(later)).toEqual(['2000011147', 'referral']); // a later call's cancellation too
    expect(service(search)).toEqual(['2000011148', undefined]); // its own, from the query
    expect(service(elsewhere)).toEqual([null, undefined]); // no referral or search at that provider

    // Without the referral, the search's; and an event stored with a service it was given is resolved
    // afresh, not held to it.
    const stored = {
      ...booking,
      service_id: '2000011147',
      attributes: { ...booking.attributes, serviceFrom: 'referral' },
    };
    const alone = resolveEpisode([search, stored], tables, rules).events.get(booking.id)!;
    expect([alone.service_id, alone.attributes.serviceFrom]).toEqual(['2000011148', 'search']);
    expect(resolveEpisode([stored], tables, rules).events.get(booking.id)!).toMatchObject({
      service_id: null,
    });
  });

  it('gives the same answer whatever order the events arrive in, and ignores what it made before', () => {
    const { search, referral, booking, serviceRequest } = barsContact();
    const call = journey.CALL;
    const undo = cancel('A1', '2021-10-06T08:04:00Z', call);
    const again = rebook(serviceRequest, '2021-10-06T08:05:00Z')[0]!;
    const all = [search, referral, booking, undo, again];
    const canonical = (events: EpisodeEvent[]) => {
      const r = resolveEpisode(events, tables, rules);
      return JSON.stringify([[...r.events].sort(([a], [b]) => (a < b ? -1 : 1)), r.made, r.episode]);
    };
    const expected = canonical(all);
    const made = resolveEpisode(all, tables, rules).made;
    fc.assert(
      fc.property(
        fc.shuffledSubarray([...all, ...made], { minLength: all.length + made.length }),
        (order) => {
          expect(canonical(order)).toBe(expected);
        },
      ),
      { numRuns: 100 },
    );
  });
});
