import type { Request } from 'express';
import { sql, type RawBuilder } from 'kysely';
import { INTERACTION_KINDS } from '../fhir/classify.js';
import { isValidNhsNumber } from '../fhir/nhs-number.js';
import { badRequest } from '../fhir/operation-outcome.js';
import { boundOf, param, UUID } from '../http/query-params.js';
import type { PatientHasher } from '../privacy/patient-hash.js';
import type { BookingOutcome } from '../derive/booking-outcome.js';
import { bound, type Bound } from '../reports/report-query.js';
import type { TransportOutcome } from '../store/tables/exchange.table.js';

const DIALECTS = ['stu3', 'bars', 'gpconnect'] as const;
const TRANSPORT_OUTCOMES: readonly TransportOutcome[] = [
  'ok',
  'timeout',
  'reset',
  'refused',
  'client_aborted',
];
const BOOKING_OUTCOMES: readonly BookingOutcome[] = [
  'booked',
  'slot_unavailable',
  'duplicate',
  'rejected',
  'unauthorised',
  'provider_error',
  'transport_error',
  'unclassified',
];

/** What an inspection list is narrowed by: every filter given must hold (all are optional). */
export interface ExchangeFilters {
  /** One exchange (a HAR of it alone). */
  id?: string;
  /** Received from (inclusive) … */
  from?: Bound;
  /** … to (exclusive). */
  to?: Bound;
  provider?: string;
  dialect?: string;
  interaction?: string;
  /** An exact status (`422`) or a class (`4` for `4xx`). */
  status?: { exact: number } | { class: number };
  /** The outcome of the booking the exchange attempted (its `booking.attempted` event). */
  outcome?: string;
  transport?: string;
  /** The consumer organisation's ODS code. */
  consumer?: string;
  /** A trace id (`Ssp-TraceID`), correlation id (`X-Correlation-Id`) or request id (`X-Request-Id`). */
  correlation?: string;
  /** An episode: the exchanges stitched into it (the stitcher sets each exchange's episode). */
  episode?: string;
  /** The keyed hash of the patient's NHS number (the caller gives the number; it is hashed here). */
  patientHash?: string;
  /** Free text, found (case-insensitively) in the stored, redacted path, headers and bodies. */
  text?: string;
}

/** The query parameters an inspection list takes, besides `limit` and `cursor`. */
export const FILTER_PARAMS = [
  'id',
  'from',
  'to',
  'provider',
  'dialect',
  'interaction',
  'status',
  'outcome',
  'transport',
  'consumer',
  'correlation',
  'episode',
  'nhsNumber',
  'q',
] as const;

function oneOf(value: string | undefined, allowed: readonly string[], name: string): string | undefined {
  if (value !== undefined && !allowed.includes(value))
    throw badRequest(`${name} must be one of ${allowed.join(', ')}`, name);
  return value;
}

function statusOf(value: string): ExchangeFilters['status'] {
  if (/^[1-5]xx$/i.test(value)) return { class: Number(value[0]) };
  if (/^[1-5]\d\d$/.test(value)) return { exact: Number(value) };
  throw badRequest('status must be a status (422) or a class (4xx)', 'status');
}

/** The filters a request asks for, each checked (400 naming the parameter otherwise). */
export function filtersOf(req: Request, hash: PatientHasher): ExchangeFilters {
  const filters: ExchangeFilters = {};
  const text = (name: string): string | undefined => {
    const value = param(req, name)?.trim();
    if (value === '') throw badRequest(`${name} is empty`, name);
    if (value !== undefined && value.length > 200) throw badRequest(`${name} is too long`, name);
    return value;
  };
  const id = text('id');
  if (id !== undefined) {
    if (!UUID.test(id)) throw badRequest('id must be an exchange id (a UUID)', 'id');
    filters.id = id.toLowerCase();
  }
  const from = text('from');
  const to = text('to');
  if (from !== undefined) filters.from = boundOf(from, 'from');
  if (to !== undefined) filters.to = boundOf(to, 'to');
  const provider = text('provider');
  if (provider !== undefined) filters.provider = provider;
  const dialect = oneOf(text('dialect'), DIALECTS, 'dialect');
  if (dialect !== undefined) filters.dialect = dialect;
  const interaction = oneOf(text('interaction'), INTERACTION_KINDS, 'interaction');
  if (interaction !== undefined) filters.interaction = interaction;
  const status = text('status');
  if (status !== undefined) filters.status = statusOf(status);
  const outcome = oneOf(text('outcome'), BOOKING_OUTCOMES, 'outcome');
  if (outcome !== undefined) filters.outcome = outcome;
  const transport = oneOf(text('transport'), TRANSPORT_OUTCOMES, 'transport');
  if (transport !== undefined) filters.transport = transport;
  const consumer = text('consumer');
  if (consumer !== undefined) filters.consumer = consumer;
  const correlation = text('correlation');
  if (correlation !== undefined) filters.correlation = correlation;
  const episode = text('episode');
  if (episode !== undefined) {
    if (!UUID.test(episode)) throw badRequest('episode must be an episode id (a UUID)', 'episode');
    filters.episode = episode.toLowerCase();
  }
  const nhsNumber = text('nhsNumber')?.replace(/[\s-]/g, '');
  if (nhsNumber !== undefined) {
    if (!isValidNhsNumber(nhsNumber)) throw badRequest('nhsNumber is not a valid NHS number', 'nhsNumber');
    filters.patientHash = hash(nhsNumber);
  }
  const q = text('q');
  if (q !== undefined) {
    if (q.length < 3) throw badRequest('q must have at least 3 characters', 'q');
    filters.text = q;
  }
  return filters;
}

/** The period's bounds on a time column (`x.received_at`, or `e.occurred_at` of an exchange's events). */
export function periodConditions(
  filters: Pick<ExchangeFilters, 'from' | 'to'>,
  timezone: string,
  column: string,
): RawBuilder<unknown>[] {
  return [
    ...(filters.from ? [sql`${sql.ref(column)} >= ${bound(filters.from, timezone)}`] : []),
    ...(filters.to ? [sql`${sql.ref(column)} < ${bound(filters.to, timezone)}`] : []),
  ];
}

/**
 * The SQL conditions on `exchanges x` the filters make. Free text is matched as bodies are read back
 * (they are stored compressed) and a booking outcome is walked from its events (exchange-query.ts).
 * Each single filter is answered by an index led by its column.
 */
export function filterConditions(filters: ExchangeFilters, timezone: string): RawBuilder<unknown>[] {
  const where: RawBuilder<unknown>[] = [];
  if (filters.id !== undefined) where.push(sql`x.id = ${filters.id}::uuid`);
  where.push(...periodConditions(filters, timezone, 'x.received_at'));
  if (filters.provider !== undefined) where.push(sql`x.provider_id = ${filters.provider}`);
  if (filters.dialect !== undefined) where.push(sql`x.dialect = ${filters.dialect}`);
  if (filters.interaction !== undefined) where.push(sql`x.interaction = ${filters.interaction}`);
  if (filters.status && 'exact' in filters.status)
    where.push(sql`x.response_status = ${filters.status.exact}`);
  if (filters.status && 'class' in filters.status) {
    const low = filters.status.class * 100;
    where.push(sql`x.response_status >= ${low} and x.response_status < ${low + 100}`);
  }
  if (filters.transport !== undefined) where.push(sql`x.transport_outcome = ${filters.transport}`);
  if (filters.consumer !== undefined) where.push(sql`x.consumer_org = ${filters.consumer}`);
  if (filters.correlation !== undefined) {
    const id = filters.correlation;
    where.push(sql`(x.trace_id = ${id} or x.correlation_id = ${id} or x.request_id = ${id})`);
  }
  if (filters.patientHash !== undefined) where.push(sql`x.patient_hash = ${filters.patientHash}`);
  if (filters.episode !== undefined) where.push(sql`x.episode_id = ${filters.episode}::uuid`);
  return where;
}
