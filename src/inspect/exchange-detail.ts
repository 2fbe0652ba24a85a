import { readStoredBody } from '../capture/stored-body.js';
import type { EventRow } from '../store/tables/event.table.js';
import { headerValue, iso, targetOf, type StoredExchange } from './stored-exchange.js';

/** A derived event as inspection shows it. */
export function eventJson(e: EventRow) {
  return {
    id: e.id,
    type: e.type,
    occurredAt: iso(e.occurred_at),
    provider: e.provider_id,
    service: e.service_id,
    consumer: e.consumer_org,
    disposition: e.disposition,
    deadline: iso(e.deadline),
    deadlineSource: e.deadline_source,
    episode: e.episode_id,
    encounter: e.encounter_id,
    attributes: e.attributes,
    dataQuality: e.data_quality,
    ruleVersion: e.rule_version,
    source: { kind: e.source_kind, id: e.source_id },
  };
}

/** A stored body as inspection shows it: text as text, bytes (an opted-in binary body) as base64. */
function bodyJson(
  body: Uint8Array | null,
  encoding: string | null,
  headers: Record<string, string | string[]>,
  size: number | string,
  truncated: boolean,
) {
  const read = readStoredBody(body, encoding);
  return {
    contentType: headerValue(headers, 'content-type') ?? null,
    /** The size on the wire, in bytes. */
    size: Number(size),
    /** Whether the capture limit cut what was kept. */
    truncated,
    ...(typeof read === 'string'
      ? { text: read }
      : read
        ? { base64: read.toString('base64') }
        : { text: null }),
  };
}

/** One exchange as `GET /api/exchanges/{id}` answers: request, response, timings, events, episodes. */
export function exchangeDetail(x: StoredExchange, events: EventRow[]) {
  const episodes = [...new Set(events.map((e) => e.episode_id).filter((e): e is string => e !== null))];
  return {
    id: x.id,
    receivedAt: iso(x.received_at),
    route: x.route,
    provider: x.provider_id,
    dialect: x.dialect,
    interaction: x.interaction,
    consumer: { organisation: x.consumer_org, asid: x.consumer_asid },
    providerAsid: x.provider_asid,
    traceId: x.trace_id,
    correlationId: x.correlation_id,
    requestId: x.request_id,
    transport: x.transport_outcome,
    timings: {
      receivedAt: iso(x.received_at),
      upstreamStartedAt: iso(x.upstream_started_at),
      firstByteAt: iso(x.first_byte_at),
      endedAt: iso(x.ended_at),
      totalMs: x.total_ms,
      upstreamMs: x.upstream_ms,
    },
    request: {
      method: x.method,
      path: targetOf(x),
      headers: x.request_headers,
      body: bodyJson(
        x.request_body,
        x.request_body_encoding,
        x.request_headers,
        x.request_size,
        x.request_truncated,
      ),
    },
    response: {
      status: x.response_status,
      headers: x.response_headers,
      body: bodyJson(
        x.response_body,
        x.response_body_encoding,
        x.response_headers,
        x.response_size,
        x.response_truncated,
      ),
    },
    events: events.map(eventJson),
    episodes: episodes.map((id) => ({ id, href: `/api/episodes/${id}` })),
    har: `/api/exchanges.har?id=${x.id}`,
  };
}
