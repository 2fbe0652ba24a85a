import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  captureCounters,
  memoryMb,
  requireWrk,
  runWrk,
  startBenchCollector,
  startBenchUpstream,
  type Started,
} from './processes.js';
import { printTable } from './table.js';

/*
 * `npm run bench -- embedded`: the collector as `npm start` runs it with nothing configured, on the
 * embedded store (PGlite), with the proxy bench's provider and paced load (BENCH_RATE req/s, default 200).
 * Rounds alternate straight to the provider and through the collector (BENCH_ROUNDS of BENCH_SECONDS,
 * default 3 of 15 s), so both see the machine as it is at the time; afterwards the collector's own
 * counters say whether every exchange was written.
 */

const RATE = Number(process.env.BENCH_RATE ?? 200);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 15);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const PORTS = { upstream: 18611, collector: 18612 };
const SEARCH = '/Slot?service=2000011147&status=free&_include=Slot:schedule';

/** `npm run bench -- embedded` */
export async function benchEmbedded(): Promise<void> {
  requireWrk();
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-embedded-'));
  const started: Started[] = [];
  try {
    started.push(await startBenchUpstream(PORTS.upstream));
    const collector = await startBenchCollector({
      dir,
      port: PORTS.collector,
      upstreamPort: PORTS.upstream,
      logLevel: 'warn',
    });
    started.push(collector);
    const direct = new URL(`http://127.0.0.1:${PORTS.upstream}/base${SEARCH}`);
    const through = new URL(`http://127.0.0.1:${PORTS.collector}/fhir/bench${SEARCH}`);
    const paced = { connections: 10, threads: 1, rate: RATE };
    let answered = runWrk(through, { ...paced, seconds: 3 }).requests; // warm-up
    const rows: (string | number)[][] = [];
    let peakRss = 0;
    for (let round = 1; round <= ROUNDS; round++) {
      process.stdout.write(
        `  round ${round} of ${ROUNDS}: ${SECONDS} s direct, ${SECONDS} s through the collector\n`,
      );
      const straight = runWrk(direct, { ...paced, seconds: SECONDS });
      const proxied = runWrk(through, { ...paced, seconds: SECONDS });
      answered += proxied.requests;
      const rss = memoryMb(collector.child.pid!).rss;
      peakRss = Math.max(peakRss, rss);
      rows.push([
        round,
        straight.p50.toFixed(3),
        straight.p99.toFixed(3),
        proxied.p50.toFixed(3),
        proxied.p99.toFixed(3),
        (proxied.p50 - straight.p50).toFixed(3),
        (proxied.p99 - straight.p99).toFixed(3),
        proxied.max.toFixed(1),
        proxied.errors,
        rss.toFixed(0),
      ]);
    }
    // Capture writes within a batch interval of the last response; give it a moment.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const counters = await captureCounters(PORTS.collector);
    printTable(
      [
        'round',
        'direct p50 ms',
        'direct p99 ms',
        'collector p50 ms',
        'collector p99 ms',
        'added p50 ms',
        'added p99 ms',
        'collector max ms',
        'errors',
        'RSS MB',
      ],
      rows,
    );
    process.stdout.write(
      `  answered through the collector (warm-up included): ${answered}; captured ${counters.captured}, ` +
        `written ${counters.written}, spooled ${counters.spooled}, dropped ${counters.dropped}; RSS peak seen ${peakRss.toFixed(0)} MB, ` +
        `process peak ${memoryMb(collector.child.pid!).peak.toFixed(0)} MB\n`,
    );
  } finally {
    for (const child of started.reverse()) await child.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
