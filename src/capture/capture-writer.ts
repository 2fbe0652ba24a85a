import { sql } from 'kysely';
import { DeadlineExceeded, withDeadline } from '../deadline.js';
import type { Logger } from '../logger.js';
import type { Store } from '../store/store.js';
import { insertEventsJson, insertExchangesJson } from '../store/json-inserts.js';
import type { CapturedExchange } from './captured.js';

const OPEN = Buffer.from('[');
const COMMA = Buffer.from(',');
const CLOSE = Buffer.from(']');

/** JSON values (UTF-8) as one JSON array. */
function jsonArray(values: Buffer[]): Buffer {
  const parts: Buffer[] = [OPEN];
  for (const [i, value] of values.entries()) {
    if (i > 0) parts.push(COMMA);
    parts.push(value);
  }
  parts.push(CLOSE);
  return Buffer.concat(parts);
}

export interface CaptureWriterOptions {
  /** The store, read each time it is used (tests swap it to simulate an outage). */
  store: () => Store;
  /** How long one write (or store probe) may take before the store counts as down. */
  deadlineMs: number;
  logger: Logger;
  /** Told after each transaction commits (episode stitching follows). */
  onWritten?: () => void;
}

/**
 * Writes captured exchanges to the store, each call one transaction, within a deadline: the store side
 * of the capture pipeline. It tells a store that is down or hung (it throws) from one that refuses a
 * row (that row is left out and counted), so the pipeline knows when to spool.
 */
export class CaptureWriter {
  constructor(private readonly options: CaptureWriterOptions) {}

  /** Whether the store answers at all within the deadline. */
  async answers(): Promise<boolean> {
    try {
      await withDeadline(
        this.options.store().db.selectFrom('exchanges').select('id').limit(1).execute(),
        this.options.deadlineMs,
        'the store',
        false,
      );
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Writes rows; when the store is up but refuses them, writes them one by one and leaves out (logged
   * with their ids) the ones it refuses, so one bad row can never stall capture. Throws only when the
   * store is down or does not answer in time (a row it takes too long over is not one it refuses).
   */
  async write(rows: CapturedExchange[]): Promise<{ written: number; refused: number }> {
    try {
      await this.#insert(rows);
      return { written: rows.length, refused: 0 };
    } catch (error) {
      if (error instanceof DeadlineExceeded || !(await this.answers())) throw error;
    }
    let written = 0;
    for (const row of rows) {
      try {
        await this.#insert([row]);
        written += 1;
      } catch (error) {
        if (error instanceof DeadlineExceeded || !(await this.answers())) throw error;
        this.options.logger.error(
          { err: error, exchangeId: row.id },
          'the store refused a captured exchange; it is lost',
        );
      }
    }
    return { written, refused: rows.length - written };
  }

  /**
   * Writes exchanges and their events in one transaction; both idempotent (by exchange id, by event id).
   * Each table takes the batch as one JSON array, built by joining the bytes the worker made: nothing is
   * compiled, serialised or escaped per value on this thread, and nothing of it enters V8's heap. A write
   * past its deadline may still commit later: the spooled copy then replays as a no-op.
   */
  async #insert(captured: CapturedExchange[]): Promise<void> {
    const exchanges = jsonArray(captured.map((c) => c.exchange));
    // Each exchange's events are an array of their own: their elements join the batch's.
    const eventLists = captured.map((c) => c.events.subarray(1, -1)).filter((list) => list.length > 0);
    const store = this.options.store();
    const { deadlineMs } = this.options;
    const transaction = store.db.transaction().execute(async (trx) => {
      // PostgreSQL gives up at the same deadline, so a write abandoned there (waiting on a lock that
      // is never let go, say) ends and frees its connection instead of holding it.
      if (store.engine === 'postgres')
        await sql.raw(`set local statement_timeout = ${Math.ceil(deadlineMs)}`).execute(trx);
      await insertExchangesJson(trx, exchanges);
      if (eventLists.length > 0) await insertEventsJson(trx, jsonArray(eventLists));
    });
    await withDeadline(transaction, deadlineMs, 'the store', false);
    this.options.onWritten?.();
  }
}
