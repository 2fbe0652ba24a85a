import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Dialect } from '../../config/config.types.js';
import { objects, text, type Json } from '../../fhir/json.js';
import type { DemoHttp } from './demo-http.js';

/** One simulated 111 call: who, where to, why, and the keys that tie its traffic together. */
export interface DemoCall {
  /** The call key: `Ssp-TraceID` (STU3, GP Connect) or `X-Correlation-ID` (BaRS). */
  key: string;
  /** The patient's NHS number (never logged). */
  patient: string;
  /** The 111 case: its CDA document (STU3), its case number and journey (BaRS). */
  documentId: string;
  caseId: string;
  /** The referral's ServiceRequest (BaRS), for the booking's `basedOn`. */
  serviceRequestId: string;
  service: string;
  disposition: {
    /** As the table spells it, and as this call's system spells it on the wire (`DX02`, `Dx02`). */
    code: string;
    spelled: string;
    at: Date;
    /** When the patient must be seen by: the disposition time plus its time frame. */
    deadline: Date;
  };
  now: Date;
}

/** A free slot a search offered. */
export interface OfferedSlot {
  id: string;
  start: string;
  end: string;
}

/** An appointment as the provider answered it (kept to cancel it, or to say it is replaced). */
export interface BookedAppointment {
  id: string;
  resource: Json;
}

export interface BookOptions {
  /** The consumer's request id: sent again, a provider that keeps them answers a duplicate. */
  requestId: string;
  /** An `X-Sandbox-Fault` for this request: the provider answers with that error. */
  fault?: string;
  /** The appointment this booking replaces (BaRS `replaces`). */
  replaces?: BookedAppointment;
}

/** What a call handler's system does in one dialect, through the collector. */
export interface DialectClient {
  readonly dialect: Dialect;
  /** The collector's provider id for the sandbox's dialect. */
  readonly provider: string;
  /** Whether a booking sent again with its request id is refused as a duplicate (not GP Connect). */
  readonly keepsRequestIds: boolean;
  /** Whether a re-booking says which appointment it replaces (BaRS), rather than cancel and book. */
  readonly replacesOnRebooking: boolean;
  /**
   * Makes the referral: on the wire (BaRS), or posted to the ingest API (the disposition travels off
   * the wire) in one batch with the call's other off-wire events (`alongside`), which are posted anyway.
   */
  refer(call: DemoCall, alongside: Json[]): Promise<void>;
  /** The keys a directory selection posted to the ingest API carries to join the call. */
  selectionKeys(call: DemoCall): Json;
  /** Searches the service's free slots starting in the window; the status and the slots offered. */
  search(
    call: DemoCall,
    from: Date,
    to: Date,
    fault?: string,
  ): Promise<{ status: number; slots: OfferedSlot[] }>;
  /** Books a slot; the status, and the appointment when booked. */
  book(
    call: DemoCall,
    slot: OfferedSlot,
    options: BookOptions,
  ): Promise<{ status: number; appointment?: BookedAppointment }>;
  /** Cancels an appointment in the call whose key is `call.key`; anything but success is an error. */
  cancel(call: DemoCall, appointment: BookedAppointment, requestId: string): Promise<void>;
}

/** Everything a dialect client works with. */
export interface ClientContext {
  http: DemoHttp;
  /** A new UUID from the demo's seeded generator. */
  uuid: () => string;
}

/** The free Slots of a searchset. */
export function freeSlots(bundle: Json | undefined): OfferedSlot[] {
  return objects(bundle?.entry)
    .map((e) => e.resource as Json | undefined)
    .filter((r): r is Json => r?.resourceType === 'Slot' && r.status === 'free' && typeof r.id === 'string')
    .map((r) => ({ id: text(r.id), start: text(r.start), end: text(r.end) }));
}

/** A payload of the published standards (../shared/fixtures), parsed afresh. */
export function publishedExample(name: string): Json {
  const file = fileURLToPath(new URL(`../../../../shared/fixtures/${name}`, import.meta.url));
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Json;
  } catch (error) {
    throw new Error(
      `the demo sends the published examples, and ${name} was not found at ${file}: ${(error as Error).message}`,
      { cause: error },
    );
  }
}

/** The first resource of a type among a Bundle's entries (or an Appointment's contained resources). */
export function resourceOf(list: unknown, type: string): Json {
  const found = objects(list)
    .map((item) => (item.resource as Json | undefined) ?? item)
    .find((r) => r.resourceType === type);
  if (!found) throw new Error(`the published example has no ${type}`);
  return found;
}

/** Puts the patient's NHS number into a Patient's NHS number identifier. */
export function setNhsNumber(patient: Json, nhsNumber: string): void {
  const identifier = objects(patient.identifier).find(
    (i) => i.system === 'https://fhir.nhs.uk/Id/nhs-number',
  );
  if (!identifier) throw new Error('the published Patient has no NHS number identifier');
  identifier.value = nhsNumber;
}

/** The call's instant as a search parameter value: UTC, to the second. */
export function searchInstant(at: Date): string {
  return `${at.toISOString().slice(0, 19)}Z`;
}

/**
 * Posts a call's referral to the ingest API (how STU3 and GP Connect refer: off the wire), with the
 * call's disposition, the service it was referred to and its correlation keys.
 */
export function referByIngest(
  http: ClientContext['http'],
  call: DemoCall,
  alongside: Json[],
  provider: string,
  correlation: Json,
) {
  return http.ingest([
    ...alongside,
    {
      id: `${call.key}-referral`,
      type: 'referral.made',
      occurredAt: call.now.toISOString(),
      correlation,
      disposition: { code: call.disposition.spelled, at: call.disposition.at.toISOString() },
      referredTo: { serviceId: call.service, providerId: provider },
    },
  ]);
}
