import { objects, text, type Json } from '../../fhir/json.js';
import { SANDBOX_SERVICES } from '../catalogue.js';
import {
  freeSlots,
  publishedExample,
  resourceOf,
  searchInstant,
  setNhsNumber,
  type BookedAppointment,
  type ClientContext,
  type DemoCall,
  type DialectClient,
} from './dialect-client.js';

const PROVIDER = 'sandbox-bars';
const DX_SYSTEM = 'https://fhir.nhs.uk/CodeSystem/pathways-dx-codes';
const USE_CASES = 'https://fhir.nhs.uk/CodeSystem/usecases-categories-bars';
const DOS_SERVICE = 'https://fhir.nhs.uk/Id/dos-service-id';

/** The BaRS routing header: base64 of the DoS service identifier. */
const targetIdentifier = (service: string) =>
  Buffer.from(JSON.stringify({ system: DOS_SERVICE, value: service })).toString('base64');

/** The use case of a referral to the service: 111 to an ED (`a1t1`) or to a UTC (`a1t2`). */
function useCase(service: string): Json[] {
  const kind = SANDBOX_SERVICES.find((s) => s.id === service)?.kind;
  return [{ coding: [{ system: USE_CASES, code: kind === 'emergency-department' ? 'a1t1' : 'a1t2' }] }];
}

/** The message header of a published example, pointed at the call's service (and at a focus). */
function address(message: Json, service: string, focus?: string): Json {
  const header = resourceOf(message.entry, 'MessageHeader');
  for (const destination of objects(header.destination)) destination.endpoint = `${DOS_SERVICE}|${service}`;
  if (focus) header.focus = [{ reference: focus }];
  return header;
}

/** The published referral (`servicerequest-request`), made this call's: its patient, case, disposition, deadline. */
function referralMessage(call: DemoCall, withDeadline: boolean, description: string): Json {
  const message = publishedExample('bars/process-message-referral-validation-request.json');
  message.id = call.serviceRequestId;
  const entries = objects(message.entry);
  const referral = entries.find((e) => (e.resource as Json).resourceType === 'ServiceRequest')!;
  referral.fullUrl = `urn:uuid:${call.serviceRequestId}`;
  address(message, call.service, `urn:uuid:${call.serviceRequestId}`);
  Object.assign(referral.resource as Json, {
    category: useCase(call.service),
    occurrencePeriod: {
      start: call.now.toISOString(),
      // Without an end, the collector takes the deadline from the disposition and its time frame.
      ...(withDeadline ? { end: call.disposition.deadline.toISOString() } : {}),
    },
  });
  // A case number and journey of the call's own: the example's would join every call's referral.
  const encounter = resourceOf(message.entry, 'Encounter');
  (encounter.identifier as Json[])[0]!.value = call.caseId;
  encounter.episodeOfCare = [{ reference: `EpisodeOfCare/${call.documentId}` }];
  const carePlan = resourceOf(message.entry, 'CarePlan');
  carePlan.period = { start: call.disposition.at.toISOString() };
  for (const outcome of objects(objects(carePlan.activity)[0]?.outcomeCodeableConcept))
    for (const coding of objects(outcome.coding))
      if (coding.system === DX_SYSTEM)
        Object.assign(coding, { code: call.disposition.spelled, display: description });
  setNhsNumber(resourceOf(message.entry, 'Patient'), call.patient);
  return message;
}

/**
 * BaRS: everything on the wire through `/bars/…`, routed by `NHSD-Target-Identifier`, the call keyed by
 * `X-Correlation-ID`. The referral is the published `servicerequest-request` message (the collector
 * reads the disposition and deadline from it); bookings and cancellations are the published
 * `booking-request` message, the Appointment `basedOn` the referral; a re-booking names the appointment
 * it `replaces`.
 */
export function barsClient({ http, uuid }: ClientContext, describe: (code: string) => string): DialectClient {
  const bookingTemplate = publishedExample('bars/process-message-booking-request.json');
  const headers = (call: DemoCall, requestId: string, fault?: string) => ({
    'NHSD-Target-Identifier': targetIdentifier(call.service),
    'X-Correlation-ID': call.key,
    'X-Request-ID': requestId,
    ...(fault ? { 'X-Sandbox-Fault': fault } : {}),
  });
  /** A booking-request message with the call's patient, about this Appointment. */
  const bookingMessage = (
    call: DemoCall,
    appointment: (published: Json) => Json,
    reason: 'new' | 'update',
  ) => {
    const message = structuredClone(bookingTemplate);
    message.id = uuid();
    const header = address(message, call.service);
    for (const coding of objects((header.reason as Json | undefined)?.coding)) coding.code = reason;
    const entry = objects(message.entry).find((e) => (e.resource as Json).resourceType === 'Appointment')!;
    entry.resource = appointment(entry.resource as Json);
    setNhsNumber(resourceOf(message.entry, 'Patient'), call.patient);
    return message;
  };
  let referrals = 0;
  return {
    dialect: 'bars',
    provider: PROVIDER,
    keepsRequestIds: true,
    replacesOnRebooking: true,

    async refer(call, alongside) {
      await http.ingest(alongside);
      // Now and then without occurrencePeriod.end: the deadline then comes from the disposition's time frame.
      referrals += 1;
      const message = referralMessage(call, referrals % 4 !== 0, describe(call.disposition.code));
      const res = await http.fhir('/bars/$process-message', {
        body: message,
        headers: headers(call, `${call.key}-referral`),
      });
      if (res.status !== 200) throw new Error(`a BaRS referral answered ${res.status}`);
    },

    selectionKeys: (call) => ({ correlationId: call.key }),

    async search(call, from, to, fault) {
      const res = await http.fhir(
        `/bars/Slot?status=free&start=ge${searchInstant(from)}&start=le${searchInstant(to)}&Schedule.actor:HealthcareService=${call.service}&_include=Slot:schedule&_include=Schedule:actor:HealthcareService`,
        { headers: headers(call, `${call.key}-search-${from.getTime()}`, fault) },
      );
      return { status: res.status, slots: res.status === 200 ? freeSlots(res.body) : [] };
    },

    async book(call, slot, options) {
      const message = bookingMessage(
        call,
        (published) => ({
          ...published,
          start: slot.start,
          end: slot.end,
          created: call.now.toISOString(),
          serviceCategory: useCase(call.service),
          basedOn: [{ reference: `ServiceRequest/${call.serviceRequestId}` }],
          ...(options.replaces ? { replaces: [{ reference: `Appointment/${options.replaces.id}` }] } : {}),
        }),
        'new',
      );
      Object.assign(resourceOf(message.entry, 'Slot'), { id: slot.id, start: slot.start, end: slot.end });
      const res = await http.fhir('/bars/$process-message', {
        body: message,
        headers: headers(call, options.requestId, options.fault),
      });
      const booked = res.status === 200 ? resourceOf(res.body?.entry, 'Appointment') : undefined;
      return {
        status: res.status,
        ...(booked ? { appointment: { id: text(booked.id), resource: booked } } : {}),
      };
    },

    async cancel(call, appointment: BookedAppointment, requestId) {
      // The guide's reason is `update`; the status says it is a cancellation.
      const message = bookingMessage(
        call,
        () => ({ ...appointment.resource, status: 'cancelled' }),
        'update',
      );
      const res = await http.fhir('/bars/$process-message', {
        body: message,
        headers: headers(call, requestId),
      });
      if (res.status !== 200) throw new Error(`a BaRS cancellation answered ${res.status}`);
    },
  };
}
