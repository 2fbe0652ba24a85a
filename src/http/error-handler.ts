import type { ServerResponse } from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import { OperationOutcomeError, operationOutcome } from '../fhir/operation-outcome.js';

export const FHIR_JSON = 'application/fhir+json; charset=utf-8';

/** Writes an OperationOutcome error as the response of a plain Node response (no Express needed). */
export function writeOutcome(res: ServerResponse, error: OperationOutcomeError): void {
  const body = JSON.stringify(error.toOperationOutcome());
  res.writeHead(error.status, {
    ...error.headers,
    'Content-Type': FHIR_JSON,
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}

/** Sends an OperationOutcome error as the response. */
export function sendOutcome(res: Response, error: OperationOutcomeError): void {
  writeOutcome(res, error);
}

interface HttpErrorLike {
  type?: string;
  status?: number;
  expose?: boolean;
}

/** Maps the errors body-parser raises onto the catalogue; undefined for anything else. */
function fromBodyParser(error: HttpErrorLike): OperationOutcomeError | undefined {
  switch (error.type) {
    case 'entity.too.large':
      return new OperationOutcomeError('PAYLOAD_TOO_LARGE', [
        { diagnostics: 'The request body is larger than this path accepts' },
      ]);
    case 'entity.parse.failed':
      return new OperationOutcomeError('BAD_REQUEST', [
        { diagnostics: 'The request body is not valid JSON' },
      ]);
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new OperationOutcomeError('UNSUPPORTED_MEDIA_TYPE', [
        { diagnostics: 'The request body encoding or charset is not supported' },
      ]);
    case 'request.aborted':
      return new OperationOutcomeError('BAD_REQUEST', [
        { diagnostics: 'The request was aborted by the client' },
      ]);
    default:
      break;
  }
  // Any other client error body-parser raises (a body that does not inflate, a bad length) is the
  // client's fault and answered as such, never as a 500.
  if (error.expose && typeof error.status === 'number' && error.status >= 400 && error.status < 500) {
    const code =
      error.status === 413
        ? 'PAYLOAD_TOO_LARGE'
        : error.status === 415
          ? 'UNSUPPORTED_MEDIA_TYPE'
          : 'BAD_REQUEST';
    return new OperationOutcomeError(code, [{ diagnostics: 'The request body could not be read' }]);
  }
  return undefined;
}

/** The last route: nothing matched, so the path is unknown. */
export function routeNotFound(req: Request, _res: Response, next: NextFunction): void {
  next(
    new OperationOutcomeError('ROUTE_NOT_FOUND', [{ diagnostics: `No route for ${req.method} ${req.path}` }]),
  );
}

/** 405 with the methods the path does accept. */
export function methodNotAllowed(allowed: string[]) {
  return (req: Request, _res: Response, next: NextFunction): void => {
    next(
      new OperationOutcomeError(
        'METHOD_NOT_ALLOWED',
        [{ diagnostics: `${req.method} is not supported on ${req.path}` }],
        {
          Allow: allowed.join(', '),
        },
      ),
    );
  };
}

/**
 * The one error middleware: everything becomes an OperationOutcome with a catalogue code. Unexpected
 * errors are logged (message and stack, never the request) and answered without internals.
 */
export function errorHandler(error: unknown, req: Request, res: Response, next: NextFunction): void {
  if (res.headersSent) {
    next(error);
    return;
  }
  if (error instanceof OperationOutcomeError) {
    sendOutcome(res, error);
    return;
  }
  const parsed = error && typeof error === 'object' ? fromBodyParser(error) : undefined;
  if (parsed) {
    sendOutcome(res, parsed);
    return;
  }
  req.log.error({ err: error }, 'unexpected error');
  res
    .status(500)
    .type(FHIR_JSON)
    .send(
      JSON.stringify(
        operationOutcome('INTERNAL_ERROR', [
          { diagnostics: `Unexpected error; quote request id ${req.id} when reporting it` },
        ]),
      ),
    );
}
