import { registeredPractice } from '../fhir/organisations.js';
import { correlationKey, correlationKeys, type KeyKind } from '../derive/correlation-keys.js';
import { eventId, RULE_VERSION } from '../derive/derive.js';
import { referralFacts } from '../derive/payload-facts.js';
import { deadlineOf } from '../derive/dispositions.js';
import type { DerivationTables } from '../derive/tables.js';
import { entryResources, isObject, objects, type Json } from '../fhir/json.js';
import { isValidNhsNumber } from '../fhir/nhs-number.js';
import { withoutNul } from '../capture/exchange-row.js';
import { HASH_PREFIX } from '../capture/redact.js';
import type { PatientHasher } from '../privacy/patient-hash.js';
import type { NewEventRow } from '../store/tables/event.table.js';
import type { IngestType } from './ingest.schema.js';

/*
 * Off-wire events as stored (an ingest record's payload) and the metric events derived from them. Pure,
 * like the wire's derivation: `npm run reprocess` can rebuild them after a rule or table changes.
 */

/** The keys an event may carry to join the wire's (the schema's `correlation`). */
export interface IngestCorrelation {
  traceId?: string;
  correlationId?: string;
  caseId?: string;
  documentId?: string;
  nhsNumber?: string;
}

/** A posted event that passed its schema (ingest.schema.ts). */
export interface IngestEvent {
  id: string;
  type: IngestType;
  occurredAt: string;
  correlation?: IngestCorrelation;
  consumerOrg?: string;
  disposition?: { code: string; at?: string };
  deadline?: string;
  referredTo?: { serviceId: string; providerId?: string };
  ranked?: { serviceId: string; bookable: boolean }[];
  chosenServiceId?: string;
  where?: string;
  message?: string;
  code?: string;
  providerId?: string;
  serviceId?: string;
}

/**
 * What an ingest record keeps: the event as posted, with the NHS number replaced by its keyed hash
 * (`patientHash`); or, from the FHIR door, the referral's resources redacted as the proxy redacts them,
 * with the correlation headers it came with.
 */
export type IngestPayload =
  | {
      kind: 'event';
      event: Omit<IngestEvent, 'correlation'> & { correlation?: Omit<IngestCorrelation, 'nhsNumber'> };
      patientHash: string | null;
    }
  | {
      kind: 'fhir';
      resource: Json;
      /** The call keys it came with, and the DoS service it was for (NHSD-Target-Identifier). */
      headers: { traceId?: string; correlationId?: string; targetServiceId?: string };
      /** The configured provider serving that service, and the sender's ODS code, when known. */
      providerId?: string;
      consumerOrg?: string;
      patientHash: string | null;
    };

/** An ingest record as derivation reads it. */
export interface IngestRecord {
  id: string;
  type: string;
  occurred_at: Date | string;
  late: boolean;
  payload: IngestPayload;
}

const NHS_NUMBER_IN_TEXT = /(?<![0-9])[0-9]{3}[ -]?[0-9]{3}[ -]?[0-9]{4}(?![0-9])/g;

/** Free text with every valid NHS number in it replaced by its keyed hash. */
export function withHashedNhsNumbers(text: string, hash: PatientHasher): string {
  return text.replace(NHS_NUMBER_IN_TEXT, (found) =>
    isValidNhsNumber(found) ? `${HASH_PREFIX}${hash(found)}` : found,
  );
}

/** A UTF-16 surrogate without its other half: JSON allows it, PostgreSQL's jsonb does not. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * A JSON value as PostgreSQL can keep it: NUL removed from every string, a lone surrogate replaced by
 * U+FFFD (text and jsonb hold neither).
 */
export function withoutNulDeep<T>(value: T): T {
  return JSON.parse(
    JSON.stringify(value, (_key, v: unknown) =>
      typeof v === 'string' ? withoutNul(v).replace(LONE_SURROGATE, '\uFFFD') : v,
    ),
  ) as T;
}

/** A posted event as its record keeps it: the NHS number hashed, out of the event itself. */
export function eventPayload(posted: IngestEvent, hash: PatientHasher): IngestPayload {
  const event = withoutNulDeep(posted);
  const { nhsNumber, ...keys } = event.correlation ?? {};
  const kept: IngestEvent = { ...event };
  if (event.correlation) kept.correlation = keys;
  // Free text: an NHS number in it is hashed like any other.
  if (event.message !== undefined) kept.message = withHashedNhsNumbers(event.message, hash);
  if (event.code !== undefined) kept.code = withHashedNhsNumbers(event.code, hash);
  return { kind: 'event', event: kept, patientHash: nhsNumber ? hash(nhsNumber) : null };
}

function keysOf(correlation: Omit<IngestCorrelation, 'nhsNumber'> | undefined): string[] {
  const keys = new Set<string>();
  const add = (kind: KeyKind, value: string | undefined) => {
    // As the wire's keys are written (correlation-keys.ts): trimmed, without case.
    const trimmed = value?.trim();
    if (trimmed) keys.add(correlationKey(kind, trimmed.toLowerCase()));
  };
  add('trace', correlation?.traceId);
  add('correlation', correlation?.correlationId);
  add('case', correlation?.caseId);
  add('document', correlation?.documentId);
  return [...keys].sort();
}

const instantOrNull = (value: string | undefined): Date | null => {
  if (!value) return null;
  const at = new Date(value);
  return Number.isNaN(at.getTime()) ? null : at;
};

/** The resources of a referral posted to the FHIR door: a Bundle's entries, or a ServiceRequest and what it contains. */
export function referralResources(resource: Json): Json[] {
  if (resource.resourceType === 'Bundle') return entryResources(resource);
  return [resource, ...objects(resource.contained)];
}

/**
 * The metric event an ingest record gives (one each): `referral.made`, `service.selected` or
 * `consumer.error`, with the same columns, keys and flags as the wire's events, so they join the same
 * episodes and count in the same reports. A record that arrived late is flagged `ingested-late`.
 */
export function ingestEvents(record: IngestRecord, tables: DerivationTables): NewEventRow[] {
  const payload = record.payload;
  const flags: string[] = record.late ? ['ingested-late'] : [];
  const base = {
    id: eventId(record.id, 0),
    ordinal: 0,
    occurred_at: new Date(record.occurred_at),
    source_kind: 'ingest' as const,
    source_id: record.id,
    rule_version: RULE_VERSION,
    episode_id: null,
    patient_hash: payload.patientHash,
  };
  if (payload.kind === 'fhir') {
    const referral = referralFacts(
      referralResources(payload.resource),
      tables,
      registeredPractice(payload.resource),
    );
    const headers = {
      ...(payload.headers.traceId ? { 'ssp-traceid': payload.headers.traceId } : {}),
      ...(payload.headers.correlationId ? { 'x-correlation-id': payload.headers.correlationId } : {}),
    };
    return [
      {
        ...base,
        type: 'referral.made',
        provider_id: payload.providerId ?? null,
        service_id: payload.headers.targetServiceId ?? null,
        consumer_org: payload.consumerOrg ?? null,
        ...referral.columns,
        // A referral the consumer says was made: counted as the wire's accepted referrals are.
        attributes: { ...referral.attributes, succeeded: true, via: 'fhir' },
        data_quality: [...new Set([...flags, ...referral.flags])],
        correlation_keys: correlationKeys({
          provider: null,
          headers,
          request: payload.resource,
          appointmentId: null,
        }),
      },
    ];
  }
  const event = payload.event;
  const columns = {
    provider_id: event.referredTo?.providerId ?? event.providerId ?? null,
    service_id: null as string | null,
    consumer_org: event.consumerOrg ?? null,
    disposition: null as string | null,
    deadline: null as Date | null,
    deadline_source: null as string | null,
  };
  let attributes: Record<string, unknown> = {};
  if (event.disposition) {
    const row = tables.dispositions.get(event.disposition.code);
    // The table's spelling when the code is known (Dx codes arrive as DX02 or Dx02).
    columns.disposition = row?.code ?? event.disposition.code;
    if (!row) flags.push('disposition-unknown');
  }
  switch (event.type) {
    case 'referral.made': {
      const dispositionAt = instantOrNull(event.disposition?.at);
      const deadline = deadlineOf(
        {
          occurrenceEnd: instantOrNull(event.deadline),
          disposition: event.disposition?.code ?? null,
          dispositionAt,
        },
        tables.dispositions,
        tables.bankHolidays,
      );
      flags.push(...deadline.flags);
      columns.deadline = deadline.deadline;
      columns.deadline_source = deadline.source;
      columns.service_id = event.referredTo?.serviceId ?? null;
      attributes = {
        dispositionAt: dispositionAt?.toISOString() ?? null,
        referredAt: new Date(event.occurredAt).toISOString(),
        useCase: null,
        category: null,
        succeeded: true,
        via: 'api',
      };
      break;
    }
    case 'service.selected': {
      const ranked = event.ranked ?? [];
      const chosenRank = ranked.findIndex((entry) => entry.serviceId === event.chosenServiceId) + 1;
      const topBookable = ranked[0]?.bookable === true;
      columns.service_id = event.chosenServiceId ?? null;
      attributes = {
        ranked,
        chosenServiceId: event.chosenServiceId ?? null,
        chosenRank: chosenRank > 0 ? chosenRank : null,
        topBookable,
        // rep-cons-05: the first-ranked service was bookable and another was chosen.
        topBookableRejected: topBookable && chosenRank !== 1,
      };
      break;
    }
    case 'consumer.error':
      columns.service_id = event.serviceId ?? null;
      attributes = { where: event.where ?? null, message: event.message ?? null, code: event.code ?? null };
      break;
  }
  return [
    {
      ...base,
      type: event.type,
      ...columns,
      attributes,
      data_quality: [...new Set(flags)],
      correlation_keys: keysOf(event.correlation),
    },
  ];
}

/** Whether a value is an ingest payload this version wrote (reprocessing reads records back). */
export function isIngestPayload(value: unknown): value is IngestPayload {
  return isObject(value) && (value.kind === 'event' || value.kind === 'fhir');
}
