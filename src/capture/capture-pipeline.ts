import type { Logger } from '../logger.js';
import type { ObservedExchange } from '../proxy/exchange.js';
import type { Store } from '../store/store.js';
import type { TablesConfig } from '../config/config.types.js';
import { loadDerivationTables, type DerivationTables } from '../derive/tables.js';
import type { ExchangeRow } from '../store/tables/exchange.table.js';
import { insertEventsJson, insertExchangesJson } from '../store/json-inserts.js';
import { capturedOf, eventsOfStored, type CapturedExchange } from './captured.js';
import { CaptureSpool } from './capture-spool.js';
import type { RedactionRules } from './redact.js';
import { InlineRedactor, WorkerRedactor, type RedactionOutcome, type Redactor } from './redactor.js';

export interface CaptureOptions {
  /** The store, read each time it is used (tests swap it to simulate an outage). */
  store: () => Store;
  /** The append-only spool file (JSON lines of redacted rows). */
  spoolFile: string;
  rules: RedactionRules;
  /** The derivation tables as configured (the bundled ones where not). */
  tables?: TablesConfig;
  logger: Logger;
  /** Rows per transaction (the store benchmark puts the knee near 100). */
  batchSize?: number;
  /** The longest a captured exchange waits in memory before its batch is written. */
  flushIntervalMs?: number;
  /** Rows held in memory at most; beyond that they go straight to the spool. */
  maxQueue?: number;
  /** How soon to try the store again after a failure. */
  retryMs?: number;
  /**
   * The hash secret, given to redact on a worker thread (the proxy's event loop then never parses a
   * body). Without it, exchanges are redacted inline.
   */
  workerSecret?: string;
  /** Told after each batch is written to the store (episode stitching follows). */
  onWritten?: () => void;
}

/** What the pipeline has done since start, for /metrics and /readyz. */
export interface CaptureCounters {
  captured: number;
  written: number;
  spooled: number;
  replayed: number;
  dropped: number;
}

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

/**
 * The capture pipeline: each exchange is redacted as it is captured (before anything is queued), held
 * in a bounded in-memory queue, and written in batches, one transaction each, idempotent by exchange id.
 * When the store fails, batches go to an append-only spool under DATA_DIR and are replayed in order when
 * it returns; while the spool holds anything, new batches join it, so order is kept. Every store write runs on
 * one chain, so a replay never races an append. Nothing here ever throws into the proxy.
 */
export class CapturePipeline {
  readonly counters: CaptureCounters = { captured: 0, written: 0, spooled: 0, replayed: 0, dropped: 0 };
  readonly #options: Required<Omit<CaptureOptions, 'store' | 'workerSecret' | 'tables' | 'onWritten'>> &
    Pick<CaptureOptions, 'store' | 'onWritten'>;
  readonly #redactor: Redactor;
  readonly #tables: DerivationTables;
  #queue: CapturedExchange[] = [];
  /** Rows handed to the write chain but not yet written or spooled (spooled on a drain that times out). */
  #pending: CapturedExchange[] = [];
  #timer: NodeJS.Timeout | undefined;
  #retry: NodeJS.Timeout | undefined;
  #chain: Promise<void> = Promise.resolve();
  readonly #spoolFile: CaptureSpool;
  #storeUp = true;
  #lastBatchMs = 0;

  constructor(options: CaptureOptions) {
    this.#options = { batchSize: 100, flushIntervalMs: 200, maxQueue: 2000, retryMs: 1000, ...options };
    this.#spoolFile = new CaptureSpool(options.spoolFile);
    this.#tables = loadDerivationTables(options.tables ?? {});
    const deliver = (outcome: RedactionOutcome): void => this.#accept(outcome);
    this.#redactor = options.workerSecret
      ? new WorkerRedactor(options.workerSecret, options.rules, options.tables ?? {}, deliver, options.logger)
      : new InlineRedactor(options.rules, this.#tables, deliver);
  }

  /** Stops the redaction worker (after `drain`). */
  async close(): Promise<void> {
    await this.#redactor.close();
  }

  /** Picks up a spool left by an earlier run (a crash, or a stop while the store was down). */
  start(): Promise<void> {
    const bytes = this.#spoolFile.open();
    if (bytes > 0) {
      this.#options.logger.warn({ spoolBytes: bytes }, 'capture spool found from an earlier run; replaying');
      this.#scheduleReplay(0);
    }
    return Promise.resolve();
  }

  /** Queue depth (in memory: waiting and being written), spool size and counters, for /readyz and /metrics. */
  status(): {
    queueDepth: number;
    spoolBytes: number;
    storeUp: boolean;
    spoolWritable: boolean;
    lastBatchMs: number;
    redactingOnWorker: boolean;
  } & CaptureCounters {
    return {
      queueDepth: this.#queue.length + this.#pending.length,
      spoolBytes: this.#spoolFile.bytes,
      storeUp: this.#storeUp,
      spoolWritable: !this.#spoolFile.broken,
      lastBatchMs: this.#lastBatchMs,
      redactingOnWorker: this.#redactor.onWorker,
      ...this.counters,
    };
  }

  /** Takes one exchange from the proxy: redacts it (off the event loop when a worker is used), writes it soon. Never throws. */
  capture(observed: ObservedExchange): void {
    try {
      this.#redactor.submit(observed);
    } catch (error) {
      this.counters.dropped += 1;
      this.#options.logger.error({ err: error, exchangeId: observed.id }, 'exchange could not be redacted');
    }
  }

  /** A redacted row and its events (or the reason there are none) arrive from the redactor. */
  #accept(outcome: RedactionOutcome): void {
    if (!('captured' in outcome)) {
      this.counters.dropped += 1;
      this.#options.logger.error(
        { exchangeId: outcome.id, reason: outcome.error },
        'exchange could not be turned into a row',
      );
      return;
    }
    this.counters.captured += 1;
    this.#queue.push(outcome.captured);
    if (this.#queue.length + this.#pending.length > this.#options.maxQueue) {
      // The store is not keeping up: what waits in memory goes to disk now, synchronously, so memory
      // stays bounded however far behind the store falls (this only happens in overload).
      this.#spool(this.#queue.splice(0));
      return;
    }
    if (this.#queue.length >= this.#options.batchSize) {
      this.#flush();
    } else {
      this.#timer ??= setTimeout(() => this.#flush(), this.#options.flushIntervalMs).unref();
    }
  }

  /**
   * Writes everything queued and waits for it (SIGTERM): to the store, or to the spool if it is down.
   * A store that hangs is given `deadlineMs`; what is still waiting then goes to the spool.
   */
  async drain(deadlineMs = 10_000): Promise<void> {
    await this.#redactor.idle();
    this.#flush();
    let timer: NodeJS.Timeout | undefined;
    const finished = await Promise.race([
      this.#chain.then(() => true),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), deadlineMs))),
    ]);
    clearTimeout(timer);
    if (!finished) {
      this.#options.logger.error(
        'the store did not finish writing in time: waiting exchanges go to the spool',
      );
      const waiting = this.#pending.splice(0);
      if (waiting.length > 0) this.#spool(waiting);
      return;
    }
    if (this.#spoolFile.bytes > 0) {
      clearTimeout(this.#retry);
      this.#retry = undefined;
      await this.#enqueue(() => this.#replay());
    }
    clearTimeout(this.#retry);
    this.#retry = undefined;
  }

  #flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0, this.#options.batchSize);
      this.#pending.push(...batch);
      void this.#enqueue(async () => {
        await this.#write(batch);
        const written = new Set(batch);
        this.#pending = this.#pending.filter((row) => !written.has(row));
      });
    }
  }

  #enqueue(step: () => Promise<void>): Promise<void> {
    const guarded = (): Promise<void> =>
      step().catch((error: unknown) => {
        this.#options.logger.error({ err: error }, 'capture pipeline step failed');
      });
    this.#chain = this.#chain.then(guarded, guarded);
    return this.#chain;
  }

  /** Whether the store answers at all: tells an outage from rows the store refuses. */
  async #storeAnswers(): Promise<boolean> {
    try {
      await this.#options.store().db.selectFrom('exchanges').select('id').limit(1).execute();
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Writes a batch; when the store is up but refuses the batch, writes its rows one by one and counts
   * the ones it refuses as dropped (logged with their ids), so one bad row can never stall capture.
   * Returns how many were written; throws only when the store is down.
   */
  async #insertOrSift(rows: CapturedExchange[]): Promise<number> {
    try {
      await this.#insert(rows);
      return rows.length;
    } catch (error) {
      if (!(await this.#storeAnswers())) throw error;
    }
    let written = 0;
    for (const row of rows) {
      try {
        await this.#insert([row]);
        written += 1;
      } catch (error) {
        if (!(await this.#storeAnswers())) throw error;
        this.counters.dropped += 1;
        this.#options.logger.error(
          { err: error, exchangeId: row.id },
          'the store refused a captured exchange; it is lost',
        );
      }
    }
    return written;
  }

  /**
   * Writes exchanges and their events in one transaction; both idempotent (by exchange id, by event id).
   * Each table takes the batch as one JSON array, built by joining the bytes the worker made: nothing is
   * compiled, serialised or escaped per value on this thread, and nothing of it enters V8's heap.
   */
  async #insert(captured: CapturedExchange[]): Promise<void> {
    const started = process.hrtime.bigint();
    const exchanges = jsonArray(captured.map((c) => c.exchange));
    // Each exchange's events are an array of their own: their elements join the batch's.
    const eventLists = captured.map((c) => c.events.subarray(1, -1)).filter((list) => list.length > 0);
    await this.#options
      .store()
      .db.transaction()
      .execute(async (trx) => {
        await insertExchangesJson(trx, exchanges);
        if (eventLists.length > 0) await insertEventsJson(trx, jsonArray(eventLists));
      });
    this.#lastBatchMs = Number(process.hrtime.bigint() - started) / 1e6;
    this.#options.onWritten?.();
  }

  async #write(batch: CapturedExchange[]): Promise<void> {
    if (this.#spoolFile.bytes > 0) {
      this.#spool(batch); // behind earlier spooled rows, to keep their order
      return;
    }
    try {
      this.counters.written += await this.#insertOrSift(batch);
      this.#storeUp = true;
    } catch (error) {
      if (this.#storeUp)
        this.#options.logger.warn({ err: error }, 'store unavailable: spooling captured exchanges');
      this.#storeUp = false;
      this.#spool(batch);
    }
  }

  /** Appends rows to the spool (one synchronous write); counts them as lost when the disk refuses. */
  #spool(rows: CapturedExchange[]): void {
    if (this.#spoolFile.append(rows)) {
      this.counters.spooled += rows.length;
    } else {
      this.counters.dropped += rows.length;
      this.#options.logger.error(
        { dropped: rows.length, spoolFile: this.#spoolFile.file },
        'CAPTURE LOST: the store is down or behind and the spool cannot be written (disk full?)',
      );
    }
    this.#scheduleReplay(this.#options.retryMs);
  }

  #scheduleReplay(delayMs: number): void {
    // Unreferenced: a retry never keeps a stopping process alive (a running server does that).
    this.#retry ??= setTimeout(() => {
      this.#retry = undefined;
      void this.#enqueue(() => this.#replay());
    }, delayMs).unref();
  }

  /** Writes the spool's next chunk to the store; on failure it stays for the next try (rows are idempotent). */
  async #replay(): Promise<void> {
    const chunk = this.#spoolFile.read();
    if (!chunk) {
      if (this.#spoolFile.bytes > 0) this.#scheduleReplay(this.#options.retryMs);
      return;
    }
    // Lines of a spool from before events were derived get theirs now (on this thread: a one-off).
    const rows = chunk.rows.map((line) =>
      'legacy' in line
        ? capturedOf(line.legacy, eventsOfStored(line.legacy as unknown as ExchangeRow, this.#tables))
        : line,
    );
    try {
      for (let i = 0; i < rows.length; i += 500) await this.#insertOrSift(rows.slice(i, i + 500));
    } catch {
      this.#storeUp = false;
      this.#scheduleReplay(this.#options.retryMs);
      return;
    }
    if (chunk.torn > 0) {
      this.counters.dropped += chunk.torn;
      this.#options.logger.error(
        { torn: chunk.torn },
        'capture spool had unreadable lines (cut short by a crash); they are lost',
      );
    }
    this.#spoolFile.done(chunk);
    this.#storeUp = true;
    this.counters.replayed += chunk.rows.length;
    this.#options.logger.info(
      { replayed: chunk.rows.length, spoolBytesLeft: this.#spoolFile.bytes },
      'capture spool replayed into the store',
    );
    this.#scheduleReplay(0); // the next chunk, or the clean-up
  }
}
