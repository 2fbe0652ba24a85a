import { isValidNhsNumber, NHS_NUMBER_SYSTEM } from '../fhir/nhs-number.js';

import type { PatientHasher } from '../privacy/patient-hash.js';

/** NHS number identifier systems: today's, and the one older STU3 payloads still carry. */
export const NHS_SYSTEMS: ReadonlySet<string> = new Set([
  NHS_NUMBER_SYSTEM,
  'http://fhir.nhs.net/Id/nhs-number',
]);

/** What redaction needs: the keyed hash, and whether birth dates keep their year. */
export interface RedactionRules {
  hash: PatientHasher;
  birthDateAsYear: boolean;
}

/** A redacted value, with the patient hashes met on the way (episodes are stitched by them). */
export interface Redacted<T> {
  value: T;
  patientHashes: string[];
}

/** How a hashed NHS number is written where the number stood, so a reader sees it is not a number. */
export const HASH_PREFIX = 'hash:';

/**
 * Elements removed wherever they occur, because they carry people's names, contact details or free
 * text (DESIGN.md, privacy): human names, addresses, telecoms, contacts, photos, narrative, notes,
 * descriptions and free-text values, and attachments' data (a 111 CDA document travels base64 inside).
 */
export const REMOVED: ReadonlySet<string> = new Set([
  'valueHumanName',
  'valueAddress',
  'valueContactPoint',
  'contentString',
  'name',
  'address',
  'telecom',
  'contact',
  'photo',
  'text',
  'note',
  'comment',
  'description',
  'patientInstruction',
  'valueString',
  'valueMarkdown',
  'data',
]);

/** Elements that hold a URL or a reference. */
export const URL_KEYS: ReadonlySet<string> = new Set(['url', 'fullUrl', 'location', 'reference']);

/**
 * Names that are kept even though they are called `name`: a plain string naming an organisation, a
 * service, a location or a software product (never a person: a HumanName is always an object).
 */
function keepsPlainName(key: string, value: unknown): boolean {
  return key === 'name' && typeof value === 'string';
}

/**
 * Redacts one FHIR JSON value (a resource, a Bundle, anything parsed from a body): NHS number
 * identifiers become `hash:<keyed hash>`, birth dates keep only their year (or go), and the elements
 * above are removed. The input is not modified.
 */
export function redactFhir<T>(input: T, rules: RedactionRules): Redacted<T> {
  const patientHashes = new Set<string>();
  const walk = (value: unknown, key?: string): unknown => {
    if (Array.isArray(value)) return value.map((item) => walk(item, key));
    if (value === null || typeof value !== 'object') return value;
    const object = value as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    // An NHS number written as a JSON number is still one.
    const isNhsIdentifier =
      NHS_SYSTEMS.has(object.system as string) &&
      (typeof object.value === 'string' || typeof object.value === 'number');
    // A contained resource's id is local (`#P1`); any other Patient id names a person and is hashed the
    // same way as `Patient/{id}` references, so references still resolve.
    const isPatient = object.resourceType === 'Patient' && key !== 'contained';
    const isReference = typeof object.reference === 'string';
    for (const [k, v] of Object.entries(object)) {
      if (REMOVED.has(k) && !keepsPlainName(k, v)) continue;
      // A Reference's display names its target: for a patient or a practitioner, a person.
      if (k === 'display' && isReference) continue;
      if (k === 'id' && isPatient && typeof v === 'string') {
        const hashed = rules.hash(v);
        patientHashes.add(hashed);
        out[k] = `${HASH_PREFIX}${hashed}`;
        continue;
      }
      // Free text that is kept (a provider's diagnostics): NHS numbers in it are hashed.
      if (k === 'diagnostics' && typeof v === 'string') {
        out[k] = v.replace(/\b\d{3}[ -]?\d{3}[ -]?\d{4}\b/g, (match) => {
          if (!isValidNhsNumber(match)) return match;
          const hashed = rules.hash(match);
          patientHashes.add(hashed);
          return `${HASH_PREFIX}${hashed}`;
        });
        continue;
      }
      if ((k === 'birthDate' || k === 'deceasedDateTime') && typeof v === 'string') {
        if (rules.birthDateAsYear && /^\d{4}/.test(v)) out[k] = v.slice(0, 4);
        continue;
      }
      // URLs and references inside bodies repeat request targets: a searchset's self link carries the
      // query it answered (identifier=...nhs-number|943...), a fullUrl, Location or reference can end in
      // Patient/{id} (the published BaRS response names the patient Patient/<NHS number>), a conditional
      // reference carries a search.
      if (URL_KEYS.has(k) && typeof v === 'string' && (v.includes('?') || /(^|\/)Patient\//.test(v))) {
        const url = redactUrl(v, rules);
        for (const hashed of url.patientHashes) patientHashes.add(hashed);
        out[k] = url.value;
        continue;
      }
      if (isNhsIdentifier && k === 'value') {
        const hashed = rules.hash(String(v));
        patientHashes.add(hashed);
        out[k] = `${HASH_PREFIX}${hashed}`;
        continue;
      }
      out[k] = walk(v, k);
    }
    return out;
  };
  return { value: walk(input) as T, patientHashes: [...patientHashes] };
}

/** Query parameters that carry an NHS number (`identifier=https://fhir.nhs.uk/Id/nhs-number|943...`). */
const NHS_NUMBER_PARAMS = new Set([
  'identifier',
  'patient:identifier',
  'patient.identifier',
  'subject:identifier',
  'subject.identifier',
]);

/** Query parameters that name a patient by reference (`patient=Patient/943...`): the id is hashed. */
const PATIENT_REFERENCE_PARAMS = new Set(['patient', 'subject', 'patient:patient', 'subject:patient']);

/** Patient search parameters that carry personal details: their values are never stored. */
function personalParam(name: string): boolean {
  return /^(family|given|name|phonetic|birthdate|death-date|phone|email|telecom|address(-[a-z]+)?)(:[a-z]+)?$/.test(
    name,
  );
}

/**
 * Redacts a request target: NHS numbers in the identifier parameters, and the patient's logical id in
 * GP Connect's `Patient/{id}/...` paths, become hashes. Percent-encoding of everything else is kept.
 */
export function redactTarget(
  path: string,
  query: string | null,
  rules: RedactionRules,
): Redacted<{ path: string; query: string | null }> {
  const patientHashes: string[] = [];
  const redactedPath = path.replace(/((?:^|\/)Patient\/)([^/?#]+)/g, (_m, prefix: string, id: string) => {
    const hashed = rules.hash(safeDecode(id));
    patientHashes.push(hashed);
    return `${prefix}${HASH_PREFIX}${hashed}`;
  });
  let redactedQuery = query;
  if (query) {
    redactedQuery = query
      .split('&')
      .map((pair) => {
        const eq = pair.indexOf('=');
        if (eq < 0) return pair;
        const name = safeDecode(pair.slice(0, eq)).toLowerCase();
        if (personalParam(name)) return `${pair.slice(0, eq)}=${encodeURIComponent('[not stored]')}`;
        if (PATIENT_REFERENCE_PARAMS.has(name)) {
          const reference = safeDecode(pair.slice(eq + 1));
          const id = reference.replace(/^.*Patient\//, '');
          const hashed = rules.hash(id);
          patientHashes.push(hashed);
          return `${pair.slice(0, eq)}=${encodeURIComponent(`${reference.slice(0, reference.length - id.length)}${HASH_PREFIX}${hashed}`)}`;
        }
        if (!NHS_NUMBER_PARAMS.has(name)) return pair;
        const value = safeDecode(pair.slice(eq + 1).replace(/\+/g, ' '));
        const bar = value.lastIndexOf('|');
        const number = bar >= 0 ? value.slice(bar + 1) : value;
        const system = bar >= 0 ? value.slice(0, bar) : '';
        if (!/^\s*\d[\d\s]{8,}\d\s*$/.test(number) || (system && !NHS_SYSTEMS.has(system))) return pair;
        const hashed = rules.hash(number.trim());
        patientHashes.push(hashed);
        return `${pair.slice(0, eq)}=${encodeURIComponent(`${system ? `${system}|` : ''}${HASH_PREFIX}${hashed}`)}`;
      })
      .join('&');
  }
  return { value: { path: redactedPath, query: redactedQuery }, patientHashes };
}

/** A whole URL (or reference) redacted like a request target: its path and its query. */
export function redactUrl(url: string, rules: RedactionRules): Redacted<string> {
  const queryAt = url.indexOf('?');
  const target = redactTarget(
    queryAt < 0 ? url : url.slice(0, queryAt),
    queryAt < 0 ? null : url.slice(queryAt + 1),
    rules,
  );
  const { path, query } = target.value;
  return { value: query === null ? path : `${path}?${query}`, patientHashes: target.patientHashes };
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
