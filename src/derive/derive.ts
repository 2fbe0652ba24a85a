import { entryResources, isObject } from '../fhir/json.js';
import { header } from '../http/headers.js';
import { createHash } from 'node:crypto';
import { classify, seenBody, type Dialect, type SeenBody } from '../fhir/classify.js';
import { registeredPractice } from '../fhir/organisations.js';
import type { NewEventRow } from '../store/tables/event.table.js';
import { bookingOutcome } from './booking-outcome.js';
import { conformanceOf } from './conformance.js';
import { correlationKeys } from './correlation-keys.js';
import {
  appointmentIn,
  BARS_USE_CASES,
  bookedStart,
  codes,
  referralFacts,
  targetService,
} from './payload-facts.js';
import { deadlineOf } from './dispositions.js';
import { slotSearchFacts, withBreach } from './slot-search.js';
import type { DerivationTables } from './tables.js';

/**
 * The version of these rules, stored on every event: events are rebuilt (`npm run reprocess`) when it
 * or the tables change, and a rebuild under one version gives the same events, with the same ids.
 */
export const RULE_VERSION = '2026-11-22.4';

/** A stored exchange with its bodies readable (see stored-body.ts), as derivation takes it. */
export interface DerivableExchange {
  id: string;
  received_at: Date | string;
  provider_id: string | null;
  dialect: string | null;
  method: string;
  path: string;
  query: string | null;
  request_headers: Record<string, string | string[]>;
  request_body: string | Buffer | null;
  response_status: number | null;
  response_headers: Record<string, string | string[]>;
  response_body: string | Buffer | null;
  transport_outcome: string;
  /** Whether the provider's answer began (a first byte arrived): otherwise the collector answered. */
  provider_answered: boolean;
  /** Milliseconds from the forward's start to the provider's answer ending (absent: not known). */
  upstream_ms?: number | null;
  consumer_org: string | null;
  patient_hash: string | null;
}

function seen(body: string | Buffer | null, contentType: string | undefined): SeenBody {
  if (body === null) return { kind: 'none' };
  return seenBody(typeof body === 'string' ? body : null, contentType);
}

function json(body: SeenBody): unknown {
  return body.kind === 'json' ? body.value : undefined;
}

/** An appointment id: from the path, the Location header, or the response's Appointment. */
function appointmentId(exchange: DerivableExchange, response: unknown): string | null {
  const fromPath = /\/Appointment\/([^/?]+)/.exec(exchange.path)?.[1];
  if (fromPath) {
    try {
      return decodeURIComponent(fromPath);
    } catch {
      return fromPath; // not valid percent-encoding: kept as sent
    }
  }
  const location = header(exchange.response_headers, 'location');
  const fromLocation = location && /Appointment\/([^/?]+)/.exec(location)?.[1];
  if (fromLocation) return fromLocation;
  const appointment = appointmentIn(response);
  return typeof appointment?.id === 'string' ? appointment.id : null;
}

/** A stable event id from the exchange, the rule version and the event's place among the exchange's events. */
export function eventId(sourceId: string, ordinal: number): string {
  const hex = createHash('sha256').update(`${sourceId}|${RULE_VERSION}|${ordinal}`).digest('hex');
  // A UUID of version 8 (RFC 9562: custom), variant 10.
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16)}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/**
 * The metric events one exchange gives (DESIGN.md, event taxonomy): `slot.searched`,
 * `booking.attempted` (with its outcome), `booking.cancelled`, `appointment.updated`, `appointment.read`,
 * `appointments.listed`, `referral.made`, `capability.read`. Pure: the same exchange, tables and rule
 * version always give the same events, ids included. Episodes and re-bookings are stitched afterwards,
 * across exchanges.
 */
export function deriveEvents(exchange: DerivableExchange, tables: DerivationTables): NewEventRow[] {
  const request = seen(exchange.request_body, header(exchange.request_headers, 'content-type'));
  const response = seen(exchange.response_body, header(exchange.response_headers, 'content-type'));
  const classification = classify({
    dialect: (exchange.dialect as Dialect | null) ?? null,
    method: exchange.method,
    path: exchange.path,
    query: exchange.query,
    headers: exchange.request_headers,
    status: exchange.response_status,
    request,
    response,
  });
  const status = exchange.response_status;
  const succeeded = exchange.transport_outcome === 'ok' && status !== null && status >= 200 && status < 300;
  const base = {
    occurred_at: new Date(exchange.received_at),
    source_kind: 'exchange' as const,
    source_id: exchange.id,
    rule_version: RULE_VERSION,
    provider_id: exchange.provider_id,
    service_id: targetService(exchange.request_headers),
    consumer_org: exchange.consumer_org,
    disposition: null as string | null,
    deadline: null as Date | null,
    deadline_source: null as string | null,
    episode_id: null,
    patient_hash: exchange.patient_hash,
  };
  const flags: string[] = [...classification.dataQuality];
  // The patient's registered practice, when the request names it (a BaRS message, a contained Patient).
  const practice = registeredPractice(json(request));
  // What the exchange says of its provider, told once (on its first event): the upstream latency and
  // whether the response follows the standard.
  const conformance = conformanceOf({
    interaction: classification.interaction,
    dialect: classification.dialect,
    status,
    providerAnswered: exchange.provider_answered,
    response: json(response),
    responseBody: response.kind === 'json' ? 'json' : response.kind === 'none' ? 'none' : 'other',
    location: header(exchange.response_headers, 'location'),
  });
  const event = (
    type: string,
    attributes: Record<string, unknown>,
    extra: Partial<typeof base> = {},
    ordinal = 0,
  ): NewEventRow => ({
    id: eventId(exchange.id, ordinal),
    ordinal,
    type,
    ...base,
    ...extra,
    attributes: {
      interaction: classification.interaction,
      status,
      transport: exchange.transport_outcome,
      succeeded,
      ...(ordinal === 0 ? { upstreamMs: exchange.upstream_ms ?? null, conformance } : {}),
      ...(practice ? { practice } : {}),
      ...attributes,
    },
    data_quality: [...new Set(flags)],
    correlation_keys: correlationKeys({
      provider: exchange.provider_id,
      headers: exchange.request_headers,
      request: json(request),
      appointmentId: typeof attributes.appointmentId === 'string' ? attributes.appointmentId : null,
    }),
  });

  switch (classification.interaction) {
    case 'slot-search': {
      const facts = slotSearchFacts({
        provider: exchange.provider_id ?? '',
        query: exchange.query,
        body: json(response),
      });
      const windowTo = facts.window.to ? new Date(facts.window.to) : null;
      const deadline = deadlineOf({ windowTo }, tables.dispositions, tables.bankHolidays);
      flags.push(...deadline.flags);
      const marked = withBreach(facts, deadline.deadline);
      return [
        event(
          'slot.searched',
          {
            offered: marked.slots.length,
            slots: marked.slots,
            earliestStart: marked.earliestStart,
            window: marked.window,
            // Whether it offered nothing: asked of searches that were answered, not of failures.
            empty: succeeded ? marked.empty : null,
            ...(marked.outcome ? { outcome: marked.outcome } : {}),
            ...(marked.unreadableSlots > 0 ? { unreadableSlots: marked.unreadableSlots } : {}),
          },
          {
            service_id: base.service_id ?? facts.service,
            deadline: deadline.deadline,
            deadline_source: deadline.source,
          },
        ),
      ];
    }
    case 'book': {
      const outcome = bookingOutcome({
        dialect: classification.dialect,
        status,
        transport: exchange.transport_outcome,
        providerAnswered: exchange.provider_answered,
        body: json(response),
      });
      if (outcome.incomplete) flags.push('response-incomplete');
      const start = bookedStart(json(request));
      const appointment = appointmentIn(json(request));
      const useCases = codes(appointment?.serviceCategory, BARS_USE_CASES);
      const booked = outcome.outcome === 'booked' ? appointmentId(exchange, json(response)) : null;
      // An Appointment that says which one it replaces (BaRS `replaces`): a re-booking, told by the wire.
      const replaces = (Array.isArray(appointment?.replaces) ? (appointment.replaces as unknown[]) : [])
        .map((r) => (isObject(r) && typeof r.reference === 'string' ? r.reference : null))
        .filter((r): r is string => r !== null);
      const attempted = event('booking.attempted', {
        outcome: outcome.outcome,
        issueCodes: outcome.issueCodes,
        detailCodes: outcome.detailCodes,
        ...(outcome.raisedBy ? { raisedBy: outcome.raisedBy } : {}),
        ...(outcome.diagnostics ? { diagnostics: outcome.diagnostics } : {}),
        appointmentId: booked,
        slotStart: start?.toISOString() ?? null,
        ...(useCases.length > 0 ? { useCase: useCases[0] } : {}),
        ...(replaces.length > 0 ? { replaces } : {}),
      });
      if (outcome.outcome !== 'booked' || replaces.length === 0) return [attempted];
      return [
        attempted,
        event('booking.rebooked', { appointmentId: booked, replaces, how: 'replaces' }, {}, 1),
      ];
    }
    case 'cancel':
      return [
        event('booking.cancelled', {
          appointmentId: appointmentId(exchange, json(request)) ?? appointmentId(exchange, json(response)),
          appointmentStatus: classification.appointmentStatus ?? null,
        }),
      ];
    case 'update':
      return [
        event('appointment.updated', {
          appointmentId: appointmentId(exchange, json(request)) ?? appointmentId(exchange, json(response)),
          appointmentStatus: classification.appointmentStatus ?? null,
        }),
      ];
    case 'read-appointment':
      return [event('appointment.read', { appointmentId: appointmentId(exchange, json(response)) })];
    case 'list-appointments': {
      const listed = entryResources(json(response)).filter((r) => r.resourceType === 'Appointment').length;
      return [event('appointments.listed', { listed })];
    }
    case 'capability':
      return [event('capability.read', {})];
    case 'referral': {
      const referral = referralFacts(entryResources(json(request)), tables, practice);
      flags.push(...referral.flags);
      return [event('referral.made', referral.attributes, referral.columns)];
    }
    default:
      return [];
  }
}
