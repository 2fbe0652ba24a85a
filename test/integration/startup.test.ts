import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { newId } from '../../src/ids.js';
import { migrations } from '../../migrations/index.js';
import {
  ADMIN_TOKEN_FILE,
  HASH_SECRET_FILE,
  startCollector,
  type RunningCollector,
} from '../../src/server.js';
import { createLogger } from '../../src/logger.js';
import { testConfig } from '../helpers/app.js';
import { createTestDatabase, TEST_ENGINE } from '../helpers/store.js';

const silent = createLogger({ logLevel: 'silent' });

function tempDir(): string {
  return mkdtempSync(path.join(tmpdir(), 'collector-start-'));
}

async function start(
  dataDir: string,
  databaseUrl?: string,
): Promise<{ collector: RunningCollector; printed: string }> {
  let printed = '';
  const collector = await startCollector({
    config: testConfig({
      port: 0,
      host: '127.0.0.1',
      dataDir,
      tokens: [],
      ...(databaseUrl ? { databaseUrl } : {}),
    }),
    logger: silent,
    print: (text) => (printed += text),
  });
  return { collector, printed };
}

describe('starting with no configuration (the embedded store)', () => {
  it('prints the URLs and a generated admin token, and keeps data and token across a restart', async () => {
    const dataDir = tempDir();
    const first = await start(dataDir);
    let tokenFromBanner: string;
    let hashSecret: string;
    try {
      expect(first.printed).toContain(`listening on ${first.collector.url}`);
      expect(first.printed).toContain(`${first.collector.url}/healthz`);
      expect(first.printed).toContain(`embedded PGlite in ${path.join(dataDir, 'pglite')}`);
      tokenFromBanner = /It is shown this once;\nit is kept in .*:\n\n {2}(\S+)\n/.exec(first.printed)![1]!;
      expect(statSync(path.join(dataDir, ADMIN_TOKEN_FILE)).mode & 0o777).toBe(0o600);
      expect(statSync(path.join(dataDir, HASH_SECRET_FILE)).mode & 0o777).toBe(0o600);
      hashSecret = readFileSync(path.join(dataDir, HASH_SECRET_FILE), 'utf8');
      expect(first.printed).not.toContain(hashSecret.trim());

      expect((await fetch(`${first.collector.url}/healthz`)).status).toBe(200);
      const whoami = await fetch(`${first.collector.url}/api/whoami`, {
        headers: { Authorization: `Bearer ${tokenFromBanner}` },
      });
      expect(await whoami.json()).toEqual({ name: 'admin', roles: ['admin'] });

      await first.collector.store.db
        .insertInto('ingest_records')
        .values({
          id: newId(),
          token_name: 'admin',
          client_event_id: 'kept-across-restart',
          type: 'referral.made',
          occurred_at: new Date(),
          received_at: new Date(),
          payload: {},
        })
        .execute();
    } finally {
      await first.collector.stop();
    }

    const second = await start(dataDir);
    try {
      // The token is shown once; afterwards the banner says where it is kept.
      expect(second.printed).not.toContain(tokenFromBanner);
      expect(second.printed).toContain(
        `the generated admin token is in ${path.join(dataDir, ADMIN_TOKEN_FILE)}`,
      );
      const whoami = await fetch(`${second.collector.url}/api/whoami`, {
        headers: { Authorization: `Bearer ${tokenFromBanner}` },
      });
      expect(whoami.status).toBe(200);
      expect(readFileSync(path.join(dataDir, HASH_SECRET_FILE), 'utf8')).toBe(hashSecret);
      const kept = await second.collector.store.db
        .selectFrom('ingest_records')
        .select('client_event_id')
        .execute();
      expect(kept).toEqual([{ client_event_id: 'kept-across-restart' }]);
    } finally {
      await second.collector.stop();
    }
  });
});

describe('graceful shutdown', () => {
  it('finishes in-flight requests, reports SHUTTING_DOWN on /readyz, refuses new connections, closes the store', async () => {
    const { collector } = await start(tempDir());
    const token = (await import('node:fs'))
      .readFileSync(path.join(collector.store.location, '..', ADMIN_TOKEN_FILE), 'utf8')
      .trim();
    const { request } = await import('node:http');

    // An in-flight request: headers sent, body still arriving when the stop begins.
    const inFlight = new Promise<{ status: number; connection: string | undefined; body: string }>(
      (resolve, reject) => {
        const req = request(`${collector.url}/api/whoami`, {
          method: 'GET',
          headers: {
            Authorization: `Bearer ${token}`,
            'Content-Type': 'application/json',
            'Content-Length': '2',
          },
        });
        req.on('response', (res) => {
          let body = '';
          res.on('data', (chunk: Buffer) => (body += chunk.toString()));
          res.on('end', () => resolve({ status: res.statusCode!, connection: res.headers.connection, body }));
        });
        req.on('error', reject);
        req.write('{');
        setTimeout(() => req.end('}'), 300);
      },
    );
    await new Promise((resolve) => setTimeout(resolve, 100));

    const readyBefore = await fetch(`${collector.url}/readyz`);
    expect(readyBefore.status).toBe(200);
    const stopped = collector.stop();
    const answered = await inFlight;
    expect(answered.status).toBe(200);
    expect(JSON.parse(answered.body)).toEqual({ name: 'admin', roles: ['admin'] });
    expect(answered.connection).toBe('close');
    await stopped;

    await expect(fetch(`${collector.url}/healthz`)).rejects.toThrow();
    await expect(sql`select 1`.execute(collector.store.db)).rejects.toThrow();
  });
});

if (TEST_ENGINE === 'postgres') {
  describe('starting with DATABASE_URL (PostgreSQL)', () => {
    it('uses PostgreSQL and runs the migrations once when two instances start at the same moment', async () => {
      const database = await createTestDatabase();
      const started: RunningCollector[] = [];
      try {
        const both = await Promise.all([start(tempDir(), database.url), start(tempDir(), database.url)]);
        started.push(...both.map((b) => b.collector));
        for (const { collector, printed } of both) {
          expect(collector.store.engine).toBe('postgres');
          expect(printed).toMatch(/store {6}PostgreSQL postgres:\/\//);
          expect((await fetch(`${collector.url}/readyz`)).status).toBe(200);
        }
        const applied = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(
          started[0]!.store.db,
        );
        expect(applied.rows.map((r) => r.name)).toEqual(Object.keys(migrations).sort());
      } finally {
        await Promise.all(started.map((c) => c.stop()));
        await database.drop();
      }
    });
  });
} else {
  describe('the embedded store in memory', () => {
    it('is PGlite when no DATABASE_URL is given', async () => {
      const { collector, printed } = await start(tempDir());
      try {
        expect(collector.store.engine).toBe('pglite');
        expect(printed).not.toContain('PostgreSQL');
      } finally {
        await collector.stop();
      }
    });
  });
}
