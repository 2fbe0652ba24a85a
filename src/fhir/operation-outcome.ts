import type { OperationOutcome, OperationOutcomeIssue } from 'fhir/r4.js';
import { ERROR_CODE_SYSTEM, ERROR_CODES, type ErrorCode, type IssueType } from './error-codes.js';

/** One problem found in a request, for errors that report several (validation of a batch, say). */
export interface IssueDetail {
  diagnostics: string;
  expression?: string;
  issueType?: IssueType;
  /** A second coding for the same issue in another system (BaRS' own codes for its routing errors). */
  alsoCoding?: { system: string; code: string };
}

/**
 * An error raised by the collector itself, carrying the OperationOutcome it answers with. Routes and
 * services throw it; the error middleware turns it into the response.
 */
export class OperationOutcomeError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly issues: IssueDetail[];
  readonly headers: Record<string, string>;

  constructor(code: ErrorCode, issues: IssueDetail[], headers: Record<string, string> = {}) {
    super(issues.map((issue) => issue.diagnostics).join('; ') || ERROR_CODES[code].display);
    this.name = 'OperationOutcomeError';
    this.code = code;
    this.status = ERROR_CODES[code].status;
    this.issues = issues;
    this.headers = headers;
  }

  /** The FHIR R4 OperationOutcome body for this error. */
  toOperationOutcome(): OperationOutcome {
    return operationOutcome(this.code, this.issues);
  }
}

/** Builds the OperationOutcome for a catalogue code, with one issue per detail (at least one). */
export function operationOutcome(code: ErrorCode, issues: IssueDetail[]): OperationOutcome {
  const definition = ERROR_CODES[code];
  const details = issues.length > 0 ? issues : [{ diagnostics: definition.display }];
  return {
    resourceType: 'OperationOutcome',
    issue: details.map((detail): OperationOutcomeIssue => ({
      severity: 'error',
      code: detail.issueType ?? definition.issueType,
      details: {
        coding: [
          { system: ERROR_CODE_SYSTEM, code, display: definition.display },
          ...(detail.alsoCoding ? [detail.alsoCoding] : []),
        ],
        text: definition.display,
      },
      diagnostics: detail.diagnostics,
      ...(detail.expression ? { expression: [detail.expression] } : {}),
    })),
  };
}

/** 400: the request cannot be understood; `expression` points at the offending element. */
export function badRequest(diagnostics: string, expression?: string): OperationOutcomeError {
  return new OperationOutcomeError('BAD_REQUEST', [{ diagnostics, ...(expression ? { expression } : {}) }]);
}

/** 404 for a resource the path names but the store does not have. */
export function notFound(diagnostics: string): OperationOutcomeError {
  return new OperationOutcomeError('NOT_FOUND', [{ diagnostics }]);
}

/** 401 with the `WWW-Authenticate` challenge RFC 6750 asks for. */
export function unauthenticated(diagnostics: string): OperationOutcomeError {
  return new OperationOutcomeError('UNAUTHENTICATED', [{ diagnostics }], {
    'WWW-Authenticate': 'Bearer realm="booking-event-collector"',
  });
}

/** 403: the caller is known but lacks the role. */
export function forbidden(diagnostics: string): OperationOutcomeError {
  return new OperationOutcomeError('FORBIDDEN', [{ diagnostics }]);
}
