import { createReadStream, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import {
  adminQuery,
  available,
  captureCounters,
  memoryMb,
  requireWrk,
  runWrk,
  startBenchCollector,
  startBenchUpstream,
  startProcess,
  type Started,
  type WrkResult,
} from './processes.js';
import { printTable } from './table.js';

/*
 * `npm run bench -- proxy`: the same load straight to a local provider, through the collector (capture
 * on, PostgreSQL store), through a bare Node.js pass-through (bench/passthrough.ts: what Node alone adds)
 * and through nginx as a plain reverse proxy when it is installed, in one run. First a paced run on each
 * path (BENCH_RATE req/s for BENCH_SECONDS, default 200 for 30 s: about 40 times the national 111 peak)
 * for added latency, then an unpaced run on each for maximum throughput, the collector's last: the
 * backlog it is left with (written, stitched) would otherwise share the cores with the next path's run.
 * wrk's Lua done() prints exact percentiles in microseconds. Afterwards: every exchange is looked for in
 * the store, the capture lag (response end → row written) measured, the collector's memory read from /proc.
 */

const RATE = Number(process.env.BENCH_RATE ?? 200);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 30);
const MAX_SECONDS = Number(process.env.BENCH_MAX_SECONDS ?? 15);
/** How long the collector is given to write the unpaced run's backlog before it is stopped. */
const BACKLOG_LIMIT_S = 180;
const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const PORTS = { upstream: 18601, collector: 18602, nginx: 18603, passthrough: 18604 };
const SEARCH = '/Slot?service=2000011147&status=free&_include=Slot:schedule';

function nginxConfig(dir: string): string {
  const file = path.join(dir, 'nginx.conf');
  writeFileSync(
    file,
    `worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  upstream provider { server 127.0.0.1:${PORTS.upstream}; keepalive 64; }
  server {
    listen 127.0.0.1:${PORTS.nginx};
    location / { proxy_pass http://provider; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_buffering off; }
  }
}
`,
  );
  return file;
}

/** Rows still waiting in a spool (after its replayed offset), counted by streaming it. */
async function spooledRows(spoolFile: string): Promise<number> {
  if (!existsSync(spoolFile)) return 0;
  const offset = existsSync(`${spoolFile}.offset`) ? Number(readFileSync(`${spoolFile}.offset`, 'utf8')) : 0;
  let lines = 0;
  for await (const chunk of createReadStream(spoolFile, { start: offset }) as AsyncIterable<Buffer>) {
    for (const byte of chunk) if (byte === 0x0a) lines += 1;
  }
  return lines;
}

/** The values of the named samples (a metric's name and labels, as exposed) on the collector's /metrics. */
async function sampled(port: number, samples: string[]): Promise<number[]> {
  const exposition = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return samples.map((sample) => {
    const at = exposition.indexOf(`\n${sample} `);
    return at < 0 ? NaN : Number(exposition.slice(at + sample.length + 2, exposition.indexOf('\n', at + 1)));
  });
}

/**
 * Waits (up to BACKLOG_LIMIT_S) for the collector to write what the unpaced run left it: nothing queued
 * in memory, nothing in the spool, and no exchange redacted since the last look (the redaction worker
 * holds the exchanges it has not finished outside the queue). Returns the seconds it took, or null if it
 * had not finished.
 */
async function backlogCleared(port: number): Promise<number | null> {
  const started = Date.now();
  let reported = started;
  let capturedBefore = NaN;
  for (;;) {
    const [queued = NaN, spooled = NaN, captured = NaN] = await sampled(port, [
      'collector_capture_queue_depth',
      'collector_capture_spool_bytes',
      'collector_capture_exchanges_total{result="captured"}',
    ]);
    const seconds = (Date.now() - started) / 1000;
    const redacting = captured !== capturedBefore;
    capturedBefore = captured;
    if (queued === 0 && spooled === 0 && !redacting) return seconds;
    if (seconds > BACKLOG_LIMIT_S) return null;
    if (Date.now() - reported >= 10_000) {
      reported = Date.now();
      process.stdout.write(
        `  collector backlog after ${seconds.toFixed(0)} s: ${queued} queued, ${(spooled / 1e6).toFixed(1)} MB spooled\n`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

interface Row {
  name: string;
  paced: WrkResult;
  max: WrkResult;
}

/** `npm run bench -- proxy` */
export async function benchProxy(): Promise<void> {
  requireWrk();
  const database = `bench_${Date.now().toString(36)}`;
  await adminQuery(ADMIN_URL, `create database ${database}`);
  const dbUrl = new URL(ADMIN_URL);
  dbUrl.pathname = `/${database}`;
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-proxy-'));
  const started: Started[] = [];
  try {
    const upstream = await startBenchUpstream(PORTS.upstream);
    started.push(upstream);
    const { bodyBytes } = upstream;
    const collector = await startBenchCollector({
      dir,
      port: PORTS.collector,
      upstreamPort: PORTS.upstream,
      databaseUrl: dbUrl.toString(),
      logLevel: 'info',
    });
    started.push(collector);
    const passthrough = await startProcess(
      process.execPath,
      [
        '--import',
        'tsx',
        'bench/passthrough.ts',
        String(PORTS.passthrough),
        `http://127.0.0.1:${PORTS.upstream}`,
      ],
      process.env,
      /passthrough listening on/,
    );
    started.push(passthrough);
    let nginx: Started | undefined;
    if (available('nginx')) {
      mkdirSync(path.join(dir, 'nginx'), { recursive: true });
      nginx = await startProcess(
        'nginx',
        ['-c', nginxConfig(path.join(dir, 'nginx')), '-p', path.join(dir, 'nginx')],
        process.env,
        /$/,
        5000,
      );
      started.push(nginx);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }

    const targets: [string, URL][] = [
      ['direct', new URL(`http://127.0.0.1:${PORTS.upstream}/base${SEARCH}`)],
      ['collector', new URL(`http://127.0.0.1:${PORTS.collector}/fhir/bench${SEARCH}`)],
      ['node pass-through', new URL(`http://127.0.0.1:${PORTS.passthrough}/base${SEARCH}`)],
      ...(nginx
        ? ([['nginx', new URL(`http://127.0.0.1:${PORTS.nginx}/base${SEARCH}`)]] as [string, URL][])
        : []),
    ];
    for (const [, url] of targets) runWrk(url, { seconds: 3, connections: 10, threads: 1, rate: RATE }); // warm-up
    const measuredFrom = new Date();
    let pacedUntil = new Date();
    let pacedMemory = { rss: 0, peak: 0 };
    const pacedRuns = new Map<string, WrkResult>();
    for (const [name, url] of targets) {
      process.stdout.write(`  ${name}: ${RATE} req/s for ${SECONDS} s ...\n`);
      pacedRuns.set(name, runWrk(url, { seconds: SECONDS, connections: 10, threads: 1, rate: RATE }));
      if (name === 'collector') {
        pacedUntil = new Date();
        pacedMemory = memoryMb(collector.child.pid!);
      }
    }
    const maxRuns = new Map<string, WrkResult>();
    for (const [name, url] of [...targets].sort(
      ([a], [b]) => Number(a === 'collector') - Number(b === 'collector'),
    )) {
      process.stdout.write(`  ${name}: as fast as it goes for ${MAX_SECONDS} s ...\n`);
      maxRuns.set(name, runWrk(url, { seconds: MAX_SECONDS, connections: 64, threads: 2 }));
    }
    const rows: Row[] = targets.map(([name]) => ({
      name,
      paced: pacedRuns.get(name)!,
      max: maxRuns.get(name)!,
    }));
    const memory = memoryMb(collector.child.pid!);
    const backlog = await backlogCleared(PORTS.collector);
    const counters = await captureCounters(PORTS.collector);
    process.stdout.write(`  capture counters before the stop: ${JSON.stringify(counters)}\n`);
    await collector.stop(); // SIGTERM: the capture queue is drained (or spooled) before it exits
    const spoolFile = path.join(dir, 'data', 'spool', 'exchanges.jsonl');
    const spooled = await spooledRows(spoolFile);
    const problems = collector
      .output()
      .split('\n')
      .filter((line) => /"level":(50|60)/.test(line))
      .slice(-5);
    if (problems.length > 0) process.stdout.write(`  collector errors (last 5):\n${problems.join('\n')}\n`);

    const client = new pg.Client({ connectionString: dbUrl.toString() });
    await client.connect();
    const { rows: stats } = await client.query<{ n: string; p50: number; p99: number; max: number }>(
      `select count(*) as n,
              percentile_cont(0.5) within group (order by extract(epoch from captured_at - ended_at)) as p50,
              percentile_cont(0.99) within group (order by extract(epoch from captured_at - ended_at)) as p99,
              max(extract(epoch from captured_at - ended_at)) as max
       from exchanges where received_at >= $1`,
      [measuredFrom],
    );
    const { rows: paced } = await client.query<{ n: string; p99: number }>(
      `select count(*) as n,
              percentile_cont(0.99) within group (order by extract(epoch from captured_at - ended_at)) as p99
       from exchanges where received_at >= $1 and received_at < $2`,
      [measuredFrom, pacedUntil],
    );
    await client.end();
    const collectorRow = rows.find((r) => r.name === 'collector')!;
    const direct = rows.find((r) => r.name === 'direct')!;
    printTable(
      [
        'path',
        'paced req/s',
        'p50 ms',
        'p90 ms',
        'p99 ms',
        'added p50 ms',
        'added p99 ms',
        'max req/s',
        'max vs direct',
        'errors',
      ],
      rows.map((r) => [
        r.name,
        (r.paced.requests / r.paced.seconds).toFixed(0),
        r.paced.p50.toFixed(3),
        r.paced.p90.toFixed(3),
        r.paced.p99.toFixed(3),
        r.name === 'direct' ? '' : (r.paced.p50 - direct.paced.p50).toFixed(3),
        r.name === 'direct' ? '' : (r.paced.p99 - direct.paced.p99).toFixed(3),
        (r.max.requests / r.max.seconds).toFixed(0),
        (r.max.requests / r.max.seconds / (direct.max.requests / direct.max.seconds)).toFixed(2),
        r.paced.errors + r.max.errors,
      ]),
    );
    printTable(
      [
        'searchset bytes',
        'RSS MB after paced (peak)',
        'RSS MB after max (peak)',
        'paced: answered',
        'paced: rows',
        'paced: lag p99 s',
        'all: answered',
        'all: rows',
        'backlog written in s',
        'left in spool',
        'all: lag p50 s',
        'all: lag p99 s',
      ],
      [
        [
          bodyBytes,
          `${pacedMemory.rss.toFixed(0)} (${pacedMemory.peak.toFixed(0)})`,
          `${memory.rss.toFixed(0)} (${memory.peak.toFixed(0)})`,
          collectorRow.paced.requests,
          paced[0]!.n,
          Number(paced[0]!.p99).toFixed(3),
          collectorRow.paced.requests + collectorRow.max.requests,
          stats[0]!.n,
          backlog === null ? `> ${BACKLOG_LIMIT_S}` : backlog.toFixed(1),
          spooled,
          Number(stats[0]!.p50).toFixed(3),
          Number(stats[0]!.p99).toFixed(3),
        ],
      ],
    );
  } finally {
    for (const process of started.reverse()) await process.stop();
    await adminQuery(ADMIN_URL, `drop database if exists ${database} with (force)`);
  }
}
