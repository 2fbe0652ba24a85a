import { Router } from 'express';

/** `GET /api/whoami`: which token the caller presented and its roles, to check a token before use. */
export function whoamiRoutes(): Router {
  const router = Router();
  router.get('/whoami', (req, res) => {
    res.json({ name: req.principal?.name, roles: req.principal?.roles });
  });
  return router;
}
