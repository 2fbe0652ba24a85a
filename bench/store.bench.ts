import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { storeBody } from '../src/capture/stored-body.js';
import { newId } from '../src/ids.js';
import { runMigrations } from '../src/store/migrate.js';
import { openStore, type Store } from '../src/store/store.js';
import type { NewExchangeRow } from '../src/store/tables/exchange.table.js';
import { percentile, printTable } from './table.js';

/*
 * How fast can the capture pipeline write exchanges? Inserts redacted-size exchange rows in transactions
 * of 1, 10, 100 and 500 rows, on the embedded store (on disk) and on PostgreSQL, and reports rows per
 * second and the latency of one batch. The capture pipeline's batch size and interval come from this.
 */

const ROWS_PER_RUN = Number(process.env.BENCH_STORE_ROWS ?? 6000);
const BATCH_SIZES = [1, 10, 100, 500];
/** A redacted slot searchset keeps its structure and loses its free text: a few KB per response. */
const RESPONSE_BODY = JSON.stringify({
  resourceType: 'Bundle',
  type: 'searchset',
  entry: Array.from({ length: 20 }, (_, i) => ({
    fullUrl: `https://provider.example/Slot/${i}`,
    resource: { resourceType: 'Slot', id: `slot-${i}`, status: 'free', start: '2026-11-22T10:00:00+00:00' },
  })),
});
/** Stored as capture stores it: compressed. */
const STORED = storeBody(RESPONSE_BODY);

function exchangeRow(): NewExchangeRow {
  const now = new Date();
  return {
    id: newId(),
    received_at: now,
    route: 'fhir',
    provider_id: 'bench',
    dialect: 'stu3',
    interaction: 'slot-search',
    method: 'GET',
    path: '/Slot',
    query: 'status=free&start=ge2026-11-22',
    request_headers: { accept: 'application/fhir+json', 'ssp-traceid': newId() },
    response_status: 200,
    response_headers: { 'content-type': 'application/fhir+json' },
    response_body: STORED.body,
    response_body_encoding: STORED.encoding,
    response_size: RESPONSE_BODY.length,
    transport_outcome: 'ok',
    trace_id: newId(),
    ended_at: now,
    total_ms: 12.5,
    upstream_ms: 12.1,
  };
}

interface Result {
  engine: string;
  batch: number;
  rowsPerSecond: number;
  p50: number;
  p99: number;
}

async function measure(store: Store, batch: number): Promise<Result> {
  const latencies: number[] = [];
  const batches = Math.max(1, Math.floor(ROWS_PER_RUN / batch));
  const started = process.hrtime.bigint();
  for (let i = 0; i < batches; i++) {
    const rows = Array.from({ length: batch }, exchangeRow);
    const t0 = process.hrtime.bigint();
    await store.db.transaction().execute((trx) => trx.insertInto('exchanges').values(rows).execute());
    latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return {
    engine: store.engine,
    batch,
    rowsPerSecond: Math.round((batches * batch) / seconds),
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
  };
}

async function withPostgres(url: string, run: (store: Store) => Promise<void>): Promise<void> {
  const schema = `bench_${Date.now().toString(36)}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`create schema ${schema}`);
  const store = await openStore({ databaseUrl: url, schema });
  try {
    await runMigrations(store.db);
    await run(store);
  } finally {
    await store.close();
    await admin.query(`drop schema ${schema} cascade`);
    await admin.end();
  }
}

/** `npm run bench -- store` */
export async function benchStore(): Promise<void> {
  const results: Result[] = [];
  const runAll = async (store: Store): Promise<void> => {
    for (const batch of BATCH_SIZES) {
      process.stdout.write(`  ${store.engine}: ${ROWS_PER_RUN} rows in batches of ${batch} ...\n`);
      results.push(await measure(store, batch));
    }
  };

  const dir = mkdtempSync(path.join(tmpdir(), 'bench-pglite-'));
  const pglite = await openStore({ pgliteDir: path.join(dir, 'pglite') });
  try {
    await runMigrations(pglite.db);
    await runAll(pglite);
  } finally {
    await pglite.close();
    rmSync(dir, { recursive: true, force: true });
  }

  const url = process.env.BENCH_DATABASE_URL ?? process.env.DATABASE_URL;
  if (url) await withPostgres(url, runAll);
  else process.stdout.write('  (set BENCH_DATABASE_URL to measure PostgreSQL too)\n');

  printTable(
    ['engine', 'rows per batch', 'rows/s', 'batch p50 ms', 'batch p99 ms'],
    results.map((r) => [r.engine, r.batch, r.rowsPerSecond, r.p50.toFixed(2), r.p99.toFixed(2)]),
  );
}
