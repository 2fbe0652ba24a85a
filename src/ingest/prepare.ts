import type { IncomingHttpHeaders } from 'node:http';
import { redactFhir, type RedactionRules } from '../capture/redact.js';
import { consumerOrganisation } from '../capture/exchange-row.js';
import type { ProviderConfig } from '../config/config.types.js';
import { referencedId } from '../derive/correlation-keys.js';
import { odsCode, resolve } from '../fhir/organisations.js';
import { targetService } from '../derive/payload-facts.js';
import { isObject, objects, type Json } from '../fhir/json.js';
import { isValidNhsNumber } from '../fhir/nhs-number.js';
import { header } from '../http/headers.js';
import {
  eventPayload,
  referralResources,
  withoutNulDeep,
  type IngestEvent,
  type IngestPayload,
} from './ingest-events.js';
import { schemaProblems, type IngestProblem, type IngestType } from './ingest.schema.js';

/** The limits and clock an ingest request is judged by. */
export interface IngestLimits {
  now: Date;
  /** An event this far ahead of the collector's clock is refused (clock skew is allowed up to it). */
  maxFutureSeconds: number;
  /** An event that arrives this long after it happened is taken, flagged late. */
  lateAfterMinutes: number;
  /** The configured providers: an event naming another is refused (it would make a phantom in reports). */
  providers: readonly Pick<ProviderConfig, 'id' | 'dosServiceIds'>[];
}

/** One posted event, checked and ready to store. */
export interface PreparedEvent {
  clientId: string;
  type: IngestType;
  occurredAt: Date;
  late: boolean;
  payload: IngestPayload;
}

/** A request's events, or every problem found in them (a batch is taken whole or not at all). */
export type Prepared = { events: PreparedEvent[] } | { problems: IngestProblem[] };

function timing(
  occurredAt: Date,
  limits: IngestLimits,
  path: string,
): { late: boolean; problem?: IngestProblem } {
  const aheadMs = occurredAt.getTime() - limits.now.getTime();
  if (aheadMs > limits.maxFutureSeconds * 1000)
    return {
      late: false,
      problem: {
        path,
        message: `is in the future: more than ${limits.maxFutureSeconds} s ahead of the collector's clock`,
      },
    };
  return { late: -aheadMs > limits.lateAfterMinutes * 60_000 };
}

/**
 * What the schema cannot say: real instants (a format check lets 23:59:60 through), a real NHS number,
 * a configured provider, a chosen service among those ranked, a time not ahead.
 */
function semanticProblems(event: IngestEvent, base: string, limits: IngestLimits): IngestProblem[] {
  const problems: IngestProblem[] = [];
  const at = (field: string) => (base ? `${base}.${field}` : field);
  const instants: [string, string | undefined][] = [
    ['occurredAt', event.occurredAt],
    ['disposition.at', event.disposition?.at],
    ['deadline', event.deadline],
  ];
  for (const [field, value] of instants)
    if (value !== undefined && Number.isNaN(Date.parse(value)))
      problems.push({ path: at(field), message: 'must be a real instant' });
  if (problems.length > 0) return problems;
  const providers: [string, string | undefined][] = [
    ['providerId', event.providerId],
    ['referredTo.providerId', event.referredTo?.providerId],
  ];
  for (const [field, id] of providers)
    if (id !== undefined && !limits.providers.some((p) => p.id === id))
      problems.push({ path: at(field), message: 'is not a configured provider' });
  const nhsNumber = event.correlation?.nhsNumber;
  if (nhsNumber !== undefined && !isValidNhsNumber(nhsNumber))
    problems.push({
      path: at('correlation.nhsNumber'),
      message: 'is not a valid NHS number (its check digit does not match)',
    });
  if (
    event.type === 'service.selected' &&
    !(event.ranked ?? []).some((entry) => entry.serviceId === event.chosenServiceId)
  )
    problems.push({ path: at('chosenServiceId'), message: 'must be one of the ranked services' });
  const { problem } = timing(new Date(event.occurredAt), limits, at('occurredAt'));
  if (problem) problems.push(problem);
  return problems;
}

/**
 * The events of a JSON body: one event, or `{"events": [...]}`. Every event is checked against its
 * schema and the rules above; any problem in any of them refuses the lot, each problem named by its
 * path. NHS numbers are hashed here, before anything else sees them.
 */
export function prepareEvents(body: unknown, limits: IngestLimits, hash: RedactionRules['hash']): Prepared {
  const batch = isObject(body) && 'events' in body && !('type' in body);
  if (batch && (!Array.isArray(body.events) || Object.keys(body).length !== 1))
    return {
      problems: [{ path: 'events', message: 'must be the only field, a list of events' }],
    };
  const list: unknown[] = batch ? (body.events as unknown[]) : [body];
  if (list.length === 0) return { problems: [{ path: 'events', message: 'must hold at least one event' }] };
  const problems: IngestProblem[] = [];
  const firstAt = new Map<string, string>();
  list.forEach((item, i) => {
    const base = batch ? `events[${i}]` : '';
    const found = schemaProblems(item, base);
    if (found.length > 0) {
      problems.push(...found);
      return;
    }
    const event = item as IngestEvent;
    problems.push(...semanticProblems(event, base, limits));
    const earlier = firstAt.get(event.id);
    if (earlier !== undefined) problems.push({ path: `${base}.id`, message: `repeats ${earlier}.id` });
    else firstAt.set(event.id, base);
  });
  if (problems.length > 0) return { problems };
  return {
    events: (list as IngestEvent[]).map((event) => {
      const occurredAt = new Date(event.occurredAt);
      return {
        clientId: event.id,
        type: event.type,
        occurredAt,
        late: timing(occurredAt, limits, '').late,
        payload: eventPayload(event, hash),
      };
    }),
  };
}

function validInstant(value: unknown): Date | undefined {
  if (typeof value !== 'string') return undefined;
  const at = new Date(value);
  return Number.isNaN(at.getTime()) ? undefined : at;
}

/** The ODS code of a message Bundle's sender (MessageHeader.sender, an Organization in the Bundle). */
function senderOds(bundle: Json): string | undefined {
  const entries = objects(bundle.entry);
  const header = entries
    .map((e) => e.resource)
    .find((r) => isObject(r) && r.resourceType === 'MessageHeader');
  return odsCode(resolve(isObject(header) ? header.sender : undefined, entries, 'Organization'));
}

/**
 * The FHIR door: a BaRS referral posted as FHIR (the `servicerequest-request` message Bundle, another
 * Bundle holding the ServiceRequest and its CarePlan, or a ServiceRequest containing its CarePlan)
 * becomes one `referral.made`. Its id is the ServiceRequest's (`ServiceRequest/<id>`), so posting the
 * same referral again counts it once. It is kept redacted as the proxy redacts what it captures.
 */
export function prepareFhirReferral(
  body: unknown,
  headers: IncomingHttpHeaders,
  limits: IngestLimits,
  rules: RedactionRules,
): Prepared {
  if (!isObject(body) || (body.resourceType !== 'Bundle' && body.resourceType !== 'ServiceRequest'))
    return {
      problems: [
        { path: 'resourceType', message: 'must be a Bundle holding a ServiceRequest, or a ServiceRequest' },
      ],
    };
  const resources = referralResources(body);
  const problems: IngestProblem[] = [];
  if (body.resourceType === 'Bundle' && body.type === 'message') {
    const messageHeader = resources.find((r) => r.resourceType === 'MessageHeader');
    const event = isObject(messageHeader?.eventCoding) ? messageHeader.eventCoding.code : undefined;
    if (event !== 'servicerequest-request')
      problems.push({
        path: 'Bundle.entry.resource.ofType(MessageHeader).eventCoding.code',
        message: 'must be servicerequest-request: only referrals come through this door',
      });
  }
  const serviceRequests = resources.filter((r) => r.resourceType === 'ServiceRequest');
  if (serviceRequests.length !== 1)
    problems.push({
      path: body.resourceType === 'Bundle' ? 'Bundle.entry' : 'ServiceRequest',
      message: `must hold exactly one ServiceRequest (found ${serviceRequests.length})`,
    });
  const serviceRequest: Json | undefined = serviceRequests[0];
  // Its id, else the id its Bundle entry's fullUrl gives it (urn:uuid:…), else its first identifier.
  const entry =
    body.resourceType === 'Bundle'
      ? objects(body.entry).find((e) => e.resource === serviceRequest)
      : undefined;
  const id =
    (typeof serviceRequest?.id === 'string' && serviceRequest.id !== '' ? serviceRequest.id : undefined) ??
    (typeof entry?.fullUrl === 'string' ? (referencedId(entry.fullUrl) ?? undefined) : undefined) ??
    objects(serviceRequest?.identifier).find((i) => typeof i.value === 'string')?.value;
  if (serviceRequest && typeof id !== 'string')
    problems.push({ path: 'ServiceRequest.id', message: 'is required: it makes a repeated post count once' });
  const carePlan = resources.find((r) => r.resourceType === 'CarePlan');
  if (!carePlan)
    problems.push({
      path: body.resourceType === 'Bundle' ? 'Bundle.entry' : 'ServiceRequest.contained',
      message: 'must hold the CarePlan: the disposition is in it',
    });
  const occurredAt =
    validInstant(serviceRequest?.authoredOn) ??
    validInstant(
      isObject(serviceRequest?.occurrencePeriod) ? serviceRequest.occurrencePeriod.start : undefined,
    ) ??
    validInstant(isObject(carePlan?.period) ? carePlan.period.start : undefined) ??
    limits.now;
  const { late, problem } = timing(occurredAt, limits, 'ServiceRequest.authoredOn');
  if (problem) problems.push(problem);
  if (problems.length > 0) return { problems };
  const redacted = redactFhir(body, rules);
  const traceId = header(headers, 'ssp-traceid')?.trim();
  const correlationId = header(headers, 'x-correlation-id')?.trim();
  // As on the wire: the service from NHSD-Target-Identifier, the provider serving it, the sender's ODS code.
  const targetServiceId = targetService(headers as Record<string, string | string[]>) ?? undefined;
  const providerId = targetServiceId
    ? limits.providers.find((p) => p.dosServiceIds.includes(targetServiceId))?.id
    : undefined;
  const consumerOrg = consumerOrganisation(headers) ?? senderOds(body);
  return {
    events: [
      {
        clientId: `ServiceRequest/${id as string}`,
        type: 'referral.made',
        occurredAt,
        late,
        payload: {
          kind: 'fhir',
          resource: withoutNulDeep(redacted.value),
          headers: {
            ...(traceId ? { traceId } : {}),
            ...(correlationId ? { correlationId } : {}),
            ...(targetServiceId ? { targetServiceId } : {}),
          },
          ...(providerId ? { providerId } : {}),
          ...(consumerOrg ? { consumerOrg: withoutNulDeep(consumerOrg) } : {}),
          patientHash: redacted.patientHashes[0] ?? null,
        },
      },
    ],
  };
}
