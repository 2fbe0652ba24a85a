import { sql, type RawBuilder } from 'kysely';
import { seed } from '../../bench/reports.bench.js';
import { RULE_VERSION } from '../../src/derive/derive.js';
import { ALL_REPORTS, type Dimension } from '../../src/reports/catalogue.js';
import type { ReportQuery } from '../../src/reports/report-query.js';
import { refreshRollups } from '../../src/reports/rollup-build.js';
import { RollupKeeper } from '../../src/reports/rollup-keeper.js';
import { splitPeriod, wholeMonths } from '../../src/reports/rollup-query.js';
import { MONTHLY } from '../../src/reports/rollup.js';
import { runReport } from '../../src/reports/run-report.js';
import { openTestStore, type TestStore } from '../helpers/store.js';

/*
 * Report roll-ups give the very answers the events give, for every report, grouped and filtered, over
 * whole days and partial ones; and they stay right as events arrive late, episodes change and events are
 * rebuilt: a changed day is counted from the events until it is built again.
 */

const TZ = 'Europe/London';
let store: TestStore;
beforeAll(async () => {
  store = await openTestStore();
  for (const table of ['events', 'episode_keys', 'episodes', 'report_rollup_days', 'report_rollups'])
    await sql`delete from ${sql.table(table)}`.execute(store.db);
  await sql`delete from report_rollup_dirty`.execute(store.db);
  await sql`delete from report_rollup_settings`.execute(store.db);
  // 3,000 events of 600 episodes over the 12 months from November 2025 (the benchmark's shape).
  await seed(store.db, 3_000, () => undefined);
});
afterAll(() => store.dispose());

const YEAR = { from: { date: '2025-11-01' }, to: { date: '2026-11-01' } } as const;
const context = {
  regions: { 'provider-1': 'E12000007', 'provider-2': 'E12000008' },
  population: new Map(),
  connected: { E12000007: 3 },
};

function query(id: string, over: Partial<ReportQuery> = {}): ReportQuery {
  return {
    report: ALL_REPORTS.find((r) => r.id === id)!,
    ...YEAR,
    groupBy: ['month', 'provider'],
    filters: {},
    timezone: TZ,
    context,
    ...over,
  };
}

/** A report's answer from the events alone and with the roll-ups: they must be the same. */
async function both(q: ReportQuery) {
  const fromEvents = await runReport(store.db, { ...q, useRollups: false });
  const withRollups = await runReport(store.db, q);
  return { fromEvents, withRollups };
}

const dirtyDays = async () =>
  (
    await sql<{ day: string }>`select distinct day::text as day from report_rollup_dirty order by 1`.execute(
      store.db,
    )
  ).rows.map((r) => r.day);

describe('report roll-ups', () => {
  it('are built for every day before today, from the first event, and a year is then read from them', async () => {
    const before = await splitPeriod(store.db, query('rep-prov-01'));
    expect(before.days).toEqual([]);
    const round = await refreshRollups(store.db, TZ);
    expect(round.built).toBeGreaterThan(365);
    expect(round.waiting).toBe(0);
    const split = await splitPeriod(store.db, query('rep-prov-01'));
    expect(split.days).toHaveLength(365);
    expect(split.raw).toEqual([]);
    // Twelve whole months: read from the monthly rows.
    expect(wholeMonths(split.days)).toEqual({
      months: [
        '2025-11-01',
        '2025-12-01',
        ...Array.from({ length: 10 }, (_, i) => `2026-${String(i + 1).padStart(2, '0')}-01`),
      ],
      rest: [],
    });
    const { rows } = await sql<{ n: number }>`select count(*)::int as n from report_rollups
      where level >= ${MONTHLY} and day = '2026-11-01'`.execute(store.db);
    expect(rows[0]!.n).toBe(0); // November 2026 is not over
    // Nothing left to do: a second round builds nothing.
    expect((await refreshRollups(store.db, TZ)).built).toBe(0);
  }, 120_000); // a year of days built one transaction each: some 16 s alone, twice that beside another test file

  it.each(ALL_REPORTS.map((r) => r.id))(
    '%s: the same answer from the roll-ups as from the events',
    async (id) => {
      const { fromEvents, withRollups } = await both(query(id));
      expect(withRollups).toEqual(fromEvents);
      expect(Object.values(fromEvents.totals).some((v) => typeof v === 'number' && v > 0)).toBe(true);
    },
  );

  it.each<[string, Dimension[], Record<string, string>]>([
    ['rep-cons-10', ['week', 'consumer'], { provider: 'provider-3' }],
    ['rep-prov-03', ['weekday', 'service'], {}],
    ['rep-cons-06', ['day'], { region: 'E12000007' }],
    ['provider-latency', ['region'], { disposition: 'Dx05' }],
    ['activity-by-weekday', ['activity'], {}],
    ['rep-cons-01', ['practice'], { provider: 'provider-4' }],
    // Distinct slots by month and every column of their level (each key one row per cell), and not.
    ['rep-cons-11', ['month'], { provider: 'provider-3' }],
    ['rep-prov-03', ['month', 'provider', 'service'], {}],
    ['rep-prov-03', ['month', 'region'], {}],
    ['rep-cons-10', ['month'], {}],
  ])('%s grouped by %j and filtered by %j: the same answer', async (id, groupBy, filters) => {
    const { fromEvents, withRollups } = await both(query(id, { groupBy, filters }));
    expect(withRollups).toEqual(fromEvents);
  });

  it('counts partial days at either end of a period from the events, whole days from the roll-ups', async () => {
    const q = query('rep-prov-03', {
      from: { instant: '2026-03-10T13:30:00Z' },
      to: { instant: '2026-04-02T08:00:00+01:00' },
    });
    const split = await splitPeriod(store.db, q);
    expect(split.days[0]).toBe('2026-03-11');
    expect(split.days.at(-1)).toBe('2026-04-01');
    expect(split.raw).toEqual([
      { from: '2026-03-10T13:30:00.000Z', to: '2026-03-11T00:00:00.000Z' },
      { from: '2026-04-01T23:00:00.000Z', to: '2026-04-02T07:00:00.000Z' },
    ]);
    const { fromEvents, withRollups } = await both(q);
    expect(withRollups).toEqual(fromEvents);
  });

  it('a late event marks its built day dirty: counted from the events until rebuilt, then from the roll-up', async () => {
    const q = query('rep-prov-01', { from: { date: '2026-05-01' }, to: { date: '2026-06-01' } });
    const before = await runReport(store.db, q);
    await sql`insert into events (id, occurred_at, type, source_kind, source_id, rule_version, provider_id,
        attributes, data_quality)
      values (gen_random_uuid(), '2026-05-14T10:00:00Z', 'booking.attempted', 'ingest', gen_random_uuid(),
        ${RULE_VERSION}, 'provider-1', '{"outcome": "booked", "succeeded": true}', array['ingested-late'])`.execute(
      store.db,
    );
    expect(await dirtyDays()).toEqual(['2026-05-14']);
    expect((await splitPeriod(store.db, q)).days).not.toContain('2026-05-14');
    const late = await both(q);
    expect(late.withRollups).toEqual(late.fromEvents);
    expect(late.withRollups.totals.bookings).toBe(Number(before.totals.bookings) + 1);
    expect(late.withRollups.dataQuality.ingestedLate).toBe(1);

    expect((await refreshRollups(store.db, TZ)).built).toBe(1);
    expect(await dirtyDays()).toEqual([]);
    expect((await splitPeriod(store.db, q)).days).toContain('2026-05-14');
    expect(await runReport(store.db, q)).toEqual(late.fromEvents);
  });

  it('an episode that changes (a booking stitched in) marks its referrals’ days; a deleted event its day', async () => {
    const q = query('rep-prov-04', { from: { date: '2026-02-01' }, to: { date: '2026-03-01' } });
    const before = await runReport(store.db, q);
    const { rows } = await sql<{ episode_id: string; day: string }>`
      select e.episode_id, (e.occurred_at at time zone ${TZ})::date::text as day
      from events e join episodes p on p.id = e.episode_id
      where e.type = 'referral.made' and (p.attributes->>'bookings')::int = 0
        and e.occurred_at >= '2026-02-10' and e.occurred_at < '2026-02-20'
      order by e.occurred_at limit 1`.execute(store.db);
    const { episode_id: episode, day } = rows[0]!;
    await sql`update episodes set attributes = attributes || '{"bookings": 1}' where id = ${episode}`.execute(
      store.db,
    );
    expect(await dirtyDays()).toContain(day);
    const changed = await both(q);
    expect(changed.withRollups).toEqual(changed.fromEvents);
    expect(changed.withRollups.totals.referralsNotBooked).toBe(Number(before.totals.referralsNotBooked) - 1);

    await sql`delete from events where id = (select id from events where type = 'referral.made'
      and occurred_at >= '2026-02-22' and occurred_at < '2026-02-28' order by occurred_at limit 1)`.execute(
      store.db,
    );
    expect((await dirtyDays()).length).toBe(2);
    await refreshRollups(store.db, TZ);
    const rebuilt = await both(q);
    expect(rebuilt.withRollups).toEqual(rebuilt.fromEvents);
    expect(rebuilt.withRollups.totals.referrals).toBe(Number(before.totals.referrals) - 1);
  });

  it('marks any past day that changes (built or not yet: a first build racing a write), never today, and not for a write that changes nothing', async () => {
    await sql`update events set data_quality = data_quality
      where id = (select id from events where occurred_at < '2026-03-01' limit 1)`.execute(store.db);
    await sql`update episodes set attributes = attributes
      where id = (select id from episodes limit 1)`.execute(store.db);
    expect(await dirtyDays()).toEqual([]);
    const insert = (at: RawBuilder<unknown>) =>
      sql`insert into events (id, occurred_at, type, source_kind, source_id, rule_version, attributes)
        values (gen_random_uuid(), ${at}, 'capability.read', 'exchange', gen_random_uuid(), ${RULE_VERSION},
          '{"succeeded": true}')`.execute(store.db);
    await insert(sql`now()`);
    expect(await dirtyDays()).toEqual([]);
    await insert(sql`'2025-10-15T12:00:00Z'::timestamptz`);
    expect(await dirtyDays()).toEqual(['2025-10-15']);
    await refreshRollups(store.db, TZ);
    expect(await dirtyDays()).toEqual([]);
    const october = query('activity-by-month', { from: { date: '2025-10-01' }, to: { date: '2025-11-01' } });
    expect((await splitPeriod(store.db, october)).days).toContain('2025-10-15');
    expect((await runReport(store.db, october)).totals.attempts).toBe(1);
  });

  it('built in another timezone, they are not read; configured anew, they are built again in it', async () => {
    await refreshRollups(store.db, 'America/New_York', { maxDays: 3 });
    expect((await splitPeriod(store.db, query('rep-prov-01'))).days).toEqual([]);
    const { fromEvents, withRollups } = await both(query('rep-cons-01'));
    expect(withRollups).toEqual(fromEvents);
    await refreshRollups(store.db, TZ);
    expect((await splitPeriod(store.db, query('rep-prov-01'))).days).toHaveLength(365);
  });

  it('are kept by a keeper in a running collector: a round after start, a log line when days were built', async () => {
    await refreshRollups(store.db, 'UTC', { maxDays: 1 });
    const lines: string[] = [];
    const logger = {
      info: (_: unknown, line: string) => lines.push(line),
      warn: (_: unknown, line: string) => lines.push(line),
    };
    const keeper = new RollupKeeper({
      db: () => store.db,
      timezone: TZ,
      logger: logger as never,
      intervalMs: 60_000,
      firstDelayMs: 0,
      chunkDays: 31,
    });
    keeper.start();
    await new Promise((resolve) => setTimeout(resolve, 50));
    await keeper.settled();
    await keeper.stop();
    expect(lines).toContain('report roll-ups: built');
    expect((await splitPeriod(store.db, query('rep-prov-01'))).days).toHaveLength(365);
  });
});
