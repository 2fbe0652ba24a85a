import { sql } from 'kysely';
import { stitchOptions } from '../../src/derive/episode-stitcher.js';
import { reprocess } from '../../src/derive/reprocess.js';
import { loadDerivationTables } from '../../src/derive/tables.js';
import { newId } from '../../src/ids.js';
import { RetentionKeeper } from '../../src/inspect/retention-keeper.js';
import { applyRetention } from '../../src/inspect/retention.js';
import type { RunningCollector } from '../../src/server.js';
import { memoryLogger, testConfig, TEST_TOKENS } from '../helpers/app.js';
import { simulateCalls, startTestCollector } from '../helpers/collector.js';
import { countRows } from '../helpers/store.js';

/*
 * Retention deletes the evidence, never the figures: simulated 111 calls through a running collector,
 * then exchanges older than their retention are deleted (in batches, only those before the cutoff) and
 * every report over the period answers exactly as before; events, episodes and ingest records stay, and a
 * reprocess afterwards rebuilds only from the exchanges still stored. The access audit has its own,
 * longer retention. The collector's keeper does the same in rounds, and says what it removed.
 */

const DAY_MS = 86_400_000;

let collector: RunningCollector;
let stopCollector: () => Promise<void>;
let logs: () => string[];

beforeAll(async () => {
  const memory = memoryLogger('debug');
  logs = memory.lines;
  ({ collector, stop: stopCollector } = await startTestCollector('collector-retention', {
    // No timer: the tests run each round themselves (poke), so none starts behind their back.
    config: { retention: { ...testConfig().retention, intervalMinutes: 0 } },
    logger: memory.logger,
  }));
  await simulateCalls(collector, { calls: 40, seed: 8 });
}, 300_000);

afterAll(async () => {
  await stopCollector();
});

/** The days around now (UTC dates, as the demo's calls are now). */
function period(): { from: string; to: string } {
  const today = Date.now();
  return {
    from: new Date(today - DAY_MS).toISOString().slice(0, 10),
    to: new Date(today + 2 * DAY_MS).toISOString().slice(0, 10),
  };
}

/** Reports that count exchanges' events in many ways: outcomes, per service, per disposition, per provider. */
const TAKEN: [string, string?][] = [
  ['rep-cons-06', 'outcome'],
  ['rep-prov-02', 'provider,service'],
  ['rep-cons-10', 'disposition'],
  ['rep-cons-08'],
  ['rep-prov-01', 'provider'],
  ['provider-conformance'],
  ['provider-latency'],
];

/** Every taken report's JSON answer over the period, by id. */
async function answers(): Promise<Record<string, unknown>> {
  const { from, to } = period();
  const taken: Record<string, unknown> = {};
  for (const [id, groupBy] of TAKEN) {
    const res = await fetch(
      `${collector.url}/api/reports/${id}?from=${from}&to=${to}${groupBy ? `&groupBy=${groupBy}` : ''}`,
      { headers: { Authorization: `Bearer ${TEST_TOKENS.report}` } },
    );
    expect(res.status).toBe(200);
    taken[id] = await res.json();
  }
  return taken;
}

/** Exchanges' receipt times, oldest first. */
async function receivedTimes(): Promise<Date[]> {
  const rows = await collector.store.db
    .selectFrom('exchanges')
    .select('received_at')
    .orderBy('received_at')
    .execute();
  return rows.map((row) => new Date(row.received_at));
}

/** Events whose exchange is no longer stored. */
async function orphanedEvents(): Promise<number> {
  const { rows } = await sql<{ n: number }>`select count(*)::int as n from events e
    where e.source_kind = 'exchange'
      and not exists (select 1 from exchanges x where x.id::text = e.source_id::text)`.execute(
    collector.store.db,
  );
  return rows[0]!.n;
}

async function counts(): Promise<Record<string, number>> {
  const tables = ['events', 'episodes', 'episode_keys', 'ingest_records'];
  return Object.fromEntries(
    await Promise.all(tables.map(async (table) => [table, await countRows(collector.store, table)])),
  );
}

function addAudit(at: Date): Promise<unknown> {
  return collector.store.db
    .insertInto('access_audit')
    .values({
      id: newId(),
      at,
      token_name: 'inspect-client',
      roles: ['inspect'],
      method: 'GET',
      path: '/api/exchanges',
      result_count: 1,
      status: 200,
      request_id: null,
    })
    .execute();
}

function addExchange(receivedAt: Date): Promise<unknown> {
  return collector.store.db
    .insertInto('exchanges')
    .values({
      id: newId(),
      received_at: receivedAt,
      route: 'fhir',
      method: 'GET',
      path: '/fhir/sandbox-stu3/metadata',
      transport_outcome: 'ok',
    })
    .execute();
}

async function auditTimes(): Promise<number[]> {
  const rows = await collector.store.db.selectFrom('access_audit').select('at').orderBy('at').execute();
  return rows.map((row) => new Date(row.at).getTime());
}

describe('retention', () => {
  let reports: Record<string, unknown>;
  let kept: Record<string, number>;

  beforeAll(async () => {
    reports = await answers();
    kept = await counts();
  });

  it('has real traffic to work on', async () => {
    expect(await countRows(collector.store, 'exchanges')).toBeGreaterThan(100);
    expect(kept.events).toBeGreaterThan(100);
    expect(kept.episodes).toBeGreaterThan(10);
    expect(kept.ingest_records).toBeGreaterThan(0);
    expect(await orphanedEvents()).toBe(0);
    // Every report taken counts something, in more than one row where it is grouped.
    for (const [id, groupBy] of TAKEN) {
      const answer = reports[id] as { rows: unknown[]; totals: Record<string, unknown> };
      const counted = Object.values(answer.totals).filter((v) => typeof v === 'number' && v > 0);
      expect({ id, counts: counted.length > 0 }).toEqual({ id, counts: true });
      if (groupBy) expect({ id, rows: answer.rows.length > 1 }).toEqual({ id, rows: true });
    }
  });

  it('deletes only the exchanges received before the cutoff, in batches; events and reports stay', async () => {
    const times = await receivedTimes();
    const cutoff = times[Math.floor(times.length / 2)]!;
    const older = times.filter((t) => t < cutoff).length;
    expect(older).toBeGreaterThan(10);
    const batches: number[] = [];
    const result = await applyRetention(collector.store.db, {
      now: new Date(cutoff.getTime() + 30 * DAY_MS),
      exchangeDays: 30,
      auditDays: 0,
      batchSize: 7,
      onProgress: ({ table, deleted }) => {
        expect(table).toBe('exchanges');
        batches.push(deleted);
      },
    });
    expect(result).toEqual({
      removed: { exchanges: older, audit: 0 },
      before: { exchanges: cutoff, audit: null },
    });
    expect(batches.length).toBe(Math.ceil(older / 7));
    expect(Math.max(...batches)).toBe(7);
    const left = await receivedTimes();
    expect(left).toHaveLength(times.length - older);
    expect(left.every((t) => t >= cutoff)).toBe(true);
    expect(await counts()).toEqual(kept);
    expect(await orphanedEvents()).toBeGreaterThan(0);
    expect(await answers()).toEqual(reports);
  });

  it('leaves a reprocess over the period rebuilding only from the exchanges still stored', async () => {
    const { from, to } = period();
    const storedExchanges = await countRows(collector.store, 'exchanges');
    const orphaned = await orphanedEvents();
    const result = await reprocess(collector.store.db, loadDerivationTables({}), {
      from: new Date(`${from}T00:00:00Z`),
      to: new Date(`${to}T00:00:00Z`),
      stitch: stitchOptions(collector.config.episodes),
    });
    expect(result.exchanges).toBe(storedExchanges);
    expect(result.events).toBeGreaterThan(0);
    expect(await orphanedEvents()).toBe(orphaned);
    expect(await counts()).toEqual(kept);
    expect(await answers()).toEqual(reports);
  });

  it('deletes every exchange once all are past their retention; the reports over the period are unchanged', async () => {
    const result = await applyRetention(collector.store.db, {
      now: new Date(Date.now() + 31 * DAY_MS),
      exchangeDays: 30,
      auditDays: 730,
    });
    expect(result.removed.exchanges).toBeGreaterThan(0);
    expect(await countRows(collector.store, 'exchanges')).toBe(0);
    expect(await counts()).toEqual(kept);
    expect(await answers()).toEqual(reports);

    // Nothing left to rebuild from: the events stay as they are.
    const { from, to } = period();
    const again = await reprocess(collector.store.db, loadDerivationTables({}), {
      from: new Date(`${from}T00:00:00Z`),
      to: new Date(`${to}T00:00:00Z`),
      stitch: stitchOptions(collector.config.episodes),
    });
    expect(again.exchanges).toBe(0);
    expect(await counts()).toEqual(kept);
    expect(await answers()).toEqual(reports);
  });

  it('keeps the access audit for its own, longer period', async () => {
    const now = Date.now();
    await addAudit(new Date(now - 10 * DAY_MS));
    await addAudit(new Date(now - 6 * DAY_MS));
    await addAudit(new Date(now - 1 * DAY_MS));
    const before = await auditTimes();
    // 725 days on, with 730 days of audit: the rows older than 5 days today go.
    const later = new Date(now + 725 * DAY_MS);
    const result = await applyRetention(collector.store.db, { now: later, exchangeDays: 0, auditDays: 730 });
    expect(result.removed).toEqual({
      exchanges: 0,
      audit: before.filter((t) => t < now - 5 * DAY_MS).length,
    });
    expect(result.removed.audit).toBeGreaterThanOrEqual(2);
    expect(result.before).toEqual({ exchanges: null, audit: new Date(now - 5 * DAY_MS) });
    expect((await auditTimes()).every((t) => t >= now - 5 * DAY_MS)).toBe(true);
    expect(await auditTimes()).toContain(now - DAY_MS);
  });

  it('runs in the collector: a round removes what outlived its retention, says so, and counts it', async () => {
    const now = Date.now();
    await addExchange(new Date(now - 31 * DAY_MS));
    await addExchange(new Date(now - 29 * DAY_MS));
    await addAudit(new Date(now - 731 * DAY_MS));
    await addAudit(new Date(now - 729 * DAY_MS));
    const audited = (await auditTimes()).length;

    collector.retention.poke();
    await collector.retention.settled();

    expect((await receivedTimes()).map((t) => t.getTime())).toEqual([now - 29 * DAY_MS]);
    expect(await auditTimes()).toHaveLength(audited - 1);
    expect(await auditTimes()).not.toContain(now - 731 * DAY_MS);
    const removed = logs()
      .map((line) => JSON.parse(line) as { msg: string; before: { exchanges: string } })
      .filter((line) => line.msg === 'retention: removed');
    expect(removed).toHaveLength(1);
    expect(removed[0]).toMatchObject({
      level: 30,
      exchanges: 1,
      audit: 1,
      before: { exchanges: expect.any(String), audit: expect.any(String) },
    });
    expect(new Date(removed[0]!.before.exchanges).getTime()).toBeGreaterThanOrEqual(now - 30 * DAY_MS);

    // Nothing more to remove: a debug line only.
    collector.retention.poke();
    await collector.retention.settled();
    expect(logs().filter((line) => line.includes('retention: removed'))).toHaveLength(1);
    expect(logs().filter((line) => line.includes('retention: nothing to remove')).length).toBeGreaterThan(0);

    const metrics = await (await fetch(`${collector.url}/metrics`)).text();
    expect(metrics).toMatch(/collector_retention_deleted_total\{table="exchanges"\} 1\b/);
    expect(metrics).toMatch(/collector_retention_deleted_total\{table="access_audit"\} 1\b/);
  });
});

describe('the retention keeper', () => {
  it('runs on its timer, and a failed round is logged and retried', async () => {
    const { logger, lines } = memoryLogger('debug');
    let failing = true;
    const keeper = new RetentionKeeper({
      db: () => {
        if (failing) throw new Error('store unreachable');
        return collector.store.db;
      },
      retention: { exchangeDays: 30, auditDays: 730, intervalMinutes: 1 },
      clock: () => new Date(),
      logger,
      firstDelayMs: 1,
    });
    expect(keeper.enabled).toBe(true);
    keeper.start();
    const waitFor = async (text: string): Promise<void> => {
      for (let i = 0; i < 200 && !lines().some((line) => line.includes(text)); i++)
        await new Promise((resolve) => setTimeout(resolve, 10));
    };
    await waitFor('retention: round failed');
    await keeper.settled();
    expect(lines().filter((line) => line.includes('retention: round failed'))).toHaveLength(1);
    failing = false;
    keeper.poke();
    await keeper.settled();
    expect(lines().some((line) => line.includes('retention: nothing to remove'))).toBe(true);
    await keeper.stop();
    keeper.poke();
    await keeper.settled();
    expect(lines().filter((line) => line.includes('retention: nothing to remove'))).toHaveLength(1);
  });

  it('is off when nothing is to be deleted or rounds are never to run', () => {
    const keeper = (retention: { exchangeDays: number; auditDays: number; intervalMinutes: number }) =>
      new RetentionKeeper({
        db: () => collector.store.db,
        retention,
        clock: () => new Date(),
        logger: memoryLogger().logger,
      });
    expect(keeper({ exchangeDays: 0, auditDays: 0, intervalMinutes: 60 }).enabled).toBe(false);
    expect(keeper({ exchangeDays: 30, auditDays: 730, intervalMinutes: 0 }).enabled).toBe(false);
    expect(keeper({ exchangeDays: 30, auditDays: 0, intervalMinutes: 60 }).enabled).toBe(true);
  });
});
