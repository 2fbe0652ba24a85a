import { ALL_REPORTS, type Dimension } from '../../src/reports/catalogue.js';
import type { ReportQuery } from '../../src/reports/report-query.js';
import { isDistinct, KEYED_LEVELS, keysUniquePerCell, LEVELS, levelFor } from '../../src/reports/rollup.js';

/*
 * Which roll-up level a query reads, and when a distinct measure's monthly rows can be counted without
 * grouping by key again (each key one row per cell). The answers themselves are held to the events'
 * in test/integration/rollups.test.ts; this pins the rule that picks the path.
 */

const report = (id: string) => ALL_REPORTS.find((r) => r.id === id)!;
const query = (
  id: string,
  groupBy: Dimension[],
  filters: ReportQuery['filters'] = {},
): Pick<ReportQuery, 'report' | 'groupBy' | 'filters'> => ({ report: report(id), groupBy, filters });

describe('roll-up levels', () => {
  it('keyed roll-ups keep only provider, disposition and service at levels 1–3; the others keep outcome, error and activity too', () => {
    expect(KEYED_LEVELS.slice(1)).toEqual([
      ['provider_id', 'disposition'],
      ['provider_id'],
      ['provider_id', 'service_id'],
    ]);
    for (const level of LEVELS.slice(1))
      expect(level).toEqual(expect.arrayContaining(['outcome', 'error_code', 'activity']));
  });

  it('distinct measures (and the slots of unknown breach) have the keyed levels; data-quality flags, summed, do not', () => {
    expect(
      ['slotsOffered', 'slotsWithinDeadline', 'slotsBeyondDeadline', 'slotsBreachUnknown'].map(isDistinct),
    ).toEqual([true, true, true, true]);
    expect(
      ['bookings', 'referrals', 'quality:rep-cons-10', 'quality:activity-by-month', 'latency'].map(
        isDistinct,
      ),
    ).toEqual([false, false, false, false, false]);
  });

  it('picks the coarsest level holding every column grouped or filtered by', () => {
    // rep-cons-10 always groups by disposition.
    expect(levelFor(query('rep-cons-10', ['month', 'provider']), true)).toBe(1);
    expect(levelFor(query('rep-prov-03', ['month', 'provider']), true)).toBe(2);
    expect(levelFor(query('rep-prov-03', ['month', 'service']), true)).toBe(3);
    expect(levelFor(query('rep-prov-03', ['month', 'consumer']), true)).toBe(0);
    expect(levelFor(query('rep-prov-03', ['month']), false)).toBe(2);
    expect(levelFor(query('activity-by-month', ['month', 'activity']), false)).toBe(2);
    expect(levelFor(query('activity-by-month', ['month', 'activity']), true)).toBe(0);
  });

  it.each<[string, Dimension[], ReportQuery['filters'], boolean]>([
    ['rep-cons-10', ['month', 'provider'], {}, true],
    ['rep-cons-11', ['month'], { provider: 'provider-3' }, true], // one provider: fixed by the filter
    ['rep-prov-03', ['month', 'provider'], {}, true],
    ['rep-prov-03', ['month', 'provider', 'service'], {}, true],
    ['rep-prov-03', ['month', 'service'], { provider: 'p' }, true],
    ['rep-cons-10', ['month'], {}, false], // several providers' rows in one cell
    ['rep-prov-03', ['month', 'region'], {}, false], // a region holds several providers
    ['rep-prov-03', ['month'], { region: 'E12000007' }, false],
    ['rep-prov-03', ['provider'], {}, false], // twelve months' rows in one cell
    ['rep-prov-03', ['month', 'provider', 'week'], {}, false],
    ['rep-prov-03', ['month', 'consumer'], {}, false], // level 0: daily rows only
    ['rep-cons-11', ['month'], { provider: undefined }, false], // no filter after all
  ])('%s grouped by %j, filtered by %j: each key once per cell is %s', (id, groupBy, filters, unique) => {
    expect(keysUniquePerCell(query(id, groupBy, filters))).toBe(unique);
  });
});
