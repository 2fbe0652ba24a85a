import { spawn } from 'node:child_process';
import { createReadStream, existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { adminQuery, available, startBenchCollector, startProcess, type Started } from './processes.js';
import { printTable } from './table.js';

/*
 * `npm run bench -- crash`: how much does SIGKILL lose? A collector (PostgreSQL store) takes paced
 * traffic (BENCH_RATE req/s, default 200) from wrk; after 5 s it is killed with SIGKILL. Then: how many
 * requests were answered (wrk's count), how many exchanges are in the store or waiting in the spool, and
 * so how many answered exchanges were lost: those still in memory (the queue, the redaction worker).
 */

const RATE = Number(process.env.BENCH_RATE ?? 200);
const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const PORTS = { upstream: 18611, collector: 18612 };

async function lines(file: string, fromOffset: number): Promise<number> {
  if (!existsSync(file)) return 0;
  let n = 0;
  for await (const chunk of createReadStream(file, { start: fromOffset }) as AsyncIterable<Buffer>)
    for (const b of chunk) if (b === 0x0a) n += 1;
  return n;
}

/** `npm run bench -- crash` */
export async function benchCrash(): Promise<void> {
  if (!available('wrk')) throw new Error('wrk is needed (apt-get install wrk)');
  const database = `crash_${Date.now().toString(36)}`;
  await adminQuery(ADMIN_URL, `create database ${database}`);
  const dbUrl = new URL(ADMIN_URL);
  dbUrl.pathname = `/${database}`;
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-crash-'));
  const started: Started[] = [];
  try {
    started.push(
      await startProcess(
        process.execPath,
        ['--import', 'tsx', 'bench/upstream.ts', String(PORTS.upstream)],
        process.env,
        /upstream listening/,
      ),
    );
    const collector = await startBenchCollector({
      dir,
      port: PORTS.collector,
      upstreamPort: PORTS.upstream,
      databaseUrl: dbUrl.toString(),
      logLevel: 'warn',
    });
    started.push(collector);

    const connections = 10;
    const wrk = spawn(
      'wrk',
      [
        '-t1',
        `-c${connections}`,
        '-d8s',
        '--timeout',
        '2s',
        '-s',
        'bench/pace.lua',
        `http://127.0.0.1:${PORTS.collector}`,
      ],
      {
        env: {
          ...process.env,
          WRK_DELAY_MS: String(Math.round((connections * 1000) / RATE)),
          WRK_PATH: '/fhir/bench/Slot?service=2000011147',
        },
      },
    );
    let out = '';
    wrk.stdout.on('data', (c: Buffer) => (out += c.toString()));
    const wrkDone = new Promise((resolve) => wrk.once('exit', resolve));
    process.stdout.write(`  ${RATE} req/s through the collector; SIGKILL after 5 s ...\n`);
    await new Promise((resolve) => setTimeout(resolve, 5000));
    collector.child.kill('SIGKILL');
    await wrkDone;
    const answered = Number(/requests=(\d+)/.exec(out)?.[1] ?? NaN);
    const errors = Number(/errors=(\d+)/.exec(out)?.[1] ?? NaN);

    const client = new pg.Client({ connectionString: dbUrl.toString() });
    await client.connect();
    const stored = Number(
      (await client.query<{ n: string }>('select count(*) as n from exchanges where response_status = 200'))
        .rows[0]!.n,
    );
    await client.end();
    const spoolFile = path.join(dir, 'data', 'spool', 'exchanges.jsonl');
    const offset = existsSync(`${spoolFile}.offset`)
      ? Number(readFileSync(`${spoolFile}.offset`, 'utf8'))
      : 0;
    const spooled = await lines(spoolFile, offset);
    const lost = Math.max(0, answered - stored - spooled);
    printTable(
      [
        'rate req/s',
        'answered before the kill',
        'in the store',
        'in the spool',
        'lost',
        'lost as time at this rate (ms)',
        'wrk errors after the kill',
      ],
      [[RATE, answered, stored, spooled, lost, ((lost / RATE) * 1000).toFixed(0), errors]],
    );
  } finally {
    for (const p of started.reverse()) await p.stop();
    await adminQuery(ADMIN_URL, `drop database if exists ${database} with (force)`);
  }
}
