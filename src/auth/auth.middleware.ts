import type { NextFunction, Request, Response } from 'express';
import type { Role } from '../config/config.types.js';
import { forbidden, unauthenticated } from '../fhir/operation-outcome.js';
import { hasRole, type Principal, type TokenRegistry } from './token-registry.js';

declare module 'express-serve-static-core' {
  interface Request {
    /** The token holder, set by `authenticate` on `/api/*`. */
    principal?: Principal;
  }
}

const BEARER = /^Bearer[ ]+([A-Za-z0-9._~+/=-]+)\s*$/i;

/** Requires a valid bearer token on every request that reaches it; 401 OperationOutcome otherwise. */
export function authenticate(tokens: TokenRegistry) {
  return (req: Request, _res: Response, next: NextFunction): void => {
    const header = req.get('authorization');
    if (!header) {
      next(unauthenticated('This path needs an Authorization: Bearer token'));
      return;
    }
    const match = BEARER.exec(header);
    const principal = match ? tokens.verify(match[1]!) : undefined;
    if (!principal) {
      next(unauthenticated('The bearer token is not valid'));
      return;
    }
    req.principal = principal;
    next();
  };
}

/** Requires the authenticated caller to hold `role` (or `admin`); 403 OperationOutcome otherwise. */
export function requireRole(role: Role) {
  return (req: Request, _res: Response, next: NextFunction): void => {
    if (!req.principal) {
      next(unauthenticated('This path needs an Authorization: Bearer token'));
      return;
    }
    if (!hasRole(req.principal, role)) {
      next(forbidden(`This path needs a token with role "${role}"`));
      return;
    }
    next();
  };
}
