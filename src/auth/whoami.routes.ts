import { Router } from 'express';
import { methodNotAllowed } from '../http/error-handler.js';

/** `GET /api/whoami`: which token the caller presented and its roles, to check a token before use. */
export function whoamiRoutes(): Router {
  const router = Router();
  router
    .route('/whoami')
    .get((req, res) => {
      res.json({ name: req.principal?.name, roles: req.principal?.roles });
    })
    .all(methodNotAllowed(['GET', 'HEAD']));
  return router;
}
