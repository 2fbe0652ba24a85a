import type { NextFunction, Request, Response } from 'express';
import type { Forwarder } from './forward.js';
import type { ProviderRegistry } from './providers.js';
import { routeRequest } from './route.js';

const PROXY_PREFIX = /^\/(fhir|ssp|bars)(\/|\?|$)/;

/**
 * The proxy paths of the contract: `/fhir/{providerId}/…`, `/ssp/{providerBaseUrl}/…` and `/bars/…`.
 * Routed by the raw URL, so percent-encoding reaches the provider exactly as the consumer sent it.
 * Mounted before any body parser: bodies stream through untouched.
 */
export function proxyRoutes(providers: ProviderRegistry, forwarder: Forwarder) {
  return (req: Request, res: Response, next: NextFunction): void => {
    if (!PROXY_PREFIX.test(req.originalUrl)) {
      next();
      return;
    }
    let route;
    try {
      route = routeRequest(req.originalUrl, req.get('nhsd-target-identifier'), providers);
    } catch (error) {
      next(error);
      return;
    }
    forwarder.forward(req, res, route).catch(next);
  };
}
