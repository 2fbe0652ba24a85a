import type { Dialect } from '../config/config.types.js';

/** Spine's error code system, used by the STU3 Booking Standard (CareConnect) and GP Connect. */
export const SPINE_ERROR_SYSTEM = 'https://fhir.nhs.uk/STU3/CodeSystem/Spine-ErrorOrWarningCode-1';
/** BaRS' error code system (spelling as in the BaRS examples). */
export const BARS_ERROR_SYSTEM = 'https://fhir.nhs.uk/Codesystem/http-error-codes';

/** An answer the sandbox gives instead of the happy path: a status, headers and a body (or none). */
export class SandboxError extends Error {
  readonly status: number;
  readonly body: Record<string, unknown> | undefined;

  constructor(status: number, body: Record<string, unknown> | undefined) {
    super(`sandbox answered ${status}`);
    this.status = status;
    this.body = body;
  }
}

interface OutcomeSpec {
  issueCode: string;
  /** Spine or BaRS code in `details.coding`; omitted when the dialect's spec shows none. */
  code?: string;
  diagnostics: string;
  expression?: string;
}

/** An OperationOutcome in the shape and profile the dialect uses. */
export function dialectOutcome(dialect: Dialect, spec: OutcomeSpec): Record<string, unknown> {
  const r4 = dialect === 'bars';
  const system = r4 ? BARS_ERROR_SYSTEM : SPINE_ERROR_SYSTEM;
  return {
    resourceType: 'OperationOutcome',
    meta: {
      profile: [
        r4
          ? 'https://fhir.hl7.org.uk/StructureDefinition/UKCore-OperationOutcome'
          : 'https://fhir.nhs.uk/STU3/StructureDefinition/Spine-OperationOutcome-1',
      ],
    },
    issue: [
      {
        severity: 'error',
        code: spec.issueCode,
        ...(spec.code
          ? { details: { coding: [{ system, code: spec.code, display: spec.code.replace(/_/g, ' ') }] } }
          : {}),
        diagnostics: spec.diagnostics,
        ...(spec.expression ? { expression: [spec.expression] } : {}),
      },
    ],
  };
}

/** The named failures the sandbox produces, each answered the way its dialect's specification says. */
export const FAILURES = [
  'slot-unavailable',
  'duplicate',
  'invalid',
  'invalid-parameter',
  'unprocessable',
  'invalid-nhs-number',
  'unauthorised',
  'forbidden',
  'not-found',
  'method-not-allowed',
  'version-conflict',
  'precondition-required',
  'too-large',
  'unsupported-media-type',
  'throttled',
  'timeout',
  'server-error',
  'unavailable',
  'bad-gateway',
  'gateway-timeout',
] as const;

export type Failure = (typeof FAILURES)[number];

export interface FailureOptions {
  diagnostics?: string;
  expression?: string;
  /** STU3 slot taken: 422 per the API spec (default) or 409 per its error table. */
  stu3SlotConflictStatus?: 409 | 422;
}

/**
 * The error answer for a failure in a dialect. BaRS codes and issue codes follow the published BaRS
 * OperationOutcome examples; STU3 and GP Connect use Spine's codes; where a specification shows no code
 * (STU3's "slot no longer available"), none is given and `issue.code` carries the meaning.
 */
export function failure(dialect: Dialect, kind: Failure, options: FailureOptions = {}): SandboxError {
  const bars = dialect === 'bars';
  const gpc = dialect === 'gpconnect';
  const make = (status: number, spec: OutcomeSpec): SandboxError =>
    new SandboxError(status, dialectOutcome(dialect, { ...spec, ...pick(options) }));
  const empty = (status: number): SandboxError => new SandboxError(status, undefined);
  switch (kind) {
    case 'slot-unavailable':
      if (bars)
        return make(409, {
          issueCode: 'conflict',
          code: 'REC_CONFLICT',
          diagnostics: 'The slot is no longer available',
        });
      if (gpc)
        return make(409, {
          issueCode: 'duplicate',
          code: 'DUPLICATE_REJECTED',
          diagnostics: 'The slot is no longer available',
        });
      return options.stu3SlotConflictStatus === 409
        ? make(409, { issueCode: 'conflict', diagnostics: 'slot no longer available' })
        : make(422, { issueCode: 'processing', diagnostics: 'slot no longer available' });
    case 'duplicate':
      if (bars)
        return make(409, {
          issueCode: 'duplicate',
          code: 'REC_CONFLICT',
          diagnostics: 'A message with this request id was already processed',
        });
      return make(409, {
        issueCode: 'duplicate',
        code: 'DUPLICATE_REJECTED',
        diagnostics: 'A request with this id was already processed',
      });
    case 'invalid':
      if (bars)
        return make(400, {
          issueCode: 'invariant',
          code: 'REC_BAD_REQUEST',
          diagnostics: 'The request is not valid',
        });
      return make(400, {
        issueCode: 'invalid',
        code: gpc ? 'BAD_REQUEST' : 'INVALID_RESOURCE',
        diagnostics: 'The request is not valid',
      });
    case 'invalid-parameter':
      if (bars)
        return make(400, {
          issueCode: 'invalid',
          code: 'REC_BAD_REQUEST',
          diagnostics: 'A search parameter is not valid',
        });
      return make(gpc ? 422 : 400, {
        issueCode: 'invalid',
        code: 'INVALID_PARAMETER',
        diagnostics: 'A search parameter is not valid',
      });
    case 'unprocessable':
      if (bars)
        return make(422, {
          issueCode: 'business-rule',
          code: 'REC_UNPROCESSABLE_ENTITY',
          diagnostics: 'The request breaks a business rule',
        });
      return make(422, {
        issueCode: 'invalid',
        code: 'INVALID_RESOURCE',
        diagnostics: 'The resource is not valid',
      });
    case 'invalid-nhs-number':
      if (bars)
        return make(422, {
          issueCode: 'value',
          code: 'REC_UNPROCESSABLE_ENTITY',
          diagnostics: 'The NHS number is not valid',
        });
      return make(422, {
        issueCode: 'value',
        code: 'INVALID_NHS_NUMBER',
        diagnostics: 'The NHS number is not valid',
      });
    case 'unauthorised':
      if (bars)
        return make(401, {
          issueCode: 'expired',
          code: 'SEND_UNAUTHORIZED',
          diagnostics: 'Access token expired or invalid',
        });
      return make(401, {
        issueCode: 'login',
        diagnostics: 'The access token is missing, expired or invalid',
      });
    case 'forbidden':
      if (bars)
        return make(403, {
          issueCode: 'forbidden',
          code: 'SEND_FORBIDDEN',
          diagnostics: 'The sender is not allowed to make this request',
        });
      return make(403, { issueCode: 'forbidden', code: 'ACCESS_DENIED', diagnostics: 'Access denied' });
    case 'not-found':
      if (bars)
        return make(404, {
          issueCode: 'not-found',
          code: 'REC_NOT_FOUND',
          diagnostics: 'The receiver could not find the resource',
        });
      return make(404, { issueCode: 'not-found', code: 'NO_RECORD_FOUND', diagnostics: 'No record found' });
    case 'method-not-allowed':
      return make(405, {
        issueCode: 'not-supported',
        diagnostics: 'The method is not supported on this path',
      });
    case 'version-conflict':
      if (bars)
        return make(409, {
          issueCode: 'conflict',
          code: 'REC_CONFLICT',
          diagnostics: 'local data updates conflict with the updates in the message.',
        });
      return make(409, {
        issueCode: 'conflict',
        code: 'FHIR_CONSTRAINT_VIOLATION',
        diagnostics: 'The version in If-Match is not the current version',
      });
    case 'precondition-required':
      if (bars)
        return make(412, {
          issueCode: 'required',
          code: 'REC_PRECONDITION_FAILED',
          diagnostics: 'A precondition of the request failed',
        });
      return make(412, {
        issueCode: 'required',
        code: 'PRECONDITION_FAILED',
        diagnostics: 'An If-Match header is required',
      });
    case 'too-large':
      return make(413, {
        issueCode: 'too-costly',
        ...(bars ? { code: 'REC_BAD_REQUEST' } : {}),
        diagnostics: 'The request body is too large',
      });
    case 'unsupported-media-type':
      return make(415, {
        issueCode: 'not-supported',
        ...(bars ? { code: 'REC_BAD_REQUEST' } : {}),
        diagnostics: 'The body encoding or charset is not supported',
      });
    case 'throttled':
      if (bars)
        return make(429, {
          issueCode: 'throttled',
          code: 'SEND_TOO_MANY_REQUESTS',
          diagnostics: 'Too many requests',
        });
      return make(429, { issueCode: 'throttled', diagnostics: 'Too many requests' });
    case 'timeout':
      if (bars)
        return make(408, {
          issueCode: 'timeout',
          code: 'REC_TIMEOUT',
          diagnostics: 'The receiver did not answer in time',
        });
      return make(408, { issueCode: 'timeout', diagnostics: 'The request timed out' });
    case 'server-error':
      if (bars)
        return make(500, {
          issueCode: 'exception',
          code: 'REC_SERVER_ERROR',
          diagnostics: 'The receiver failed to process the request',
        });
      return make(500, {
        issueCode: 'exception',
        code: 'INTERNAL_SERVER_ERROR',
        diagnostics: 'Internal server error',
      });
    case 'unavailable':
      if (bars)
        return make(503, {
          issueCode: 'transient',
          code: 'REC_SERVICE_UNAVAILABLE',
          diagnostics: 'The receiver is unavailable',
        });
      return empty(503);
    // The national proxies (SSP, the BaRS proxy) answer 502 and 504 with an empty body.
    case 'bad-gateway':
      return empty(502);
    case 'gateway-timeout':
      return empty(504);
  }
}

function pick(options: FailureOptions): Partial<OutcomeSpec> {
  return {
    ...(options.diagnostics ? { diagnostics: options.diagnostics } : {}),
    ...(options.expression ? { expression: options.expression } : {}),
  };
}

/** The failure that answers exactly this status, in every dialect (fault injection asks by status). */
export const FAILURE_FOR_STATUS: Readonly<Record<number, Failure>> = {
  400: 'invalid',
  401: 'unauthorised',
  403: 'forbidden',
  404: 'not-found',
  405: 'method-not-allowed',
  408: 'timeout',
  409: 'version-conflict',
  412: 'precondition-required',
  413: 'too-large',
  415: 'unsupported-media-type',
  422: 'unprocessable',
  429: 'throttled',
  500: 'server-error',
  502: 'bad-gateway',
  503: 'unavailable',
  504: 'gateway-timeout',
};
