import { REPORTS } from '../../src/reports/catalogue.js';
import { runDemo, type GroundTruth } from '../../src/sandbox/demo.js';
import type { RunningCollector } from '../../src/server.js';
import { startTestCollector } from '../helpers/collector.js';
import { TEST_TOKENS } from '../helpers/app.js';

/*
 * The traffic generator's ground truth against the collector's reports: simulated 111 calls through a
 * running collector (capture, derivation, ingest, stitching all real), then every national metric the
 * generator keeps a count of, number for number.
 */

let collector: RunningCollector;
let stopCollector: () => Promise<void>;
let truth: GroundTruth;

beforeAll(async () => {
  ({ collector, stop: stopCollector } = await startTestCollector('collector-truth'));
  truth = await runDemo({ collector: collector.url, calls: 60, seed: 11, token: TEST_TOKENS.admin });
  await collector.capture.drain();
  await collector.stitcher.settled();
}, 120_000);

afterAll(async () => {
  await stopCollector();
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
