import { Router } from 'express';
import { OperationOutcomeError } from '../fhir/operation-outcome.js';
import { methodNotAllowed } from '../http/error-handler.js';
import { checkReadiness, type ReadinessCheck } from './readiness.js';

/** Whether the process is draining; `/readyz` turns 503 so load balancers stop sending traffic. */
export interface Lifecycle {
  shuttingDown: boolean;
}

/** `/healthz` (the process is alive) and `/readyz` (the store is reachable and current). */
export function healthRoutes(checks: readonly ReadinessCheck[], lifecycle: Lifecycle): Router {
  const router = Router();
  router
    .route('/healthz')
    .get((_req, res) => {
      res.json({ status: 'ok' });
    })
    .all(methodNotAllowed(['GET', 'HEAD']));
  router
    .route('/readyz')
    .get(async (_req, res) => {
      if (lifecycle.shuttingDown) {
        throw new OperationOutcomeError('SHUTTING_DOWN', [{ diagnostics: 'The collector is shutting down' }]);
      }
      const result = await checkReadiness(checks);
      if (!result.ready) {
        const failed = Object.entries(result.checks).filter(([, r]) => !r.ok);
        throw new OperationOutcomeError(
          'NOT_READY',
          failed.map(([name, r]) => ({ diagnostics: `${name}: ${JSON.stringify(r.detail ?? {})}` })),
        );
      }
      res.json({ status: 'ready', checks: result.checks });
    })
    .all(methodNotAllowed(['GET', 'HEAD']));
  return router;
}
