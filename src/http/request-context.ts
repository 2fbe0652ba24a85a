import type { NextFunction, Request, Response } from 'express';
import type { Logger } from '../logger.js';
import { maskNhsNumbers } from '../fhir/nhs-number.js';
import { newId } from '../ids.js';

declare module 'express-serve-static-core' {
  interface Request {
    /** The request id: the caller's `X-Request-ID` when well-formed, otherwise one made here. */
    id: string;
    /** A child logger carrying the request id and trace id. */
    log: Logger;
  }
}

const USABLE_REQUEST_ID = /^[A-Za-z0-9._:@-]{1,128}$/;
const TRACEPARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/;

/**
 * Gives each request an id (echoed in `X-Request-ID`), a scoped logger, and one log line when it ends.
 * The line has the path without its query string (queries can carry NHS numbers) and with any NHS
 * number in the path masked (`/sandbox/gpconnect/Patient/{nhs number}`).
 */
export function requestContext(logger: Logger) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const offered = req.get('x-request-id');
    req.id = offered && USABLE_REQUEST_ID.test(offered) ? offered : newId();
    const traceId = TRACEPARENT.exec(req.get('traceparent') ?? '')?.[1];
    req.log = logger.child({ reqId: req.id, ...(traceId ? { traceId } : {}) });
    res.setHeader('X-Request-ID', req.id);
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      req.log.info(
        {
          method: req.method,
          path: maskNhsNumbers(req.originalUrl.split('?', 1)[0]!, () => '[nhs-number]'),
          status: res.statusCode,
          ms: Math.round(ms * 1000) / 1000,
        },
        'request completed',
      );
    });
    next();
  };
}
