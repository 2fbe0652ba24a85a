import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import type { IncomingHttpHeaders } from 'node:http';
import type { ObservedExchange, TappedBody } from '../proxy/exchange.js';
import type { NewExchangeRow } from '../store/tables/exchange.table.js';
import { redactFhir, redactTarget, type RedactionRules } from './redact.js';

/** Headers never stored: credentials. The consumer organisation is decoded from Authorization first. */
const NEVER_STORED = new Set(['authorization', 'cookie', 'set-cookie', 'proxy-authorization']);

function header(
  headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>,
  name: string,
): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

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

function storedHeaders(
  headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>,
): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !NEVER_STORED.has(name.toLowerCase())) out[name.toLowerCase()] = value;
  }
  return out;
}

function decoded(body: Buffer, encoding: string | undefined): Buffer | undefined {
  switch ((encoding ?? 'identity').trim().toLowerCase()) {
    case 'identity':
    case '':
      return body;
    case 'gzip':
    case 'x-gzip':
      return gunzipSync(body);
    case 'deflate':
      return inflateSync(body);
    case 'br':
      return brotliDecompressSync(body);
    default:
      return undefined;
  }
}

/** A stored body: redacted FHIR JSON; the raw bytes only where the provider opted in; nothing when neither is possible. */
function storedBody(
  tapped: TappedBody,
  headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>,
  rules: RedactionRules,
  fullBodies: boolean,
  hashes: Set<string>,
): { body: string | null; encoding: 'utf8' | 'base64' | null } {
  if (tapped.size === 0) return { body: null, encoding: null };
  const raw = Buffer.concat(tapped.chunks);
  if (fullBodies) {
    const text = raw.toString('utf8');
    return Buffer.from(text, 'utf8').equals(raw)
      ? { body: text, encoding: 'utf8' }
      : { body: raw.toString('base64'), encoding: 'base64' };
  }
  if (tapped.truncated) return { body: null, encoding: null };
  try {
    const plain = decoded(raw, header(headers, 'content-encoding'));
    if (!plain) return { body: null, encoding: null };
    const redacted = redactFhir(JSON.parse(plain.toString('utf8')) as unknown, rules);
    for (const hash of redacted.patientHashes) hashes.add(hash);
    return { body: JSON.stringify(redacted.value), encoding: 'utf8' };
  } catch {
    // Not JSON (XML, binary) or not decodable: it cannot be redacted, so it is not kept.
    return { body: null, encoding: null };
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
  observed: ObservedExchange,
  rules: RedactionRules,
): { row: NewExchangeRow; patientHashes: string[] } {
  const hashes = new Set<string>();
  const target = redactTarget(observed.path, observed.query, rules);
  for (const hash of target.patientHashes) hashes.add(hash);
  const full = observed.route.provider.captureFullBodies;
  const request = storedBody(observed.requestBody, observed.requestHeaders, rules, full, hashes);
  const response = storedBody(observed.responseBody, observed.responseHeaders, rules, full, hashes);
  const h = (name: string) => header(observed.requestHeaders, name) ?? null;
  const row: NewExchangeRow = {
    id: observed.id,
    received_at: observed.receivedAt,
    route: observed.route.kind,
    provider_id: observed.route.provider.id,
    dialect: observed.route.provider.dialect,
    interaction: null,
    method: observed.method,
    path: target.value.path,
    query: target.value.query,
    request_headers: storedHeaders(observed.requestHeaders),
    request_body: request.body,
    request_body_encoding: request.encoding,
    request_size: observed.requestBody.size,
    request_truncated: observed.requestBody.truncated,
    response_status: observed.status ?? null,
    response_headers: storedHeaders(observed.responseHeaders),
    response_body: response.body,
    response_body_encoding: response.encoding,
    response_size: observed.responseBody.size,
    response_truncated: observed.responseBody.truncated,
    transport_outcome: observed.outcome,
    consumer_org: consumerOrganisation(observed.requestHeaders) ?? null,
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
  return { row, patientHashes: [...hashes] };
}
