import { text, type Json } from '../../fhir/json.js';
import {
  freeSlots,
  referByIngest,
  searchInstant,
  type ClientContext,
  type DemoCall,
  type DialectClient,
} from './dialect-client.js';

const PROVIDER = 'sandbox-gpconnect';
/** The booking organisation: the 111 service, by its ODS code (GP Connect asks for one on every booking). */
const BOOKING_ORGANISATION = 'A99999';
const STRUCTURE = 'https://fhir.nhs.uk/STU3/StructureDefinition';

const interaction = (what: string) => `urn:nhs:names:services:gpconnect:fhir:rest:${what}`;

/** A GP Connect Appointment (GPConnect-Appointment-1): booking organisation, the patient by reference. */
function appointment(call: DemoCall, slot: { id: string; start: string; end: string }): Json {
  return {
    resourceType: 'Appointment',
    meta: { profile: [`${STRUCTURE}/GPConnect-Appointment-1`] },
    contained: [
      {
        resourceType: 'Organization',
        id: '1',
        identifier: [{ system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: BOOKING_ORGANISATION }],
        name: 'NHS 111',
      },
    ],
    extension: [
      {
        url: `${STRUCTURE}/Extension-GPConnect-BookingOrganisation-1`,
        valueReference: { reference: '#1' },
      },
    ],
    status: 'booked',
    start: slot.start,
    end: slot.end,
    slot: [{ reference: `Slot/${slot.id}` }],
    created: call.now.toISOString(),
    participant: [{ actor: { reference: `Patient/P${call.patient}` }, status: 'accepted' }],
  };
}

/**
 * GP Connect Appointment Management: the referral posted to the ingest API (nothing on the wire
 * carries the disposition), the patient found by NHS number, slots searched in a window (at most 14
 * days), a booking by POST, a cancellation as a read and a PUT with `If-Match` and a reason.
 */
export function gpconnectClient({ http }: ClientContext): DialectClient {
  const headers = (call: DemoCall, what: string, more: Record<string, string> = {}) => ({
    'Ssp-TraceID': call.key,
    'Ssp-InteractionID': interaction(what),
    ...more,
  });
  return {
    dialect: 'gpconnect',
    provider: PROVIDER,
    keepsRequestIds: false,
    replacesOnRebooking: false,

    refer: (call, alongside) =>
      referByIngest(http, call, alongside, PROVIDER, { traceId: call.key, nhsNumber: call.patient }),

    selectionKeys: (call) => ({ traceId: call.key }),

    async search(call, from, to, fault) {
      const patient = await http.fhir(
        `/fhir/${PROVIDER}/Patient?identifier=${encodeURIComponent(`https://fhir.nhs.uk/Id/nhs-number|${call.patient}`)}`,
        { headers: headers(call, 'search:patient-1') },
      );
      if (patient.status !== 200) throw new Error(`a GP Connect patient search answered ${patient.status}`);
      const filter = encodeURIComponent(
        `https://fhir.nhs.uk/Id/ods-organization-code|${BOOKING_ORGANISATION}`,
      );
      const res = await http.fhir(
        `/fhir/${PROVIDER}/Slot?start=ge${searchInstant(from)}&end=le${searchInstant(to)}&status=free&_include=Slot:schedule&searchFilter=${filter}`,
        { headers: headers(call, 'search:slot-1', fault ? { 'X-Sandbox-Fault': fault } : {}) },
      );
      return { status: res.status, slots: res.status === 200 ? freeSlots(res.body) : [] };
    },

    async book(call, slot, options) {
      const res = await http.fhir(`/fhir/${PROVIDER}/Appointment`, {
        body: appointment(call, slot),
        headers: headers(
          call,
          'create:appointment-1',
          options.fault ? { 'X-Sandbox-Fault': options.fault } : {},
        ),
      });
      return {
        status: res.status,
        ...(res.status === 201 && res.body
          ? { appointment: { id: text(res.body.id), resource: res.body } }
          : {}),
      };
    },

    async cancel(call, booked) {
      const path = `/fhir/${PROVIDER}/Appointment/${booked.id}`;
      const read = await http.fhir(path, { headers: headers(call, 'read:appointment-1') });
      const current = read.body ?? {};
      const put = await http.fhir(path, {
        method: 'PUT',
        body: {
          ...current,
          status: 'cancelled',
          extension: [
            ...(Array.isArray(current.extension) ? (current.extension as Json[]) : []),
            {
              url: `${STRUCTURE}/Extension-GPConnect-AppointmentCancellationReason-1`,
              valueString: 'Patient no longer needs the appointment',
            },
          ],
        },
        headers: headers(call, 'cancel:appointment-1', { 'If-Match': read.headers.get('etag') ?? 'W/"1"' }),
      });
      if (put.status !== 200) throw new Error(`a GP Connect cancellation answered ${put.status}`);
    },
  };
}
