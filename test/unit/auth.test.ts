import express from 'express';
import request from 'supertest';
import { authenticate, requireRole } from '../../src/auth/auth.middleware.js';
import { hasRole, TokenRegistry } from '../../src/auth/token-registry.js';
import { errorHandler } from '../../src/http/error-handler.js';
import { requestContext } from '../../src/http/request-context.js';
import { createLogger } from '../../src/logger.js';
import { outcomeCode } from '../helpers/outcome.js';

const tokens = new TokenRegistry([
  { name: 'reporter', token: 'report-token-0123456789', roles: ['report'] },
  { name: 'ops', token: 'ops-token-0123456789abcd', roles: ['inspect', 'ingest'] },
  { name: 'root', token: 'admin-token-0123456789ab', roles: ['admin'] },
]);

describe('TokenRegistry', () => {
  it('finds the principal of each configured token and nothing else', () => {
    expect(tokens.size).toBe(3);
    expect(tokens.verify('report-token-0123456789')).toEqual({ name: 'reporter', roles: ['report'] });
    expect(tokens.verify('ops-token-0123456789abcd')?.name).toBe('ops');
    expect(tokens.verify('report-token-012345678')).toBeUndefined();
    expect(tokens.verify('')).toBeUndefined();
  });

  it('lets admin act in every role', () => {
    const root = tokens.verify('admin-token-0123456789ab')!;
    const ops = tokens.verify('ops-token-0123456789abcd')!;
    for (const role of ['ingest', 'report', 'inspect', 'admin'] as const)
      expect(hasRole(root, role)).toBe(true);
    expect([
      hasRole(ops, 'inspect'),
      hasRole(ops, 'ingest'),
      hasRole(ops, 'report'),
      hasRole(ops, 'admin'),
    ]).toEqual([true, true, false, false]);
  });
});

describe('requireRole', () => {
  // A router guarded the way every /api router is: authenticate, then the role its paths need.
  const app = express();
  app.use(requestContext(createLogger({ logLevel: 'silent' })));
  app.get('/reports', authenticate(tokens), requireRole('report'), (_req, res) => {
    res.json({ ok: true });
  });
  app.use(errorHandler);

  it('lets in a token with the role, and admin', async () => {
    await request(app)
      .get('/reports')
      .set('Authorization', 'Bearer report-token-0123456789')
      .expect(200, { ok: true });
    await request(app).get('/reports').set('Authorization', 'bearer admin-token-0123456789ab').expect(200);
  });

  it('answers 403 FORBIDDEN to a valid token without the role', async () => {
    const res = await request(app)
      .get('/reports')
      .set('Authorization', 'Bearer ops-token-0123456789abcd')
      .expect(403);
    expect(outcomeCode(res.body)).toBe('FORBIDDEN');
    expect(res.body.issue[0].diagnostics).toBe('This path needs a token with role "report"');
  });

  it('answers 401 UNAUTHENTICATED before looking at roles', async () => {
    const res = await request(app).get('/reports').expect(401);
    expect(outcomeCode(res.body)).toBe('UNAUTHENTICATED');
  });
});
