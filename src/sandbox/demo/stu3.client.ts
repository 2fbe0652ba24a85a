import { text, type Json } from '../../fhir/json.js';
import {
  freeSlots,
  publishedExample,
  referByIngest,
  resourceOf,
  searchInstant,
  setNhsNumber,
  type BookedAppointment,
  type ClientContext,
  type DemoCall,
  type DialectClient,
} from './dialect-client.js';

const PROVIDER = 'sandbox-stu3';

/**
 * The STU3 Booking Standard: the referral (with the disposition) posted to the ingest API, keyed by the
 * call's `Ssp-TraceID` and the 111 document; the published book request with the call's patient, slot
 * and document; a cancellation as a read and a PUT with `If-Match`.
 */
export function stu3Client({ http }: ClientContext): DialectClient {
  const template = publishedExample('stu3/appointment-book-request.json');
  const headers = (call: DemoCall, more: Record<string, string> = {}) => ({
    'Ssp-TraceID': call.key,
    ...more,
  });
  return {
    dialect: 'stu3',
    provider: PROVIDER,
    keepsRequestIds: true,
    replacesOnRebooking: false,

    refer: (call, alongside) =>
      referByIngest(http, call, alongside, PROVIDER, {
        traceId: call.key,
        documentId: call.documentId,
        nhsNumber: call.patient,
      }),

    selectionKeys: (call) => ({ traceId: call.key }),

    async search(call, from, to, fault) {
      const res = await http.fhir(
        `/fhir/${PROVIDER}/Slot?service=${call.service}&status=free&start=ge${searchInstant(from)}&start=le${searchInstant(to)}&_include=Slot:schedule`,
        { headers: headers(call, fault ? { 'X-Sandbox-Fault': fault } : {}) },
      );
      return { status: res.status, slots: res.status === 200 ? freeSlots(res.body) : [] };
    },

    async book(call, slot, options) {
      const body = structuredClone(template);
      Object.assign(resourceOf(body.contained, 'Slot'), { id: slot.id, start: slot.start, end: slot.end });
      setNhsNumber(resourceOf(body.contained, 'Patient'), call.patient);
      const document = resourceOf(body.contained, 'DocumentReference');
      (document.identifier as Json[])[0]!.value = call.documentId;
      Object.assign(body, { slot: [{ reference: `#${slot.id}` }], start: slot.start, end: slot.end });
      const res = await http.fhir(`/fhir/${PROVIDER}/Appointment`, {
        body,
        headers: headers(call, {
          'X-Request-ID': options.requestId,
          ...(options.fault ? { 'X-Sandbox-Fault': options.fault } : {}),
        }),
      });
      return {
        status: res.status,
        ...(res.status === 201 && res.body
          ? { appointment: { id: text(res.body.id), resource: res.body } }
          : {}),
      };
    },

    async cancel(call, appointment: BookedAppointment, requestId) {
      const path = `/fhir/${PROVIDER}/Appointment/${appointment.id}`;
      const read = await http.fhir(path, { headers: headers(call) });
      const version = text((read.body?.meta as Json | undefined)?.versionId);
      const put = await http.fhir(path, {
        method: 'PUT',
        body: { ...read.body, status: 'cancelled' },
        headers: headers(call, { 'If-Match': `W/"${version}"`, 'X-Request-ID': requestId }),
      });
      if (put.status !== 200) throw new Error(`an STU3 cancellation answered ${put.status}`);
    },
  };
}
