import type { DerivableExchange } from '../../src/derive/derive.js';
import { fixture } from './sandbox.js';

/*
 * Exchanges of one patient's booking journey, built from the published examples, as derivation takes
 * them (for episode tests that need several exchanges that belong together).
 */

export const JSON_TYPE = { 'content-type': 'application/fhir+json' };
export const CALL = '5b1c7f44-0000-4000-8000-000000000001';

let n = 0;
/** An exchange (a capability read unless told otherwise), with an id of its own. */
export function exchangeOf(over: Partial<DerivableExchange>): DerivableExchange {
  n += 1;
  return {
    id: `0190b2a0-${String(process.pid % 10000).padStart(4, '0')}-7000-8000-${String(n).padStart(12, '0')}`,
    received_at: '2021-10-06T08:00:00.000Z',
    provider_id: 'utc',
    dialect: 'bars',
    method: 'GET',
    path: '/base/metadata',
    query: null,
    request_headers: JSON_TYPE,
    request_body: null,
    response_status: 200,
    response_headers: JSON_TYPE,
    response_body: null,
    transport_outcome: 'ok',
    provider_answered: true,
    consumer_org: 'NHS111',
    patient_hash: null,
    ...over,
  };
}

/** The BaRS referral example, due by `end`, with its ServiceRequest id (a new one when `fresh`). */
export function referralBundle(end: string, serviceRequest?: string) {
  const bundle = fixture('bars/process-message-referral-validation-request.json');
  const request = bundle.entry.find((e: any) => e.resource.resourceType === 'ServiceRequest');
  request.resource.occurrencePeriod.end = end;
  if (serviceRequest) request.fullUrl = `urn:uuid:${serviceRequest}`;
  const encounter = bundle.entry.find((e: any) => e.resource.resourceType === 'Encounter').resource;
  // The case number and journey of the example would join every test's referral: made per referral.
  encounter.identifier[0].value = `case-${String(request.fullUrl).slice(-12)}`;
  encounter.episodeOfCare = [{ reference: `EpisodeOfCare/journey-${String(request.fullUrl).slice(-12)}` }];
  return { bundle, serviceRequest: String(request.fullUrl).slice('urn:uuid:'.length) };
}

/** The BaRS booking example, based on a referral, for the slot starting at `start`. */
export function bookingBundle(serviceRequest: string | null, start: string, replaces?: string) {
  const bundle = fixture('bars/process-message-booking-request.json');
  const appointment = bundle.entry.find((e: any) => e.resource.resourceType === 'Appointment').resource;
  appointment.start = start;
  if (serviceRequest) appointment.basedOn = [{ reference: `ServiceRequest/${serviceRequest}` }];
  if (replaces) appointment.replaces = [{ reference: `Appointment/${replaces}` }];
  return bundle;
}

/** The answer of a provider that booked appointment `id`. */
export const booked = (id: string) => ({
  response_status: 201,
  response_headers: { ...JSON_TYPE, location: `https://utc.example/base/Appointment/${id}/_history/1` },
});

/** One patient's BaRS contact: a search, the referral (due 10:30), a booking of the 10:00 slot. */
export function barsContact(call = CALL, serviceRequest?: string, appointment = 'A1') {
  const { bundle, serviceRequest: sr } = referralBundle('2021-10-06T10:30:00+00:00', serviceRequest);
  const headers = { ...JSON_TYPE, 'x-correlation-id': call };
  return {
    serviceRequest: sr,
    search: exchangeOf({
      received_at: '2021-10-06T08:00:00Z',
      path: '/base/Slot',
      query: 'status=free&start=ge2021-10-06T08:00:00Z&start=le2021-10-06T12:00:00Z',
      request_headers: headers,
      response_body: JSON.stringify(fixture('bars/slot-search-response.json')),
    }),
    referral: exchangeOf({
      received_at: '2021-10-06T08:01:00Z',
      method: 'POST',
      path: '/base/$process-message',
      request_headers: headers,
      request_body: JSON.stringify(bundle),
    }),
    booking: exchangeOf({
      received_at: '2021-10-06T08:02:00Z',
      method: 'POST',
      path: '/base/$process-message',
      request_headers: headers,
      request_body: JSON.stringify(bookingBundle(sr, '2021-10-06T10:00:00+00:00')),
      ...booked(appointment),
    }),
  };
}

/** A BaRS booking of the 09:00 slot in the call, booked as `appointment`. */
export function rebookingOf(
  serviceRequest: string,
  at: string,
  call = CALL,
  appointment = 'A2',
  replaces?: string,
) {
  return exchangeOf({
    received_at: at,
    method: 'POST',
    path: '/base/$process-message',
    request_headers: { ...JSON_TYPE, 'x-correlation-id': call },
    request_body: JSON.stringify(bookingBundle(serviceRequest, '2021-10-06T09:00:00+00:00', replaces)),
    ...booked(appointment),
  });
}

/** An STU3-style cancellation of `appointment` (PUT with status cancelled), accepted. */
export function cancellationOf(appointment: string, at: string, call = CALL) {
  return exchangeOf({
    received_at: at,
    dialect: 'stu3',
    method: 'PUT',
    path: `/base/Appointment/${appointment}`,
    request_headers: { ...JSON_TYPE, 'x-correlation-id': call },
    request_body: JSON.stringify({ ...fixture('stu3/appointment-cancel-request.json'), id: appointment }),
  });
}
