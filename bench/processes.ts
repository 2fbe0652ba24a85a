import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** A process the benchmark started, with what it printed. */
export interface Started {
  child: ChildProcess;
  output: () => string;
  stop: () => Promise<void>;
}

/** Starts a command and waits until its output matches `ready`. */
export async function startProcess(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  ready: RegExp,
  ms = 30_000,
): Promise<Started> {
  const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output = (output + c.toString()).slice(-20_000)));
  child.stderr.on('data', (c: Buffer) => (output = (output + c.toString()).slice(-20_000)));
  const deadline = Date.now() + ms;
  while (!ready.test(output)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${command} did not become ready:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    output: () => output,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 180_000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

/** Resident set size now and at its peak (kB from /proc, in MB). */
export function memoryMb(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
  return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
}

export interface WrkResult {
  requests: number;
  seconds: number;
  errors: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Runs wrk (paced when `rate` is given) and reads the exact percentiles its Lua `done()` prints (µs → ms). */
export function runWrk(
  url: URL,
  options: { seconds: number; connections: number; threads: number; rate?: number },
): WrkResult {
  const delay = options.rate ? Math.round((options.connections * 1000) / options.rate) : 0;
  const result = spawnSync(
    'wrk',
    [
      `-t${options.threads}`,
      `-c${options.connections}`,
      `-d${options.seconds}s`,
      '--timeout',
      '10s',
      '-s',
      'bench/pace.lua',
      url.origin,
    ],
    {
      env: { ...process.env, WRK_DELAY_MS: String(delay), WRK_PATH: `${url.pathname}${url.search}` },
      encoding: 'utf8',
    },
  );
  const line = /RESULT (.*)/.exec(result.stdout)?.[1];
  if (!line) throw new Error(`wrk failed: ${result.stdout}${result.stderr}`);
  const n = (key: string) => Number(new RegExp(`${key}=(\\d+)`).exec(line)![1]);
  return {
    requests: n('requests'),
    seconds: n('duration_us') / 1e6,
    errors: n('errors'),
    p50: n('p50') / 1000,
    p90: n('p90') / 1000,
    p99: n('p99') / 1000,
    max: n('max') / 1000,
  };
}

/** Whether a command is on the PATH. */
export function available(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`]).status === 0;
}

/** Runs one statement on the PostgreSQL server the benchmarks use, outside their own databases. */
export async function adminQuery(
  adminUrl: string,
  sql: string,
  values: unknown[] = [],
): Promise<Record<string, unknown>[]> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    return (await client.query(sql, values)).rows as Record<string, unknown>[];
  } finally {
    await client.end();
  }
}

/**
 * A benchmark database kept between runs, for seeds that take minutes to make: its comment names the
 * seed it holds, and one holding another (or none) is dropped and made anew. `reuse`: it holds `seed`
 * already; `seeded()` records the seed once it is in.
 */
export async function keptDatabase(
  adminUrl: string,
  name: string,
  seed: string,
): Promise<{ url: string; reuse: boolean; seeded: () => Promise<void> }> {
  const found = await adminQuery(
    adminUrl,
    `select shobj_description(oid, 'pg_database') as note from pg_database where datname = $1`,
    [name],
  );
  const reuse = found[0]?.note === seed;
  if (found.length > 0 && !reuse) await adminQuery(adminUrl, `drop database ${name} with (force)`);
  if (!reuse) await adminQuery(adminUrl, `create database ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const comment = seed.replaceAll("'", "''");
  return {
    url: url.toString(),
    reuse,
    seeded: async () => void (await adminQuery(adminUrl, `comment on database ${name} is '${comment}'`)),
  };
}

/**
 * A collector process for a benchmark: one provider `bench` at the local upstream, PostgreSQL at
 * `databaseUrl` (the embedded store without it), data under `dir/data`. Resolves once it listens.
 */
export async function startBenchCollector(options: {
  dir: string;
  port: number;
  upstreamPort: number;
  databaseUrl?: string;
  logLevel: string;
}): Promise<Started> {
  const config = path.join(options.dir, 'collector.yaml');
  writeFileSync(
    config,
    `port: ${options.port}\nhost: 127.0.0.1\nlogLevel: ${options.logLevel}\nproviders:\n  - { id: bench, baseUrl: "http://127.0.0.1:${options.upstreamPort}/base", dialect: stu3 }\n`,
  );
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATA_DIR: path.join(options.dir, 'data'),
    CONFIG: config,
  };
  if (options.databaseUrl) env.DATABASE_URL = options.databaseUrl;
  else delete env.DATABASE_URL;
  delete env.NODE_OPTIONS;
  // As `npm start` runs it.
  return startProcess(
    process.execPath,
    ['--initial-old-space-size=128', '--import', 'tsx', 'src/main.ts'],
    env,
    /listening on/,
    60_000,
  );
}

/** Throws unless wrk is installed: the proxy benches pace requests with it and read its exact percentiles. */
export function requireWrk(): void {
  if (!available('wrk'))
    throw new Error('wrk is needed (apt-get install wrk): it paces requests and measures in microseconds');
}

/** The benches' provider (bench/upstream.ts) on `port`, serving the slot searchset; with its body's size. */
export async function startBenchUpstream(port: number): Promise<Started & { bodyBytes: number }> {
  const upstream = await startProcess(
    process.execPath,
    ['--import', 'tsx', 'bench/upstream.ts', String(port)],
    process.env,
    /upstream listening on \d+ body (\d+)/,
  );
  return { ...upstream, bodyBytes: Number(/body (\d+)/.exec(upstream.output())![1]) };
}

/** The collector's capture counters (captured, written, spooled, replayed, dropped) from its /metrics. */
export async function captureCounters(port: number): Promise<Record<string, number>> {
  const exposition = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return Object.fromEntries(
    [...exposition.matchAll(/^collector_capture_exchanges_total\{result="(\w+)"\} (\d+)$/gm)].map((m) => [
      m[1]!,
      Number(m[2]),
    ]),
  );
}
