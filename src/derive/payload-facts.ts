import { entryResources, isObject } from '../fhir/json.js';
import { fhirDatePeriod } from '../fhir/fhir-time.js';
import { header } from '../http/headers.js';
import { deadlineOf } from './dispositions.js';
import type { DerivationTables } from './tables.js';

/*
 * What the payloads say, read the same way by derivation (on the wire) and the ingest API's FHIR door:
 * the service a request is routed to, the Appointment it is about and the slot it asks for, and what a
 * BaRS referral says (its disposition, deadline, use case).
 */

export const BARS_USE_CASES = 'https://fhir.nhs.uk/CodeSystem/usecases-categories-bars';
const DX_SYSTEM = 'https://fhir.nhs.uk/CodeSystem/pathways-dx-codes';

function instant(value: unknown): Date | null {
  return typeof value === 'string' ? (fhirDatePeriod(value)?.start ?? null) : null;
}

/** The DoS service id in `NHSD-Target-Identifier` (base64 JSON). */
export function targetService(headers: Record<string, string | string[]>): string | null {
  const raw = header(headers, 'nhsd-target-identifier');
  if (!raw) return null;
  try {
    const parsed = JSON.parse(Buffer.from(raw, 'base64').toString('utf8')) as unknown;
    return isObject(parsed) && typeof parsed.value === 'string' ? parsed.value : null;
  } catch {
    return null;
  }
}

export function codes(concepts: unknown, system: string): string[] {
  const list = Array.isArray(concepts) ? concepts : [concepts];
  return list.flatMap((concept) => {
    const codings = isObject(concept) && Array.isArray(concept.coding) ? (concept.coding as unknown[]) : [];
    return codings.flatMap((c) =>
      isObject(c) && c.system === system && typeof c.code === 'string' ? [c.code] : [],
    );
  });
}

/** The Appointment a request or response is about: the resource itself, or one in a message Bundle. */
export function appointmentIn(body: unknown): Record<string, unknown> | undefined {
  if (isObject(body) && body.resourceType === 'Appointment') return body;
  return entryResources(body).find((r) => r.resourceType === 'Appointment');
}

/** The start of the slot a booking asked for: the Appointment's start, else the Slot it references. */
export function bookedStart(request: unknown): Date | null {
  const appointment = appointmentIn(request);
  const start = instant(appointment?.start);
  if (start) return start;
  const contained: unknown[] = Array.isArray(appointment?.contained)
    ? (appointment.contained as unknown[])
    : [];
  const slots = [...contained, ...entryResources(request)];
  for (const slot of slots)
    if (isObject(slot) && slot.resourceType === 'Slot') {
      const at = instant(slot.start);
      if (at) return at;
    }
  return null;
}

/** What a BaRS referral says: its disposition and deadline (with where it came from), and its times. */
export interface ReferralFacts {
  columns: { disposition: string | null; deadline: Date | null; deadline_source: string | null };
  attributes: {
    dispositionAt: string | null;
    referredAt: string | null;
    useCase: string | null;
    category: string | null;
    /** The ODS code of the patient's registered GP practice, when the referral names it. */
    practice?: string;
  };
  /** Data-quality flags: the disposition unknown, the deadline only inferred. */
  flags: string[];
}

/**
 * The facts of a BaRS referral from its resources (the `servicerequest-request` Bundle's entries, or a
 * ServiceRequest with its CarePlan posted to the ingest API): the Pathways disposition from the
 * CarePlan, the deadline from `ServiceRequest.occurrencePeriod.end` (else the disposition's time frame).
 */
export function referralFacts(
  resources: Record<string, unknown>[],
  tables: DerivationTables,
  practice?: string,
): ReferralFacts {
  const serviceRequest = resources.find((r) => r.resourceType === 'ServiceRequest');
  const carePlan = resources.find((r) => r.resourceType === 'CarePlan');
  const dx = (Array.isArray(carePlan?.activity) ? (carePlan.activity as unknown[]) : []).flatMap((a) =>
    isObject(a) ? codes(a.outcomeCodeableConcept, DX_SYSTEM) : [],
  )[0];
  const period = isObject(serviceRequest?.occurrencePeriod) ? serviceRequest.occurrencePeriod : undefined;
  const dispositionAt = instant(isObject(carePlan?.period) ? carePlan.period.start : undefined);
  const deadline = deadlineOf(
    { occurrenceEnd: instant(period?.end), disposition: dx ?? null, dispositionAt },
    tables.dispositions,
    tables.bankHolidays,
  );
  const row = tables.dispositions.get(dx);
  return {
    columns: {
      // The table's spelling when the code is known (Dx codes arrive as DX02 or Dx02).
      disposition: row?.code ?? dx ?? null,
      deadline: deadline.deadline,
      deadline_source: deadline.source,
    },
    attributes: {
      dispositionAt: dispositionAt?.toISOString() ?? null,
      referredAt: instant(period?.start)?.toISOString() ?? null,
      useCase: codes(serviceRequest?.category, BARS_USE_CASES)[0] ?? null,
      category:
        codes(
          serviceRequest?.category,
          'https://fhir.nhs.uk/CodeSystem/message-category-servicerequest',
        )[0] ?? null,
      ...(practice ? { practice } : {}),
    },
    // No Dx code, or one the table does not know: reports count these apart.
    flags: [...deadline.flags, ...(row ? [] : ['disposition-unknown'])],
  };
}
