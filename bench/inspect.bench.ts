import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { createApp } from '../src/app.js';
import { TokenRegistry } from '../src/auth/token-registry.js';
import { loadConfig } from '../src/config/config.loader.js';
import type { Config } from '../src/config/config.types.js';
import type { BookingOutcome } from '../src/derive/booking-outcome.js';
import { INTERACTION_KINDS } from '../src/fhir/classify.js';
import { createLogger } from '../src/logger.js';
import { createPatientHasher } from '../src/privacy/patient-hash.js';
import { runMigrations } from '../src/store/migrate.js';
import { openStore, type Store } from '../src/store/store.js';
import {
  benchNhsNumbers,
  CONSUMERS,
  PROVIDERS,
  SEED_DAYS,
  SEED_END,
  SEED_VERSION,
  seedExchanges,
} from './inspect-seed.js';
import { percentile, printTable } from './table.js';
import { keptDatabase } from './processes.js';

/*
 * `npm run bench -- inspect`: the inspection API's list query (GET /api/exchanges) with each single
 * filter, through HTTP against the real app over PostgreSQL, on a store of BENCH_INSPECT_EXCHANGES
 * exchanges (default 1 million) and their events (inspect-seed.ts). The target (issue 8): p95 ≤ 200 ms.
 * The seeded database (BENCH_INSPECT_DATABASE) is kept and reused while it holds the same rows; each
 * filter is asked BENCH_INSPECT_REPEATS times (default 30) with varied values, plus a second page for
 * every third answer, then the HAR export of the 1000 newest exchanges of each of three providers is
 * timed to its last byte. Seeding a fresh database takes a few minutes; a progress line follows each chunk.
 */

const EXCHANGES = Number(process.env.BENCH_INSPECT_EXCHANGES ?? 1_000_000);
const REPEATS = Number(process.env.BENCH_INSPECT_REPEATS ?? 30);
const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const DATABASE = process.env.BENCH_INSPECT_DATABASE ?? 'collector_bench_inspect';
const TOKEN = 'bench-inspect-token-0123456789abcdef';
const HASH_SECRET = 'bench-inspect-hash-secret-0123456789abcdef';
const TARGET_MS = 200;

const say = (line: string) => void process.stdout.write(`${line}\n`);

/** The bench database, migrated, and seeded unless it already holds this seed (its comment says so). */
async function benchStore(hash: (nhsNumber: string) => string): Promise<Store> {
  const mark = `${SEED_VERSION}: ${EXCHANGES} exchanges`;
  const database = await keptDatabase(ADMIN_URL, DATABASE, mark);
  const store = await openStore({ databaseUrl: database.url, poolMax: 10 });
  await runMigrations(store.db);
  if (database.reuse) {
    say(`  reusing database ${DATABASE} (${mark})`);
    return store;
  }
  say(`  seeding ${EXCHANGES} exchanges into database ${DATABASE} ...`);
  const started = process.hrtime.bigint();
  await seedExchanges(store.db, EXCHANGES, hash, say);
  say(`  seeded in ${(Number(process.hrtime.bigint() - started) / 1e9).toFixed(0)} s`);
  await database.seeded();
  return store;
}

/** The real app over the bench store, listening on a free local port. */
async function listen(store: Store, hash: (nhsNumber: string) => string): Promise<Server> {
  const base = loadConfig({ env: { DATA_DIR: path.join(tmpdir(), 'bench-inspect'), LOG_LEVEL: 'silent' } });
  const config: Config = {
    ...base,
    hashSecret: HASH_SECRET,
    tokens: [{ name: 'bench-inspector', token: TOKEN, roles: ['inspect'] }],
    providers: PROVIDERS.map((p) => ({
      id: p.id,
      name: p.id,
      baseUrl: `http://127.0.0.1:9/${p.id}`,
      dialect: p.dialect,
      dosServiceIds: [],
      timeouts: { connectMs: 1000, responseMs: 5000 },
      captureFullBodies: false,
    })),
  };
  const app = createApp({
    config,
    store,
    logger: createLogger({ logLevel: 'silent' }),
    clock: () => new Date(SEED_END.getTime() + 10 * 3_600_000),
    tokens: new TokenRegistry(config.tokens),
    patientHash: hash,
  });
  const server = createServer(app).listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return server;
}

interface Page {
  ms: number;
  items: number;
  next: string | null;
  bytes: number;
  /** With free text: the exchanges the server read to answer. */
  scanned?: number;
}

/** One GET, timed to its last byte. */
async function get(url: string): Promise<Page> {
  const started = process.hrtime.bigint();
  const res = await fetch(url, { headers: { authorization: `Bearer ${TOKEN}` } });
  const text = await res.text();
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (res.status !== 200) throw new Error(`GET ${url}: ${res.status} ${text.slice(0, 500)}`);
  if (!url.includes('.har')) {
    const body = JSON.parse(text) as {
      items: unknown[];
      next: string | null;
      search?: { scanned: number };
    };
    return {
      ms,
      items: body.items.length,
      next: body.next,
      bytes: text.length,
      ...(body.search ? { scanned: body.search.scanned } : {}),
    };
  }
  return {
    ms,
    items: (JSON.parse(text) as { log: { entries: unknown[] } }).log.entries.length,
    next: null,
    bytes: Buffer.byteLength(text),
  };
}

function textSearches(words: string[]): string[] {
  return words.flatMap((q) => PROVIDERS.map((p) => `provider=${p.id}&q=${encodeURIComponent(q)}`));
}

/** Values the filters are asked with, drawn from what the store holds. */
async function filterValues(store: Store): Promise<[string, string[]][]> {
  const day = (k: number) => new Date(SEED_END.getTime() - (SEED_DAYS - ((k * 7) % SEED_DAYS)) * 86_400_000);
  const windows = Array.from({ length: 30 }, (_, k) => {
    const from = day(k);
    return `from=${from.toISOString()}&to=${new Date(from.getTime() + 86_400_000).toISOString()}`;
  });
  const ids = await sql<{
    trace_id: string | null;
    correlation_id: string | null;
    request_id: string | null;
  }>`
    select trace_id, correlation_id, request_id from exchanges tablesample system (0.2) repeatable (7) limit 30`.execute(
    store.db,
  );
  const correlations = ids.rows.map(
    (r, k) => (k % 3 === 2 && r.request_id) || r.trace_id || r.correlation_id!,
  );
  const episodes = await sql<{ episode_id: string }>`
    select episode_id from events tablesample system (0.2) repeatable (7) where episode_id is not null limit 30`.execute(
    store.db,
  );
  const rare: BookingOutcome[] = ['duplicate', 'unauthorised', 'unclassified'];
  return [
    ['none', ['']],
    ['from/to (one day)', windows],
    ['provider', PROVIDERS.map((p) => `provider=${p.id}`)],
    ['dialect', ['stu3', 'bars', 'gpconnect'].map((d) => `dialect=${d}`)],
    ['interaction', INTERACTION_KINDS.map((i) => `interaction=${i}`)],
    ['status=500', ['status=500']],
    ['status=4xx', ['status=4xx']],
    ['outcome=slot_unavailable', ['outcome=slot_unavailable']],
    [`outcome (rare: ${rare.join('|')})`, rare.map((o) => `outcome=${o}`)],
    ['transport=timeout', ['transport=timeout']],
    ['consumer', CONSUMERS.map((c) => `consumer=${c}`)],
    ['correlation', correlations.map((c) => `correlation=${c}`)],
    ['episode', episodes.rows.map((r) => `episode=${r.episode_id}`)],
    ['nhsNumber', benchNhsNumbers(30).map((n) => `nhsNumber=${n}`)],
    // Free text in the bodies: words on most exchanges, and error codes on a few in a hundred.
    ['q (common: Slot|booked) + provider', textSearches(['Slot', 'booked'])],
    [
      'q (rare: REC_CONFLICT|REC_SERVER_ERROR) + provider',
      textSearches(['REC_CONFLICT', 'REC_SERVER_ERROR']),
    ],
  ];
}

/** Asks for one filter REPEATS times, its values in turn, and a second page of every third answer. */
async function timeFilter(origin: string, name: string, values: string[]): Promise<(string | number)[]> {
  const times: number[] = [];
  const items: number[] = [];
  const scanned: number[] = [];
  let seconds = 0;
  for (let k = 0; k < REPEATS; k++) {
    const pages = [await get(`${origin}/api/exchanges?${values[k % values.length]}`)];
    if (k % 3 === 2 && pages[0]!.next) pages.push(await get(new URL(pages[0]!.next, origin).toString()));
    seconds += pages.length - 1;
    for (const page of pages) {
      times.push(page.ms);
      items.push(page.items);
      if (page.scanned !== undefined) scanned.push(page.scanned);
    }
  }
  const p95 = percentile(times, 95);
  say(`  ${name}: p95 ${p95.toFixed(1)} ms`);
  return [
    name,
    values.length,
    `${REPEATS} + ${seconds}`,
    percentile(items, 50),
    scanned.length > 0 ? percentile(scanned, 50) : '',
    percentile(times, 50).toFixed(1),
    p95.toFixed(1),
    Math.max(...times).toFixed(1),
    p95 <= TARGET_MS ? 'yes' : 'NO',
  ];
}

/** `npm run bench -- inspect` */
export async function benchInspect(): Promise<void> {
  const hash = createPatientHasher(HASH_SECRET);
  const store = await benchStore(hash);
  const server = await listen(store, hash);
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const stored = await sql<{ exchanges: string; events: string }>`
      select (select count(*) from exchanges) as exchanges, (select count(*) from events) as events`.execute(
      store.db,
    );
    const rows: (string | number)[][] = [];
    const filters = await filterValues(store);
    for (let k = 0; k < 5; k++) await get(`${origin}/api/exchanges`); // warm-up: connections, plans, caches
    for (const [name, values] of filters) rows.push(await timeFilter(origin, name, values));
    const har: Page[] = [];
    for (const p of PROVIDERS.slice(0, 3))
      har.push(await get(`${origin}/api/exchanges.har?provider=${p.id}&limit=1000`));
    say(`\n  store: ${stored.rows[0]!.exchanges} exchanges, ${stored.rows[0]!.events} events (PostgreSQL)`);
    printTable(
      [
        'filter',
        'values',
        'requests (pages 1 + 2)',
        'items (median)',
        'searched (median)',
        'p50 ms',
        'p95 ms',
        'max ms',
        `p95 ≤ ${TARGET_MS} ms`,
      ],
      rows,
    );
    printTable(
      ['HAR export', 'entries', 'bytes', 'ms to last byte'],
      har.map((h, k) => [`provider=${PROVIDERS[k]!.id}&limit=1000`, h.items, h.bytes, h.ms.toFixed(0)]),
    );
  } finally {
    server.close();
    await store.close();
  }
}
