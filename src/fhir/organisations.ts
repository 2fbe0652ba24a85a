import { referencedId } from '../derive/correlation-keys.js';
import { isObject, objects, type Json } from './json.js';

/*
 * Organisations a message names, found by reference: the sender of a message, the patient's registered
 * GP practice. Resolved within the payload (a Bundle entry by its fullUrl or id, a contained resource by
 * `#id`) or from the reference's own identifier.
 */

const isOds = (system: unknown) =>
  typeof system === 'string' && system.toLowerCase().includes('ods-organization-code');

/** An Organization's ODS code (its identifier of the ODS system). */
export function odsCode(organisation: unknown): string | undefined {
  const identifiers = isObject(organisation) ? objects(organisation.identifier) : [];
  const ods = identifiers.find((i) => isOds(i.system));
  return typeof ods?.value === 'string' ? ods.value : undefined;
}

/**
 * The resource of a type a Reference points at among a payload's resources (a Bundle's entries,
 * contained ones). Of that type only: a Practitioner/123 beside an Organization/123 is not it.
 */
export function resolve(
  reference: unknown,
  entries: Json[],
  type: string,
  contained: Json[] = [],
): Json | undefined {
  if (!isObject(reference) || typeof reference.reference !== 'string') return undefined;
  const ref = reference.reference.trim();
  if (ref.startsWith('#')) return contained.find((r) => r.id === ref.slice(1) && r.resourceType === type);
  const id = referencedId(ref);
  if (!id) return undefined;
  const entry = entries.find(
    (e) =>
      isObject(e.resource) &&
      e.resource.resourceType === type &&
      ((typeof e.fullUrl === 'string' && (e.fullUrl === ref || referencedId(e.fullUrl) === id)) ||
        e.resource.id === id),
  );
  return isObject(entry?.resource) ? entry.resource : undefined;
}

/**
 * The ODS code of the patient's registered GP practice (`Patient.generalPractitioner`, an Organization),
 * from a payload: a Bundle's Patient, or a Patient contained in an Appointment. Undefined when it names
 * none (a practitioner only, or no patient).
 */
export function registeredPractice(body: unknown): string | undefined {
  const entries = isObject(body) ? objects(body.entry) : [];
  const resources = entries.flatMap((e) => (isObject(e.resource) ? [e.resource] : []));
  const holders = [...resources, ...(isObject(body) ? [body] : [])];
  for (const holder of holders) {
    const contained = objects(holder.contained);
    const patients = [holder, ...contained].filter((r) => r.resourceType === 'Patient');
    for (const patient of patients)
      for (const gp of objects(patient.generalPractitioner)) {
        const fromIdentifier = isOds(isObject(gp.identifier) ? gp.identifier.system : undefined)
          ? (gp.identifier as Json).value
          : undefined;
        if (typeof fromIdentifier === 'string') return fromIdentifier;
        const ods = odsCode(resolve(gp, entries, 'Organization', contained));
        if (ods) return ods;
      }
  }
  return undefined;
}
