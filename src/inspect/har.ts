import { STATUS_CODES } from 'node:http';
import { readStoredBody } from '../capture/stored-body.js';
import type { ProviderConfig } from '../config/config.types.js';
import { headerValue, type StoredExchange } from './stored-exchange.js';

/*
 * HAR 1.2 (http://www.softwareishard.com/blog/har-12-spec/), the format browser dev tools, proxies and
 * API tools import. An entry is an exchange as the collector stored it: the provider's URL, the stored
 * (redacted) headers and bodies, and the collector's timings split into HAR's phases. What HAR has no
 * field for (the exchange id, its interaction, the transport outcome, truncation) goes in fields whose
 * names start with `_`, which the format reserves for such use.
 */

interface HarNameValue {
  name: string;
  value: string;
}

/** The provider's URL the exchange went to: its base URL's origin and the upstream path as sent. */
export function exchangeUrl(x: StoredExchange, providers: ReadonlyMap<string, ProviderConfig>): string {
  const provider = x.provider_id ? providers.get(x.provider_id) : undefined;
  let origin = `http://${(x.provider_id ?? 'unknown-provider').replace(/[^A-Za-z0-9.-]/g, '-')}.invalid`;
  if (provider) {
    try {
      origin = new URL(provider.baseUrl).origin;
    } catch {
      // A base URL that is not one keeps the placeholder origin.
    }
  }
  return `${origin}${x.path.startsWith('/') ? '' : '/'}${x.path}${x.query ? `?${x.query}` : ''}`;
}

function headerList(headers: Record<string, string | string[]>): HarNameValue[] {
  return Object.entries(headers ?? {}).flatMap(([name, value]) =>
    (Array.isArray(value) ? value : [value]).map((v) => ({ name, value: String(v) })),
  );
}

function queryList(query: string | null): HarNameValue[] {
  if (!query) return [];
  return query.split('&').map((pair) => {
    const eq = pair.indexOf('=');
    const decode = (text: string) => {
      try {
        return decodeURIComponent(text.replace(/\+/g, ' '));
      } catch {
        return text;
      }
    };
    return eq < 0
      ? { name: decode(pair), value: '' }
      : { name: decode(pair.slice(0, eq)), value: decode(pair.slice(eq + 1)) };
  });
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/** Milliseconds from `from` to `to`, never negative (a clock step must not make a phase negative). */
function between(from: Date | string | null, to: Date | string | null): number | undefined {
  if (from === null || to === null) return undefined;
  return Math.max(0, round(new Date(to).getTime() - new Date(from).getTime()));
}

function bodyNote(truncated: boolean, stored: boolean): string | undefined {
  if (truncated) return 'cut at the capture limit: the body kept is the start of what was sent';
  if (stored) return 'as stored by the collector (redacted unless the provider opted in to full bodies)';
  return undefined;
}

/** One exchange as a HAR 1.2 entry. */
export function harEntry(x: StoredExchange, providers: ReadonlyMap<string, ProviderConfig>) {
  const requestBody = readStoredBody(x.request_body, x.request_body_encoding);
  const responseBody = readStoredBody(x.response_body, x.response_body_encoding);
  // Phases: the collector's own part before the forward, the provider's wait to first byte, the rest.
  // The durations are the microsecond ones measured; the instants only split the provider's part.
  const total = x.total_ms ?? between(x.received_at, x.ended_at) ?? 0;
  const upstream = x.upstream_ms ?? between(x.upstream_started_at, x.ended_at);
  const blocked = upstream === undefined ? undefined : round(Math.max(0, total - upstream));
  const wait =
    upstream === undefined
      ? total
      : Math.min(upstream, between(x.upstream_started_at, x.first_byte_at) ?? upstream);
  const receive = upstream === undefined ? 0 : round(upstream - wait);
  const time = round((blocked ?? 0) + wait + receive);
  const answered = x.response_status !== null;
  const requestNote = [
    // HAR has no encoding field for a request body: say so where bytes are given as base64.
    ...(Buffer.isBuffer(requestBody) ? ['base64 of the bytes sent (not text)'] : []),
    bodyNote(x.request_truncated, requestBody !== null),
  ]
    .filter((note) => note !== undefined)
    .join('; ');
  const responseNote = bodyNote(x.response_truncated, responseBody !== null);
  const location = x.response_headers?.location;
  return {
    startedDateTime: new Date(x.received_at).toISOString(),
    time,
    request: {
      method: x.method,
      url: exchangeUrl(x, providers),
      httpVersion: 'HTTP/1.1',
      cookies: [],
      headers: headerList(x.request_headers),
      queryString: queryList(x.query),
      ...(requestBody !== null
        ? {
            postData: {
              mimeType: headerValue(x.request_headers, 'content-type') ?? 'application/octet-stream',
              text: typeof requestBody === 'string' ? requestBody : requestBody.toString('base64'),
              ...(requestNote ? { comment: requestNote } : {}),
            },
          }
        : {}),
      headersSize: -1,
      bodySize: Number(x.request_size),
    },
    response: {
      status: x.response_status ?? 0,
      statusText: answered ? (STATUS_CODES[x.response_status!] ?? '') : '',
      httpVersion: answered ? 'HTTP/1.1' : '',
      cookies: [],
      headers: headerList(x.response_headers),
      content: {
        size: Number(x.response_size),
        mimeType:
          headerValue(x.response_headers, 'content-type') ??
          (answered ? 'application/octet-stream' : 'x-unknown'),
        ...(responseBody === null
          ? {}
          : typeof responseBody === 'string'
            ? { text: responseBody }
            : { text: responseBody.toString('base64'), encoding: 'base64' }),
        ...(responseNote ? { comment: responseNote } : {}),
      },
      redirectURL: typeof location === 'string' ? location : '',
      headersSize: -1,
      bodySize: answered ? Number(x.response_size) : -1,
      ...(answered ? {} : { comment: `no response: ${x.transport_outcome}` }),
    },
    cache: {},
    timings: {
      blocked: blocked ?? -1,
      dns: -1,
      connect: -1,
      ssl: -1,
      send: 0,
      wait,
      receive,
    },
    _exchangeId: x.id,
    _route: x.route,
    _provider: x.provider_id,
    _dialect: x.dialect,
    _interaction: x.interaction,
    _transport: x.transport_outcome,
    _consumerOrganisation: x.consumer_org,
    _inspect: `/api/exchanges/${x.id}`,
  };
}

/** The opening of a HAR log, up to its first entry: entries follow, comma-separated, then `harClose`. */
export function harOpen(version: string): string {
  const creator = { name: 'booking-event-collector', version };
  return `{"log":{"version":"1.2","creator":${JSON.stringify(creator)},"pages":[],"entries":[`;
}

/** The end of a HAR log, with a comment saying what it holds (and whether a limit cut it short). */
export function harClose(comment: string): string {
  return `],"comment":${JSON.stringify(comment)}}}`;
}
