import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createLogger } from '../../src/logger.js';
import { REPORTS } from '../../src/reports/catalogue.js';
import { runDemo, type GroundTruth } from '../../src/sandbox/demo.js';
import { startCollector, type RunningCollector } from '../../src/server.js';
import { TEST_TOKENS, testConfig } from '../helpers/app.js';
import { createTestDatabase, TEST_ENGINE } from '../helpers/store.js';

/*
 * The traffic generator's ground truth against the collector's reports: simulated 111 calls through a
 * running collector (capture, derivation, ingest, stitching all real), then every national metric the
 * generator keeps a count of, number for number.
 */

let collector: RunningCollector;
let dropDatabase: (() => Promise<void>) | undefined;
let truth: GroundTruth;

beforeAll(async () => {
  let databaseUrl: string | undefined;
  if (TEST_ENGINE === 'postgres') {
    const database = await createTestDatabase();
    databaseUrl = database.url;
    dropDatabase = database.drop;
  }
  collector = await startCollector({
    config: testConfig({
      port: 0,
      host: '127.0.0.1',
      dataDir: mkdtempSync(path.join(tmpdir(), 'collector-truth-')),
      ...(databaseUrl ? { databaseUrl } : {}),
    }),
    logger: createLogger({ logLevel: 'silent' }),
    print: () => undefined,
  });
  truth = await runDemo({ collector: collector.url, calls: 60, seed: 11, token: TEST_TOKENS.admin });
  await collector.capture.drain();
  await collector.stitcher.settled();
}, 120_000);

afterAll(async () => {
  await collector.stop();
  await dropDatabase?.();
});

describe('the ground truth of simulated calls', () => {
  it('has every kind of call in it', () => {
    const c = truth.counts;
    expect(truth.calls).toBe(60);
    // Every national metric has its truth.
    expect(Object.keys(c).sort()).toEqual(REPORTS.map((r) => r.id).sort());
    for (const [id, measure] of [
      ['rep-prov-04', 'referralsNotBooked'],
      ['rep-cons-04', 'slotUnavailable'],
      ['rep-cons-07', 'cancelledSameEncounter'],
      ['rep-cons-08', 'rebookings'],
      ['rep-cons-09', 'cancelledLater'],
      ['rep-cons-10', 'slotsWithinDeadline'],
      ['rep-cons-11', 'slotsBeyondDeadline'],
      ['rep-cons-02', 'referralsNotBooked'],
      ['rep-cons-03', 'referralsNotBooked'],
      ['rep-cons-12', 'referralsNotBooked'],
      ['rep-cons-05', 'topBookableRejected'],
    ] as const)
      expect({ id, count: c[id]![measure]! > 0 }).toEqual({ id, count: true });
  });

  it('equals the collector’s reports, number for number', async () => {
    const today = new Date();
    const from = new Date(today.getTime() - 86_400_000).toISOString().slice(0, 10);
    const to = new Date(today.getTime() + 2 * 86_400_000).toISOString().slice(0, 10);
    const reported: Record<string, Record<string, number>> = {};
    for (const id of Object.keys(truth.counts)) {
      const res = await fetch(`${collector.url}/api/reports/${id}?from=${from}&to=${to}`, {
        headers: { Authorization: `Bearer ${TEST_TOKENS.report}` },
      });
      expect(res.status).toBe(200);
      const { totals } = (await res.json()) as { totals: Record<string, number> };
      reported[id] = Object.fromEntries(Object.keys(truth.counts[id]!).map((m) => [m, totals[m]!]));
    }
    expect(reported).toEqual(truth.counts);
  });
});
