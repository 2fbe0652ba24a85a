import request from 'supertest';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { ERROR_CODES } from '../../src/fhir/error-codes.js';
import type { Database } from '../../src/store/database.js';
import type { Store } from '../../src/store/store.js';
import { bearer, buildTestApp, memoryLogger, TEST_TOKENS } from '../helpers/app.js';
import { outcomeCode } from '../helpers/outcome.js';
import { openTestStore, type TestStore } from '../helpers/store.js';

let store: TestStore;

beforeAll(async () => {
  store = await openTestStore();
});

afterAll(async () => {
  await store.dispose();
});

describe('health', () => {
  it('GET /healthz answers 200 while the process lives', async () => {
    const res = await request(buildTestApp(store)).get('/healthz').expect(200);
    expect(res.body).toEqual({ status: 'ok' });
  });

  it('GET /readyz answers 200 with each check when the store is reachable and current', async () => {
    const res = await request(buildTestApp(store)).get('/readyz').expect(200);
    expect(res.body).toEqual({
      status: 'ready',
      checks: {
        store: { ok: true, detail: { engine: store.engine } },
        migrations: { ok: true, detail: { pending: [] } },
      },
    });
  });

  it('GET /readyz answers 503 NOT_READY when the store cannot be reached', async () => {
    // A PostgreSQL store pointed at a port where nothing listens: a real refused connection.
    const pool = new pg.Pool({
      connectionString: 'postgres://nobody@127.0.0.1:1/none',
      connectionTimeoutMillis: 500,
    });
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    const unreachable: Store = { db, engine: 'postgres', location: 'nowhere', close: () => db.destroy() };
    try {
      const res = await request(buildTestApp(unreachable)).get('/readyz').expect(503);
      expect(outcomeCode(res.body)).toBe('NOT_READY');
      const issues = res.body.issue as { diagnostics: string }[];
      const diagnostics = issues.map((i) => i.diagnostics).join('\n');
      expect(diagnostics).toMatch(/^store: .*ECONNREFUSED/m);
      expect(diagnostics).toMatch(/^migrations: /m);
    } finally {
      await unreachable.close();
    }
  });

  it('GET /readyz answers 503 NOT_READY, naming the migrations, when the schema is behind', async () => {
    const behind = await openTestStore({ migrate: false });
    try {
      const res = await request(buildTestApp(behind)).get('/readyz').expect(503);
      expect(outcomeCode(res.body)).toBe('NOT_READY');
      expect(res.body.issue).toHaveLength(1);
      expect(res.body.issue[0].diagnostics).toBe(
        'migrations: {"pending":["0001_initial","0002_compressed_bodies","0003_episode_stitching","0004_report_rollups","0005_inspection"]}',
      );
    } finally {
      await behind.dispose();
    }
  });

  it('answers 405 with Allow for other methods', async () => {
    const res = await request(buildTestApp(store)).post('/healthz').expect(405);
    expect(outcomeCode(res.body)).toBe('METHOD_NOT_ALLOWED');
    expect(res.headers.allow).toBe('GET, HEAD');
  });
});

describe('errors are OperationOutcomes with a catalogue code', () => {
  it('an unknown path answers 404 ROUTE_NOT_FOUND as application/fhir+json', async () => {
    const res = await request(buildTestApp(store)).get('/no/such/path?x=1').expect(404);
    expect(res.headers['content-type']).toBe('application/fhir+json; charset=utf-8');
    expect(outcomeCode(res.body)).toBe('ROUTE_NOT_FOUND');
    expect(res.body.issue[0]).toMatchObject({
      severity: 'error',
      code: 'not-found',
      diagnostics: 'No route for GET /no/such/path',
    });
  });

  it('an unknown API path, with a valid token, answers 404 ROUTE_NOT_FOUND', async () => {
    const res = await request(buildTestApp(store))
      .get('/api/nothing-here')
      .set('Authorization', bearer('admin'))
      .expect(404);
    expect(outcomeCode(res.body)).toBe('ROUTE_NOT_FOUND');
  });

  it('malformed JSON to the API answers 400 BAD_REQUEST', async () => {
    const res = await request(buildTestApp(store))
      .post('/api/whoami')
      .set('Authorization', bearer('admin'))
      .set('Content-Type', 'application/fhir+json')
      .send('{"resourceType": ')
      .expect(400);
    expect(outcomeCode(res.body)).toBe('BAD_REQUEST');
  });

  it('a body over the limit answers 413 PAYLOAD_TOO_LARGE', async () => {
    const res = await request(buildTestApp(store))
      .post('/api/whoami')
      .set('Authorization', bearer('admin'))
      .set('Content-Type', 'application/json')
      .send(`{"x":"${'a'.repeat(6 * 1024 * 1024)}"}`)
      .expect(413);
    expect(outcomeCode(res.body)).toBe('PAYLOAD_TOO_LARGE');
  });

  it('a body that does not inflate answers 400 BAD_REQUEST, not a 500', async () => {
    const res = await request(buildTestApp(store))
      .post('/api/whoami')
      .set('Authorization', bearer('admin'))
      .set('Content-Type', 'application/json')
      .set('Content-Encoding', 'gzip')
      .send('this is not gzip')
      .expect(400);
    expect(outcomeCode(res.body)).toBe('BAD_REQUEST');
  });

  it('a known API path with another method answers 405 with Allow', async () => {
    const res = await request(buildTestApp(store))
      .delete('/api/whoami')
      .set('Authorization', bearer('admin'))
      .expect(405);
    expect(outcomeCode(res.body)).toBe('METHOD_NOT_ALLOWED');
    expect(res.headers.allow).toBe('GET, HEAD');
  });

  it('every status the catalogue uses is an error status', () => {
    for (const definition of Object.values(ERROR_CODES))
      expect(definition.status).toBeGreaterThanOrEqual(400);
  });
});

describe('request ids', () => {
  it('honours a well-formed X-Request-ID', async () => {
    const res = await request(buildTestApp(store))
      .get('/healthz')
      .set('X-Request-ID', 'call-123.abc')
      .expect(200);
    expect(res.headers['x-request-id']).toBe('call-123.abc');
  });

  it('makes a time-ordered id when none (or a malformed one) is sent', async () => {
    const app = buildTestApp(store);
    const uuidV7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
    const plain = await request(app).get('/healthz');
    const malformed = await request(app).get('/healthz').set('X-Request-ID', 'bad id\twith spaces');
    expect(plain.headers['x-request-id']).toMatch(uuidV7);
    expect(malformed.headers['x-request-id']).toMatch(uuidV7);
    expect(malformed.headers['x-request-id']).not.toBe(plain.headers['x-request-id']);
  });
});

describe('API authentication', () => {
  it('without a token answers 401 UNAUTHENTICATED with a Bearer challenge', async () => {
    const res = await request(buildTestApp(store)).get('/api/whoami').expect(401);
    expect(outcomeCode(res.body)).toBe('UNAUTHENTICATED');
    expect(res.headers['www-authenticate']).toBe('Bearer realm="booking-event-collector"');
  });

  it.each([
    ['an unknown token', 'Bearer not-a-configured-token-at-all'],
    ['another scheme', `Basic ${Buffer.from('admin:secret').toString('base64')}`],
    ['a token one character short', `Bearer ${TEST_TOKENS.admin.slice(0, -1)}`],
  ])('with %s answers 401 UNAUTHENTICATED', async (_name, header) => {
    const res = await request(buildTestApp(store))
      .get('/api/whoami')
      .set('Authorization', header)
      .expect(401);
    expect(outcomeCode(res.body)).toBe('UNAUTHENTICATED');
  });

  it('with a valid token names the caller and its roles', async () => {
    const res = await request(buildTestApp(store))
      .get('/api/whoami')
      .set('Authorization', bearer('inspect'))
      .expect(200);
    expect(res.body).toEqual({ name: 'inspect-client', roles: ['inspect'] });
  });

  it('protects every /api path, known or not, before anything else', async () => {
    const res = await request(buildTestApp(store)).get('/api/reports/rep-cons-01').expect(401);
    expect(outcomeCode(res.body)).toBe('UNAUTHENTICATED');
  });
});

describe('logs', () => {
  it('never contain the Authorization value, nor the query string (which can carry NHS numbers)', async () => {
    const { logger, lines } = memoryLogger('debug');
    const app = buildTestApp(store, { logger });
    await request(app)
      .get('/api/whoami?identifier=https://fhir.nhs.uk/Id/nhs-number|9449306680')
      .set('Authorization', bearer('admin'))
      .expect(200);
    await request(app).get('/no-route?patient=9449306680').set('Authorization', bearer('report')).expect(404);
    const text = lines().join('\n');
    expect(lines().length).toBeGreaterThanOrEqual(2);
    expect(text).toContain('"path":"/api/whoami"');
    expect(text).not.toContain('9449306680');
    for (const token of Object.values(TEST_TOKENS)) expect(text).not.toContain(token);
  });

  it('carry the request id and the W3C trace id', async () => {
    const { logger, lines } = memoryLogger();
    await request(buildTestApp(store, { logger }))
      .get('/healthz')
      .set('X-Request-ID', 'req-42')
      .set('traceparent', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01')
      .expect(200);
    const line = JSON.parse(lines().find((l) => l.includes('request completed'))!);
    expect(line).toMatchObject({
      reqId: 'req-42',
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      status: 200,
      path: '/healthz',
    });
  });
});
