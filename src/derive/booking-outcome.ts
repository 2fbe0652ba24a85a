import { isObject } from '../fhir/json.js';
import type { Dialect } from '../fhir/classify.js';

/** How a booking attempt ended (reports.md, terms). */
export type BookingOutcome =
  | 'booked'
  | 'slot_unavailable'
  | 'duplicate'
  | 'rejected'
  | 'unauthorised'
  | 'provider_error'
  | 'transport_error'
  | 'unclassified';

/** What a response said, kept on the event whatever the outcome. */
export interface OutcomeEvidence {
  outcome: BookingOutcome;
  status: number | null;
  /** OperationOutcome `issue.code`s, in order. */
  issueCodes: string[];
  /** `issue.details.coding.code`s (Spine codes, BaRS `REC_`/`SEND_`/`PROXY_` codes), in order. */
  detailCodes: string[];
  /** The provider's answer began but the connection failed before its end. */
  incomplete?: boolean;
  /** Who raised a BaRS error, from its code's prefix. */
  raisedBy?: 'sender' | 'proxy' | 'receiver';
  diagnostics?: string;
}

export interface OutcomeInput {
  dialect: Dialect;
  status: number | null;
  /** How the forward ended (`ok`, `timeout`, `reset`, `refused`, `client_aborted`). */
  transport: string;
  /**
   * Whether the provider's answer began (its status line arrived). A timeout, reset or refusal before
   * that is a transport error answered by the collector; after it, the provider's status stands and the
   * answer is marked incomplete. Taken as true when not said.
   */
  providerAnswered?: boolean;
  /** The parsed response body, when there was one. */
  body?: unknown;
}

/** The OperationOutcomes in a response: the body itself, or entries of a Bundle (a BaRS response message). */
function outcomes(body: unknown): Record<string, unknown>[] {
  if (!isObject(body)) return [];
  if (body.resourceType === 'OperationOutcome') return [body];
  if (!Array.isArray(body.entry)) return [];
  return body.entry.flatMap((e: unknown) =>
    isObject(e) && isObject(e.resource) && e.resource.resourceType === 'OperationOutcome' ? [e.resource] : [],
  );
}

/** A BaRS response message's `MessageHeader.response.code` (`ok`, `transient-error`, `fatal-error`). */
function messageResponse(body: unknown): string | undefined {
  if (!isObject(body) || !Array.isArray(body.entry)) return undefined;
  for (const e of body.entry as unknown[]) {
    if (!isObject(e) || !isObject(e.resource) || e.resource.resourceType !== 'MessageHeader') continue;
    const response = e.resource.response;
    return isObject(response) && typeof response.code === 'string' ? response.code : undefined;
  }
  return undefined;
}

function evidence(body: unknown): Pick<OutcomeEvidence, 'issueCodes' | 'detailCodes' | 'diagnostics'> {
  const issueCodes: string[] = [];
  const detailCodes: string[] = [];
  const diagnostics: string[] = [];
  for (const outcome of outcomes(body)) {
    for (const issue of Array.isArray(outcome.issue) ? (outcome.issue as unknown[]) : []) {
      if (!isObject(issue)) continue;
      if (typeof issue.code === 'string') issueCodes.push(issue.code);
      if (typeof issue.diagnostics === 'string') diagnostics.push(issue.diagnostics);
      const details = issue.details;
      const codings = isObject(details) && Array.isArray(details.coding) ? (details.coding as unknown[]) : [];
      for (const coding of codings)
        if (isObject(coding) && typeof coding.code === 'string') detailCodes.push(coding.code);
    }
  }
  return {
    issueCodes,
    detailCodes,
    ...(diagnostics.length > 0 ? { diagnostics: diagnostics.join('; ') } : {}),
  };
}

function raisedBy(detailCodes: string[]): OutcomeEvidence['raisedBy'] {
  for (const code of detailCodes) {
    if (code.startsWith('SEND_')) return 'sender';
    if (code.startsWith('PROXY_')) return 'proxy';
    if (code.startsWith('REC_')) return 'receiver';
  }
  return undefined;
}

/**
 * The outcome of a booking attempt from its status and what its OperationOutcome says, per dialect
 * (booking-standards.md, "Error outcomes a booking can have"): the status alone is not enough, so
 * `issue.code` and the detail codes decide between a taken slot, a repeated request and the rest; a 409
 * that is neither is `unclassified`, never a guess.
 */
export function bookingOutcome(input: OutcomeInput): OutcomeEvidence {
  const found = evidence(input.body);
  const base = { status: input.status, ...found };
  const by = raisedBy(found.detailCodes);
  const withRaiser = (outcome: BookingOutcome): OutcomeEvidence => ({
    outcome,
    ...base,
    ...(by ? { raisedBy: by } : {}),
  });
  const broken =
    input.transport === 'timeout' || input.transport === 'reset' || input.transport === 'refused';
  if (broken && input.providerAnswered === false) return withRaiser('transport_error');
  const status = input.status;
  if (broken) Object.assign(base, { incomplete: true });
  if (status === null) return withRaiser('unclassified');
  const issue = new Set(found.issueCodes);
  const detail = new Set(found.detailCodes);

  if (status >= 200 && status < 300) {
    // A BaRS answer can be a 200 message whose header says the booking failed.
    const response = input.dialect === 'bars' ? messageResponse(input.body) : undefined;
    if (response === 'fatal-error') return withRaiser('rejected');
    if (response === 'transient-error') return withRaiser('provider_error');
    return withRaiser('booked');
  }
  if (status === 409) {
    // GP Connect has no repeated-request rule: its 409 on a booking is DUPLICATE_REJECTED, the slot
    // being booked already (whatever issue code comes with it).
    if (input.dialect === 'gpconnect' && detail.has('DUPLICATE_REJECTED'))
      return withRaiser('slot_unavailable');
    if (issue.has('duplicate')) return withRaiser('duplicate');
    if (issue.has('conflict')) return withRaiser('slot_unavailable');
    return withRaiser('unclassified');
  }
  if (status === 422) {
    // STU3's API spec: a slot no longer available is 422 with issue code `processing`.
    if (input.dialect === 'stu3' && issue.has('processing')) return withRaiser('slot_unavailable');
    return withRaiser('rejected');
  }
  if (status === 401 || status === 403) return withRaiser('unauthorised');
  if (status === 408 || status === 502 || status === 504 || status >= 500)
    return withRaiser('provider_error');
  if (status >= 400 && status < 500) return withRaiser('rejected');
  return withRaiser('unclassified');
}
