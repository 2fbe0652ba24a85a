import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import { header } from '../http/headers.js';
import type { IncomingHttpHeaders } from 'node:http';
import { classify, seenBody } from '../fhir/classify.js';
import type { CapturableExchange, TappedBody } from '../proxy/exchange.js';
import type { NewExchangeRow } from '../store/tables/exchange.table.js';
import { redactFhir, redactTarget, redactUrl, type Redacted, type RedactionRules } from './redact.js';
import { redactJsonText } from './redact-text.js';
import { storeBody, type StoredBody } from './stored-body.js';

/**
 * Headers whose values are stored: the ones the booking standards name and the ones HTTP needs to
 * read a body. Every other header is stored by name only, its value replaced, because a value can be a
 * credential (Authorization, API keys, cookies) or personal (a Referer with an NHS number, a requesting
 * practitioner's name). The consumer organisation is decoded from Authorization before it is dropped.
 */
const STORED_HEADERS = new Set([
  'accept',
  'accept-encoding',
  'content-type',
  'content-length',
  'content-encoding',
  'user-agent',
  'ssp-traceid',
  'ssp-from',
  'ssp-to',
  'ssp-interactionid',
  'ssp-version',
  'x-request-id',
  'x-correlation-id',
  'nhsd-target-identifier',
  'use-context',
  'traceparent',
  'tracestate',
  'if-match',
  'if-none-match',
  'prefer',
  'etag',
  'last-modified',
  'date',
  'cache-control',
  'retry-after',
  'location',
  'content-location',
]);

/** What stands for a header value that is not stored. */
export const NOT_STORED = '[not stored]';

function base64UrlJson(part: string): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return parsed && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function odsFrom(organization: unknown): string | undefined {
  const identifiers = (organization as { identifier?: unknown } | undefined)?.identifier;
  const list = Array.isArray(identifiers) ? identifiers : identifiers ? [identifiers] : [];
  for (const id of list as { system?: unknown; value?: unknown }[]) {
    const system = typeof id?.system === 'string' ? id.system.toLowerCase() : '';
    if (typeof id?.value === 'string' && system.includes('ods-organization-code')) return id.value;
  }
  return undefined;
}

/**
 * The consumer organisation's ODS code: from the STU3 bearer token (an unsigned JWT whose
 * `requesting_organization` holds it), else from `NHSD-End-User-Organisation` (a base64 FHIR Organization).
 */
export function consumerOrganisation(headers: IncomingHttpHeaders): string | undefined {
  const auth = header(headers, 'authorization');
  const token = auth && /^Bearer\s+(\S+)$/i.exec(auth)?.[1];
  const payload = token?.split('.')[1];
  const fromJwt = payload ? odsFrom(base64UrlJson(payload)?.requesting_organization) : undefined;
  if (fromJwt) return fromJwt;
  const endUser = header(headers, 'nhsd-end-user-organisation');
  if (!endUser) return undefined;
  try {
    return odsFrom(JSON.parse(Buffer.from(endUser, 'base64').toString('utf8')));
  } catch {
    return undefined;
  }
}

function nullableClean(value: string | undefined): string | null {
  return value === undefined ? null : withoutNul(value);
}

/** PostgreSQL text cannot hold NUL: it is removed from every stored string (a consumer can send it). */
export function withoutNul(value: string): string {
  return value.includes('\u0000') ? value.split('\u0000').join('') : value;
}

function storedHeaders(
  headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>,
  rules: RedactionRules,
  hashes: Set<string>,
): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [rawName, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const name = withoutNul(rawName.toLowerCase());
    if (!STORED_HEADERS.has(name)) {
      out[name] = NOT_STORED;
      continue;
    }
    const values = (Array.isArray(value) ? value : [value]).map((v) => {
      if (name !== 'location' && name !== 'content-location') return withoutNul(v);
      // A Location names the resource created: Patient/{NHS number} must not be stored in clear.
      const url = redactUrl(v, rules);
      for (const hash of url.patientHashes) hashes.add(hash);
      return withoutNul(url.value);
    });
    out[name] = Array.isArray(value) ? values : values[0]!;
  }
  return out;
}

/** The most a captured body may inflate to: a small gzip can expand without limit (a zip bomb). */
const MAX_INFLATED_BYTES = 16 * 1024 * 1024;

function decoded(body: Buffer, encoding: string | undefined): Buffer | undefined {
  const limit = { maxOutputLength: MAX_INFLATED_BYTES };
  switch ((encoding ?? 'identity').trim().toLowerCase()) {
    case 'identity':
    case '':
      return body;
    case 'gzip':
    case 'x-gzip':
      return gunzipSync(body, limit);
    case 'deflate':
      return inflateSync(body, limit);
    case 'br':
      return brotliDecompressSync(body, limit);
    default:
      return undefined;
  }
}

const NO_BODY = { body: null, encoding: null } as const;

/**
 * Redacted FHIR JSON text: by the one-pass text redactor, or, for what it leaves (invalid JSON among
 * it), by parsing and walking. Throws when the text is not JSON.
 */
export function redactedJson(text: string, rules: RedactionRules): Redacted<string> {
  const fast = redactJsonText(text, rules);
  if (fast) return fast;
  const walked = redactFhir(JSON.parse(text) as unknown, rules);
  return { value: JSON.stringify(walked.value), patientHashes: walked.patientHashes };
}

/** A tapped body as text (decompressed), for classification; null when there is none or it cannot be read. */
function bodyText(
  tapped: TappedBody,
  headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>,
): string | null {
  if (tapped.size === 0 || tapped.truncated) return null;
  try {
    const only = tapped.chunks.length === 1 ? tapped.chunks[0]! : undefined;
    const raw = only
      ? Buffer.from(only.buffer, only.byteOffset, only.byteLength)
      : Buffer.concat(tapped.chunks);
    return decoded(raw, header(headers, 'content-encoding'))?.toString('utf8') ?? null;
  } catch {
    return null;
  }
}

/** A body as stored, and as derivation reads it (the stored text; null for no body or bytes). */
interface KeptBody {
  stored: StoredBody | typeof NO_BODY;
  text: string | null;
}

const NOTHING_KEPT: KeptBody = { stored: NO_BODY, text: null };

/** A stored body: redacted FHIR JSON; the raw bytes only where the provider opted in; nothing when neither is possible. */
function storedBody(
  tapped: TappedBody,
  headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>,
  rules: RedactionRules,
  fullBodies: boolean,
  hashes: Set<string>,
): KeptBody {
  if (tapped.size === 0) return NOTHING_KEPT;
  // Chunks that crossed to the worker arrive as plain Uint8Arrays: seen as Buffers without a copy.
  const only = tapped.chunks.length === 1 ? tapped.chunks[0]! : undefined;
  const raw = only
    ? Buffer.from(only.buffer, only.byteOffset, only.byteLength)
    : Buffer.concat(tapped.chunks);
  if (fullBodies) {
    const stored = storeBody(raw);
    return { stored, text: stored.encoding === 'br+utf8' ? raw.toString('utf8') : null };
  }
  if (tapped.truncated) return NOTHING_KEPT;
  try {
    const plain = decoded(raw, header(headers, 'content-encoding'));
    if (!plain) return NOTHING_KEPT;
    const redacted = redactedJson(plain.toString('utf8'), rules);
    for (const hash of redacted.patientHashes) hashes.add(hash);
    return { stored: storeBody(redacted.value), text: redacted.value };
  } catch {
    // Not JSON (XML, binary) or not decodable: it cannot be redacted, so it is not kept.
    return NOTHING_KEPT;
  }
}

const at = (base: Date, ms: number | undefined): Date | null =>
  ms === undefined ? null : new Date(base.getTime() + ms);
const round = (ms: number | undefined): number | null =>
  ms === undefined ? null : Math.round(ms * 1000) / 1000;

/**
 * The row stored for an observed exchange, redacted: credentials dropped (the consumer organisation is
 * kept), NHS numbers hashed in the target and bodies, bodies that cannot be redacted left out. Also the
 * patient hashes met, for stitching episodes.
 */
export function exchangeRow(
  observed: CapturableExchange,
  rules: RedactionRules,
): {
  row: NewExchangeRow;
  patientHashes: string[];
  /** The bodies as stored, readable (what `withReadableBodies` gives back from the store). */
  texts: { request: string | null; response: string | null };
} {
  const hashes = new Set<string>();
  const target = redactTarget(observed.path, observed.query, rules);
  for (const hash of target.patientHashes) hashes.add(hash);
  const full = observed.route.provider.captureFullBodies;
  const request = storedBody(observed.requestBody, observed.requestHeaders, rules, full, hashes);
  const response = storedBody(observed.responseBody, observed.responseHeaders, rules, full, hashes);
  const h = (name: string) => nullableClean(header(observed.requestHeaders, name));
  const interaction = classify({
    dialect: observed.route.provider.dialect,
    method: observed.method,
    path: observed.path,
    query: observed.query,
    headers: observed.requestHeaders,
    status: observed.status ?? null,
    request: seenBody(
      bodyText(observed.requestBody, observed.requestHeaders),
      header(observed.requestHeaders, 'content-type'),
    ),
  }).interaction;
  const row: NewExchangeRow = {
    id: observed.id,
    received_at: observed.receivedAt,
    route: observed.route.kind,
    provider_id: observed.route.provider.id,
    dialect: observed.route.provider.dialect,
    interaction,
    method: observed.method,
    path: target.value.path,
    query: target.value.query,
    request_headers: storedHeaders(observed.requestHeaders, rules, hashes),
    request_body: request.stored.body,
    request_body_encoding: request.stored.encoding,
    request_size: observed.requestBody.size,
    request_truncated: observed.requestBody.truncated,
    response_status: observed.status ?? null,
    response_headers: storedHeaders(observed.responseHeaders, rules, hashes),
    response_body: response.stored.body,
    response_body_encoding: response.stored.encoding,
    response_size: observed.responseBody.size,
    response_truncated: observed.responseBody.truncated,
    transport_outcome: observed.outcome,
    consumer_org: nullableClean(consumerOrganisation(observed.requestHeaders)),
    consumer_asid: h('ssp-from'),
    provider_asid: h('ssp-to'),
    trace_id: h('ssp-traceid'),
    correlation_id: h('x-correlation-id'),
    request_id: h('x-request-id'),
    upstream_started_at: at(observed.receivedAt, observed.upstreamStartMs),
    first_byte_at: at(observed.receivedAt, observed.firstByteMs),
    ended_at: at(observed.receivedAt, observed.endMs),
    total_ms: round(observed.endMs),
    upstream_ms:
      observed.upstreamStartMs === undefined ? null : round(observed.endMs - observed.upstreamStartMs),
    patient_hash: [...hashes][0] ?? null,
  };
  return { row, patientHashes: [...hashes], texts: { request: request.text, response: response.text } };
}
