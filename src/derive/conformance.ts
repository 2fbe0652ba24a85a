import { entryResources, isObject } from '../fhir/json.js';
import type { Dialect, Interaction } from '../fhir/classify.js';

/*
 * Whether a provider's response follows its standard (../shared/domain/booking-standards.md): the
 * status the interaction's success should have, an OperationOutcome with every error, `Location` on a
 * create, instants with offsets, and a searchset Bundle answering a slot search. Only the checks that
 * apply to a response are made; the provider-conformance report counts them per provider.
 */

export const CONFORMANCE_CHECKS = [
  'status',
  'operationOutcome',
  'location',
  'instantOffsets',
  'searchsetType',
] as const;
export type ConformanceCheck = (typeof CONFORMANCE_CHECKS)[number];

/** How an exchange failed, if it did: the provider's 4xx or 5xx, or no answer from it at all. */
export type ErrorClass = 'none' | 'client' | 'server' | 'transport';

export interface Conformance {
  /** The checks that apply to this response, each passed or not (none when the provider never answered). */
  checks: Partial<Record<ConformanceCheck, boolean>>;
  /** Every check that applies passed (null when the provider never answered: nothing to judge). */
  conforms: boolean | null;
  errorClass: ErrorClass;
}

export interface ConformanceInput {
  interaction: Interaction;
  dialect: Dialect | null;
  status: number | null;
  /** Whether the provider's answer began; otherwise the collector answered for it. */
  providerAnswered: boolean;
  /** The parsed response body (undefined when it was not JSON). */
  response: unknown;
  /**
   * What the response body was: JSON (judged), none at all (an error without an OperationOutcome), or
   * something else (XML, or cut short by the capture limit or unreadable): not judged on its content.
   */
  responseBody: 'json' | 'none' | 'other';
  /** The response's `Location` header. */
  location: string | undefined;
}

/** The success status the standard gives an interaction: a create is 201, except BaRS messaging (200). */
function successStatus(interaction: Interaction, dialect: Dialect | null): number[] {
  if (interaction !== 'book') return [200];
  if (dialect === 'bars') return [200];
  if (dialect === 'stu3' || dialect === 'gpconnect') return [201];
  return [200, 201];
}

/** A whole value that is a date-time with a time (a text that only begins with one is not). */
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?$/;
const WITH_OFFSET = /(Z|[+-]\d{2}:\d{2})$/;

/**
 * Whether every date-time in a resource carries an offset (FHIR instants must; a dateTime with a time
 * must too). Walks the whole body: a date-time can sit in any element, extensions included.
 */
export function instantsHaveOffsets(value: unknown): boolean {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const item = stack.pop();
    if (typeof item === 'string') {
      // Most strings are not date-times: a look at the '-' and 'T' first, the pattern only then.
      if (
        item.length >= 16 &&
        item.charCodeAt(4) === 45 &&
        item.charCodeAt(10) === 84 &&
        DATE_TIME.test(item) &&
        !WITH_OFFSET.test(item)
      )
        return false;
    } else if (Array.isArray(item)) {
      for (const member of item) stack.push(member);
    } else if (isObject(item)) {
      for (const key in item) stack.push(item[key]);
    }
  }
  return true;
}

function hasOperationOutcome(body: unknown): boolean {
  if (isObject(body) && body.resourceType === 'OperationOutcome') return true;
  return entryResources(body).some((r) => r.resourceType === 'OperationOutcome');
}

/** Judges one response against its standard. */
export function conformanceOf(input: ConformanceInput): Conformance {
  const { status } = input;
  if (!input.providerAnswered || status === null)
    return { checks: {}, conforms: null, errorClass: 'transport' };
  const errorClass: ErrorClass = status >= 500 ? 'server' : status >= 400 ? 'client' : 'none';
  const ok = status >= 200 && status < 300;
  const checks: Partial<Record<ConformanceCheck, boolean>> = {
    // A success has its interaction's status; a failure is a 4xx or 5xx (never a 1xx or 3xx).
    status: ok ? successStatus(input.interaction, input.dialect).includes(status) : status >= 400,
  };
  const judged = input.responseBody !== 'other';
  if (status >= 400 && judged) checks.operationOutcome = hasOperationOutcome(input.response);
  if (input.interaction === 'book' && status === 201)
    checks.location = typeof input.location === 'string' && /Appointment\/[^/]+/.test(input.location);
  if (input.response !== undefined) checks.instantOffsets = instantsHaveOffsets(input.response);
  if (input.interaction === 'slot-search' && ok && judged)
    checks.searchsetType =
      isObject(input.response) &&
      input.response.resourceType === 'Bundle' &&
      input.response.type === 'searchset';
  return { checks, conforms: Object.values(checks).every(Boolean), errorClass };
}
