import { Router } from 'express';
import { methodNotAllowed } from '../http/error-handler.js';
import type { CollectorMetrics } from './metrics.js';

/** `GET /metrics`: the Prometheus exposition, for the scraper. */
export function metricsRoutes(metrics: CollectorMetrics): Router {
  const router = Router();
  router
    .route('/metrics')
    .get(async (_req, res) => {
      res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
    })
    .all(methodNotAllowed(['GET', 'HEAD']));
  return router;
}
