import type { IncomingMessage, ServerResponse } from 'node:http';
import { OperationOutcomeError } from '../fhir/operation-outcome.js';
import { writeOutcome } from '../http/error-handler.js';
import type { Logger } from '../logger.js';
import type { Forwarder } from './forward.js';
import type { ProviderRegistry } from './providers.js';
import { routeRequest, type Route } from './route.js';

const PROXY_PREFIX = /^\/(fhir|ssp|bars)(\/|\?|$)/;

/**
 * The proxy paths of the contract: `/fhir/{providerId}/…`, `/ssp/{providerBaseUrl}/…` and `/bars/…`.
 * Served straight from the HTTP server, ahead of Express: no middleware, no body parsing, nothing on the
 * hot path but routing and forwarding. Routed by the raw URL, so percent-encoding reaches the provider
 * exactly as the consumer sent it. Returns false for any other path.
 */
export function proxyHandler(providers: ProviderRegistry, forwarder: Forwarder, logger: Logger) {
  return (req: IncomingMessage, res: ServerResponse): boolean => {
    const url = req.url ?? '/';
    if (!PROXY_PREFIX.test(url)) return false;
    let route: Route;
    try {
      const target = req.headers['nhsd-target-identifier'];
      route = routeRequest(url, Array.isArray(target) ? target[0] : target, providers);
    } catch (error) {
      req.resume();
      writeOutcome(res, error as OperationOutcomeError);
      return true;
    }
    forwarder.forward(req, res, route).catch((error: unknown) => {
      logger.error({ err: error, provider: route.provider.id }, 'proxy failed unexpectedly');
      if (!res.headersSent) {
        writeOutcome(
          res,
          new OperationOutcomeError('INTERNAL_ERROR', [
            { diagnostics: 'The collector failed to forward the request' },
          ]),
        );
      } else {
        res.destroy();
      }
    });
    return true;
  };
}
