import { isObject, objects, type Json } from '../fhir/json.js';
import { header } from '../http/headers.js';

/*
 * The correlation keys an exchange carries (reports.md, terms: episode and encounter), written on its
 * events as `kind:value`. Episodes are stitched by any shared key; encounters only by call keys.
 */

/** Keys that name one call with the patient on the phone (reports.md: encounter). */
export const CALL_KEY_KINDS = ['trace', 'correlation', 'case'] as const;

/** Every kind of key, call keys first. */
export type KeyKind =
  | (typeof CALL_KEY_KINDS)[number]
  /** BaRS `Encounter.episodeOfCare`: the journey id. */
  | 'journey'
  /** A referral's ServiceRequest, by its id: the referral itself, or a booking's `basedOn`. */
  | 'servicerequest'
  /** An appointment at a provider: booked, cancelled, read, or named by a referral's `supportingInfo`. */
  | 'appointment'
  /** The 111 CDA document a booking points at (contained DocumentReference). */
  | 'document';

export function correlationKey(kind: KeyKind, value: string): string {
  return `${kind}:${value}`;
}

/** Whether a stored key is a call key. */
export function isCallKey(key: string): boolean {
  return CALL_KEY_KINDS.some((kind) => key.startsWith(`${kind}:`));
}

/** The id a reference points at: `urn:uuid:X`, `ServiceRequest/X`, `https://…/ServiceRequest/X/_history/2` all give X. */
export function referencedId(reference: string): string | null {
  const trimmed = reference.trim();
  if (trimmed.startsWith('#')) return null; // contained: not an id anything else can share
  if (/^urn:(uuid|oid):/i.test(trimmed)) return trimmed.slice(9) || null;
  const parts = trimmed.split('/').filter((p) => p !== '');
  const history = parts.indexOf('_history');
  const id = history > 0 ? parts[history - 1] : parts[parts.length - 1];
  return id ?? null;
}

/**
 * The ids a Reference element (or a list of them) points at, of one resource type: a relative or
 * absolute reference that names the type, or a `urn:uuid:` one whose Bundle entry is of that type.
 */
function references(value: unknown, type: string, typeOf: Map<string, unknown>): string[] {
  const list = Array.isArray(value) ? value : [value];
  return list.flatMap((r) => {
    if (!isObject(r) || typeof r.reference !== 'string') return [];
    const id = referencedId(r.reference);
    if (!id) return [];
    const named = /^urn:/i.test(r.reference.trim())
      ? typeOf.get(id.toLowerCase()) === type
      : r.reference.split('/').includes(type);
    return named ? [id] : [];
  });
}

/** Resources in a body and the Bundle entries' fullUrls, as [resource, its id]. */
function resourcesWithIds(body: unknown): [Json, string | null][] {
  if (isObject(body) && body.resourceType !== 'Bundle') return [[body, idOf(body, undefined)]];
  if (!isObject(body)) return [];
  return objects(body.entry).flatMap((entry): [Json, string | null][] =>
    isObject(entry.resource)
      ? [
          [
            entry.resource,
            idOf(entry.resource, typeof entry.fullUrl === 'string' ? entry.fullUrl : undefined),
          ],
        ]
      : [],
  );
}

function idOf(resource: Json, fullUrl: string | undefined): string | null {
  if (typeof resource.id === 'string' && resource.id !== '') return resource.id;
  return fullUrl ? referencedId(fullUrl) : null;
}

function identifierValues(value: unknown): string[] {
  return objects(value).flatMap((i) => (typeof i.value === 'string' && i.value !== '' ? [i.value] : []));
}

/** What an exchange says about itself that keys come from. */
export interface KeySources {
  provider: string | null;
  headers: Record<string, string | string[]>;
  request: unknown;
  /** The appointment the exchange is about (booked, cancelled, read), when there is one. */
  appointmentId: string | null;
}

/**
 * The correlation keys of an exchange: `Ssp-TraceID`, `X-Correlation-ID`, and from the request's
 * resources the case id (Encounter.identifier), the journey (Encounter.episodeOfCare), the referral
 * (ServiceRequest id, Appointment.basedOn), the CDA document (DocumentReference identifiers) and the
 * appointment (the exchange's own, or a ServiceRequest's `supportingInfo`). Sorted, without repeats.
 */
export function correlationKeys(sources: KeySources): string[] {
  const keys = new Set<string>();
  const add = (kind: KeyKind, value: string | null | undefined) => {
    // Ids arrive in either case (UUIDs especially): compared without it.
    if (value) keys.add(correlationKey(kind, value.toLowerCase()));
  };
  const appointment = (id: string | null) => {
    // Appointment ids are the provider's own (often small numbers): kept apart per provider.
    if (id) add('appointment', `${sources.provider ?? ''}|${id}`);
  };
  add('trace', header(sources.headers, 'ssp-traceid')?.trim());
  add('correlation', header(sources.headers, 'x-correlation-id')?.trim());
  appointment(sources.appointmentId);

  const resources = resourcesWithIds(sources.request);
  const typeOf = new Map<string, unknown>(
    resources.flatMap(([r, id]) => (id ? [[id.toLowerCase(), r.resourceType]] : [])),
  );
  const all = [
    ...resources,
    ...resources.flatMap(([r]) => objects(r.contained).map((c): [Json, string | null] => [c, null])),
  ];
  for (const [resource, id] of all) {
    switch (resource.resourceType) {
      case 'Encounter':
        for (const value of identifierValues(resource.identifier)) add('case', value);
        for (const journey of references(resource.episodeOfCare, 'EpisodeOfCare', typeOf))
          add('journey', journey);
        break;
      case 'ServiceRequest':
        add('servicerequest', id);
        for (const booked of references(resource.supportingInfo, 'Appointment', typeOf)) appointment(booked);
        break;
      case 'Appointment':
        for (const referral of references(resource.basedOn, 'ServiceRequest', typeOf))
          add('servicerequest', referral);
        break;
      case 'DocumentReference':
        for (const value of identifierValues(resource.identifier)) add('document', value);
        if (isObject(resource.masterIdentifier) && typeof resource.masterIdentifier.value === 'string')
          add('document', resource.masterIdentifier.value);
        break;
    }
  }
  return [...keys].sort();
}
