import { REPORTS } from '../../src/reports/catalogue.js';
import type { GroundTruth } from '../../src/sandbox/demo/run-demo.js';
import type { RunningCollector } from '../../src/server.js';
import { simulateCalls, startTestCollector } from '../helpers/collector.js';
import { TEST_TOKENS } from '../helpers/app.js';

/*
 * The traffic generator's ground truth against the collector's reports: simulated 111 calls in all
 * three dialects through a running collector (capture, derivation, ingest, stitching all real), then
 * every national metric, number for number, and the cells the counting rules are per (failed attempts
 * per outcome, slots per disposition, referrals and bookings per provider and service).
 */

const CALLS = 240;

let collector: RunningCollector;
let stopCollector: () => Promise<void>;
let truth: GroundTruth;

beforeAll(async () => {
  ({ collector, stop: stopCollector } = await startTestCollector('collector-truth'));
  truth = await simulateCalls(collector, { calls: CALLS, seed: 11 });
}, 300_000);

afterAll(async () => {
  await stopCollector();
});

/** A report's answer over the days around now. */
async function report(id: string, groupBy?: string): Promise<{ totals: any; rows: any[] }> {
  const today = new Date();
  const from = new Date(today.getTime() - 86_400_000).toISOString().slice(0, 10);
  const to = new Date(today.getTime() + 2 * 86_400_000).toISOString().slice(0, 10);
  const res = await fetch(
    `${collector.url}/api/reports/${id}?from=${from}&to=${to}${groupBy ? `&groupBy=${groupBy}` : ''}`,
    { headers: { Authorization: `Bearer ${TEST_TOKENS.report}` } },
  );
  expect(res.status).toBe(200);
  return (await res.json()) as { totals: any; rows: any[] };
}

describe('the ground truth of simulated calls', () => {
  it('has every kind of call in it, in every dialect', () => {
    const c = truth.counts;
    expect(truth.calls).toBe(CALLS);
    expect(Object.values(truth.dialects).reduce((a, b) => a + b, 0)).toBe(CALLS);
    for (const [dialect, calls] of Object.entries(truth.dialects))
      expect({ dialect, some: calls > 20 }).toEqual({ dialect, some: true });
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
      ['rep-cons-02', 'noSearch'],
      ['rep-cons-03', 'referralsNotBooked'],
      ['rep-cons-12', 'referralsNotBooked'],
      ['rep-cons-05', 'topBookableRejected'],
    ] as const)
      expect({ id, measure, count: c[id]![measure]! > 0 }).toEqual({ id, measure, count: true });
    // Booking attempts failed in every way the providers were made to fail them.
    expect(Object.keys(truth.cells['rep-cons-06']!.rows).sort()).toEqual([
      'duplicate',
      'provider_error',
      'rejected',
      'slot_unavailable',
      'unauthorised',
    ]);
    // Many dispositions, the working-day ones among them.
    expect(Object.keys(truth.cells['rep-cons-10']!.rows).length).toBeGreaterThan(10);
    expect(Object.keys(truth.cells['rep-cons-10']!.rows)).toEqual(expect.arrayContaining(['Dx75']));
  });

  it('equals the collector’s reports, number for number', async () => {
    const reported: Record<string, Record<string, number>> = {};
    for (const id of Object.keys(truth.counts)) {
      const { totals } = await report(id);
      reported[id] = Object.fromEntries(Object.keys(truth.counts[id]!).map((m) => [m, totals[m]]));
    }
    expect(reported).toEqual(truth.counts);
  });

  it('equals them cell for cell: failures per outcome, slots per disposition, bookings and referrals per provider and service', async () => {
    const reported: GroundTruth['cells'] = {};
    for (const [id, { by, rows: expected }] of Object.entries(truth.cells)) {
      const measures = Object.keys(Object.values(expected)[0]!);
      const cells: Record<string, Record<string, number>> = {};
      for (const row of (await report(id, by)).rows) {
        const key = by
          .split(',')
          .map((dimension) => String(row[dimension]))
          .join('|');
        const cell = (cells[key] ??= Object.fromEntries(measures.map((m) => [m, 0])));
        for (const m of measures) cell[m]! += row[m];
      }
      const counted = Object.entries(cells).filter(([, cell]) => Object.values(cell).some((n) => n > 0));
      reported[id] = { by, rows: Object.fromEntries(counted.sort(([a], [b]) => (a < b ? -1 : 1))) };
    }
    expect(reported).toEqual(truth.cells);
  });
});
