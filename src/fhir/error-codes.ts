/**
 * The closed catalogue of error codes the collector itself raises. Every error body is a FHIR
 * OperationOutcome whose first issue carries one of these codes in `details.coding`, so clients and tests
 * can rely on the code, never on the wording. `docs/errors.md` documents each one (a test keeps the two
 * in step).
 */
export const ERROR_CODE_SYSTEM = 'https://booking-event-collector.nhs.example/CodeSystem/collector-error';

/** FHIR R4 IssueType values that the collector uses. */
export type IssueType =
  | 'invalid'
  | 'structure'
  | 'required'
  | 'value'
  | 'security'
  | 'login'
  | 'forbidden'
  | 'not-found'
  | 'not-supported'
  | 'too-costly'
  | 'throttled'
  | 'exception'
  | 'timeout'
  | 'transient'
  | 'processing'
  | 'conflict'
  | 'duplicate';

interface ErrorCodeDefinition {
  status: number;
  issueType: IssueType;
  display: string;
}

export const ERROR_CODES = {
  BAD_REQUEST: { status: 400, issueType: 'invalid', display: 'The request is malformed' },
  UNAUTHENTICATED: {
    status: 401,
    issueType: 'login',
    display: 'A valid bearer token is required',
  },
  FORBIDDEN: {
    status: 403,
    issueType: 'forbidden',
    display: 'The token does not carry the role this path needs',
  },
  NOT_FOUND: { status: 404, issueType: 'not-found', display: 'No such resource' },
  ROUTE_NOT_FOUND: { status: 404, issueType: 'not-found', display: 'No such path on the collector' },
  METHOD_NOT_ALLOWED: {
    status: 405,
    issueType: 'not-supported',
    display: 'The method is not supported on this path',
  },
  PAYLOAD_TOO_LARGE: { status: 413, issueType: 'too-costly', display: 'The request body is too large' },
  UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    issueType: 'not-supported',
    display: 'The request content type is not supported',
  },
  EVENTS_INVALID: {
    status: 422,
    issueType: 'invalid',
    display: 'The events posted are not valid; none was stored',
  },
  EVENT_ID_CONFLICT: {
    status: 409,
    issueType: 'conflict',
    display: 'An event id was used before for an event with different content; none was stored',
  },
  RATE_LIMITED: {
    status: 429,
    issueType: 'throttled',
    display: 'Too many requests for this token; try again after Retry-After seconds',
  },
  PROVIDER_UNKNOWN: {
    status: 404,
    issueType: 'not-found',
    display: 'No provider is configured with this id',
  },
  SSP_TARGET_FORBIDDEN: {
    status: 403,
    issueType: 'forbidden',
    display: 'The target URL is not the base URL of a configured provider',
  },
  BARS_TARGET_MALFORMED: {
    status: 400,
    issueType: 'invalid',
    display: 'NHSD-Target-Identifier is missing or not base64 JSON with a DoS service id',
  },
  BARS_TARGET_UNKNOWN: {
    status: 404,
    issueType: 'not-found',
    display: 'No configured provider serves this DoS service id',
  },
  UPSTREAM_TIMEOUT: {
    status: 504,
    issueType: 'timeout',
    display: 'The provider did not answer in time (raised by the collector)',
  },
  UPSTREAM_REFUSED: {
    status: 502,
    issueType: 'transient',
    display: 'The provider refused the connection (raised by the collector)',
  },
  UPSTREAM_RESET: {
    status: 502,
    issueType: 'transient',
    display: 'The connection to the provider failed (raised by the collector)',
  },
  NOT_READY: {
    status: 503,
    issueType: 'transient',
    display: 'The collector is not ready to serve',
  },
  SHUTTING_DOWN: {
    status: 503,
    issueType: 'transient',
    display: 'The collector is shutting down',
  },
  INTERNAL_ERROR: { status: 500, issueType: 'exception', display: 'Unexpected error in the collector' },
} as const satisfies Record<string, ErrorCodeDefinition>;

export type ErrorCode = keyof typeof ERROR_CODES;
