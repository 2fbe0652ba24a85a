import type { Kysely } from 'kysely';
import type { Database } from '../store/database.js';

const DAY_MS = 86_400_000;

/** The tables retention deletes from. */
export type RetainedTable = 'exchanges' | 'access_audit';

export interface RetentionOptions {
  /** The time the ages are counted from. */
  now: Date;
  /** Exchanges received more than this many days before `now` are deleted (0: kept forever). */
  exchangeDays: number;
  /** Access audit rows written more than this many days before `now` are deleted (0: kept forever). */
  auditDays: number;
  /** Rows deleted per statement: each statement is short, so capture and readers never wait long. */
  batchSize?: number;
  /** Told after every statement: the table, rows it deleted, and rows deleted from that table so far. */
  onProgress?: (progress: { table: RetainedTable; deleted: number; total: number }) => void;
  /** Asked before every statement: true stops the round (shutdown); the rest goes next round. */
  stopping?: () => boolean;
}

/** What a round of retention removed. */
export interface RetentionResult {
  /** Rows deleted from each table. */
  removed: { exchanges: number; audit: number };
  /** Rows older than these were deleted; null for a table kept forever. */
  before: { exchanges: Date | null; audit: Date | null };
}

function cutoff(now: Date, days: number): Date | null {
  return days > 0 ? new Date(now.getTime() - days * DAY_MS) : null;
}

/** Deletes one batch of exchanges received before `before`, oldest first; returns how many went. */
async function deleteExchanges(db: Kysely<Database>, before: Date, limit: number): Promise<number> {
  // The primary key is (id, received_at), so the batch is named by both (a partitioned table needs it).
  const result = await db
    .deleteFrom('exchanges')
    .where((eb) =>
      eb(
        eb.refTuple('id', 'received_at'),
        'in',
        eb
          .selectFrom('exchanges')
          .select(['id', 'received_at'])
          .where('received_at', '<', before)
          .orderBy('received_at')
          .limit(limit)
          .$asTuple('id', 'received_at'),
      ),
    )
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** Deletes one batch of access audit rows written before `before`, oldest first; returns how many went. */
async function deleteAudit(db: Kysely<Database>, before: Date, limit: number): Promise<number> {
  const result = await db
    .deleteFrom('access_audit')
    .where('id', 'in', (eb) =>
      eb.selectFrom('access_audit').select('id').where('at', '<', before).orderBy('at').limit(limit),
    )
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

/**
 * Deletes the exchanges and access audit rows older than their retention, a batch per statement (each
 * its own short transaction, one statement per query as PGlite's extended protocol needs). Events,
 * episodes, ingest records and report roll-ups are never touched: events keep the id of the exchange
 * they came from, so reports over the period stay the same while the evidence behind them is gone.
 * Returns the rows removed and the cutoffs.
 */
export async function applyRetention(
  db: Kysely<Database>,
  options: RetentionOptions,
): Promise<RetentionResult> {
  const batchSize = options.batchSize ?? 5000;
  const before = {
    exchanges: cutoff(options.now, options.exchangeDays),
    audit: cutoff(options.now, options.auditDays),
  };
  const sweep = async (
    table: RetainedTable,
    at: Date | null,
    remove: (db: Kysely<Database>, before: Date, limit: number) => Promise<number>,
  ): Promise<number> => {
    let total = 0;
    if (!at) return total;
    for (;;) {
      if (options.stopping?.()) return total;
      const deleted = await remove(db, at, batchSize);
      total += deleted;
      if (deleted > 0) options.onProgress?.({ table, deleted, total });
      if (deleted < batchSize) return total;
    }
  };
  const exchanges = await sweep('exchanges', before.exchanges, deleteExchanges);
  const audit = await sweep('access_audit', before.audit, deleteAudit);
  return { removed: { exchanges, audit }, before };
}
