import express from 'express';
import request from 'supertest';
import { errorHandler } from '../../src/http/error-handler.js';
import { requestContext } from '../../src/http/request-context.js';
import { badRequest } from '../../src/fhir/operation-outcome.js';
import { memoryLogger } from '../helpers/app.js';
import { outcomeCode } from '../helpers/outcome.js';

describe('errorHandler', () => {
  const { logger, lines } = memoryLogger();
  const app = express();
  app.use(requestContext(logger));
  app.get('/explodes', () => {
    throw new Error('connection string postgres://user:hunter2@db/x is wrong');
  });
  app.get('/rejects', async () => {
    await Promise.resolve();
    throw badRequest('date must be a FHIR instant', 'Slot.start');
  });
  app.use(errorHandler);

  it('answers an unexpected error with 500 INTERNAL_ERROR, without its internals, and logs it', async () => {
    const res = await request(app).get('/explodes').set('X-Request-ID', 'r-500').expect(500);
    expect(outcomeCode(res.body)).toBe('INTERNAL_ERROR');
    expect(res.body.issue[0].diagnostics).toBe('Unexpected error; quote request id r-500 when reporting it');
    expect(JSON.stringify(res.body)).not.toContain('hunter2');
    const logged = lines().map(
      (l) => JSON.parse(l) as { msg: string; reqId: string; err?: { message: string } },
    );
    expect(logged.find((l) => l.msg === 'unexpected error')).toMatchObject({ reqId: 'r-500' });
  });

  it('answers a rejected promise from an async handler (Express 5) with its own outcome', async () => {
    const res = await request(app).get('/rejects').expect(400);
    expect(outcomeCode(res.body)).toBe('BAD_REQUEST');
    expect(res.body.issue[0]).toMatchObject({
      code: 'invalid',
      expression: ['Slot.start'],
      diagnostics: 'date must be a FHIR instant',
    });
  });
});
