import type { Logger } from '../logger.js';
import type { ObservedExchange } from '../proxy/exchange.js';
import type { Store } from '../store/store.js';
import type { TablesConfig } from '../config/config.types.js';
import { loadDerivationTables } from '../derive/tables.js';
import { withDeadline } from '../deadline.js';
import type { CapturedExchange } from './captured.js';
import { CaptureSpool } from './capture-spool.js';
import { CaptureWriter } from './capture-writer.js';
import type { RedactionRules } from './redact.js';
import { InlineRedactor, WorkerRedactor, type RedactionOutcome, type Redactor } from './redactor.js';
import { SpoolReplay, type CaptureCounters, type StoreHealth } from './spool-replay.js';

export type { CaptureCounters } from './spool-replay.js';

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
  /**
   * Bytes of rows (their JSON, bodies compressed) per transaction at most, beyond a first row: large
   * bodies make smaller batches, so no one write is more than the store (or the embedded store's
   * thread, with its bounded heap) takes comfortably.
   */
  batchBytes?: number;
  /** The longest a captured exchange waits in memory before its batch is written. */
  flushIntervalMs?: number;
  /** Rows held in memory at most; beyond that they go straight to the spool. */
  maxQueue?: number;
  /** How soon to try the store again after a failure. */
  retryMs?: number;
  /**
   * How long one batch write may take before the store is treated as down and the batch spooled (a
   * database that keeps its connections open but stops answering would otherwise hold every write).
   */
  writeTimeoutMs?: number;
  /**
   * The hash secret, given to redact on a worker thread (the proxy's event loop then never parses a
   * body). Without it, exchanges are redacted inline.
   */
  workerSecret?: string;
  /** Told after each batch is written to the store (episode stitching follows). */
  onWritten?: () => void;
}

/**
 * A batch handed to the write chain: `writing` once its turn has come; `spilled` once its rows went to the
 * spool instead (an overflow before its turn, or a drain that gave up on the store), after which the chain
 * neither writes, spools nor counts it again.
 */
interface Batch {
  rows: CapturedExchange[];
  writing: boolean;
  spilled: boolean;
}

/**
 * The capture pipeline: each exchange is redacted as it is captured (before anything is queued), held
 * in a bounded in-memory queue, and written in batches, one transaction each, idempotent by exchange id.
 * When the store fails, batches go to an append-only spool under DATA_DIR and are replayed in order when
 * it returns (spool-replay.ts); while the spool holds anything, new batches join it, so order is kept.
 * Every store write runs on one chain, so a replay never races an append. Batch writes and replays both
 * report to one store health, which /readyz and /metrics read. Nothing here ever throws into the proxy.
 */
export class CapturePipeline {
  readonly counters: CaptureCounters = { captured: 0, written: 0, spooled: 0, replayed: 0, dropped: 0 };
  readonly #options: Required<Omit<CaptureOptions, 'store' | 'workerSecret' | 'tables' | 'onWritten'>> &
    Pick<CaptureOptions, 'store' | 'onWritten'>;
  readonly #redactor: Redactor;
  #queue: CapturedExchange[] = [];
  /** Batches handed to the write chain but not yet written or spooled (spooled on a drain that times out). */
  #pending: Batch[] = [];
  #timer: NodeJS.Timeout | undefined;
  #chain: Promise<void> = Promise.resolve();
  readonly #spoolFile: CaptureSpool;
  readonly #spool: SpoolReplay;
  readonly #writer: CaptureWriter;
  readonly #health: StoreHealth = { storeUp: true, losing: false };
  #lastBatchMs = 0;
  readonly #batchListeners: ((seconds: number) => void)[] = [];

  constructor(options: CaptureOptions) {
    this.#options = {
      batchSize: 100,
      batchBytes: 8 * 1024 * 1024,
      flushIntervalMs: 200,
      maxQueue: 2000,
      retryMs: 1000,
      writeTimeoutMs: 10_000,
      ...options,
    };
    this.#writer = new CaptureWriter({
      store: options.store,
      deadlineMs: this.#options.writeTimeoutMs,
      logger: options.logger,
      ...(options.onWritten ? { onWritten: options.onWritten } : {}),
    });
    const tables = loadDerivationTables(options.tables ?? {});
    this.#spoolFile = new CaptureSpool(options.spoolFile, tables);
    this.#spool = new SpoolReplay({
      spool: this.#spoolFile,
      writer: this.#writer,
      counters: this.counters,
      health: this.#health,
      logger: options.logger,
      retryMs: this.#options.retryMs,
      enqueue: (step) => this.#enqueue(step),
    });
    const deliver = (outcome: RedactionOutcome): void => this.#accept(outcome);
    this.#redactor = options.workerSecret
      ? new WorkerRedactor(options.workerSecret, options.rules, options.tables ?? {}, deliver, options.logger)
      : new InlineRedactor(options.rules, tables, deliver);
  }

  /** Calls `listener` with the duration of each batch written to the store (for /metrics). */
  onBatchWritten(listener: (seconds: number) => void): void {
    this.#batchListeners.push(listener);
  }

  /** Stops the redaction worker (after `drain`). */
  async close(): Promise<void> {
    await this.#redactor.close();
  }

  /** Picks up a spool left by an earlier run (a crash, or a stop while the store was down). */
  start(): Promise<void> {
    const { bytes, torn } = this.#spoolFile.open();
    this.#spool.lost(torn);
    if (bytes > 0) {
      this.#options.logger.warn({ spoolBytes: bytes }, 'capture spool found from an earlier run; replaying');
      this.#spool.schedule(0);
    }
    return Promise.resolve();
  }

  /** Queue depth (in memory: waiting and being written), spool size and counters, for /readyz and /metrics. */
  status(): {
    queueDepth: number;
    spoolBytes: number;
    storeUp: boolean;
    spoolWritable: boolean;
    losingCaptures: boolean;
    lastBatchMs: number;
    redactingOnWorker: boolean;
  } & CaptureCounters {
    return {
      queueDepth: this.#inMemory(),
      spoolBytes: this.#spoolFile.bytes,
      storeUp: this.#health.storeUp,
      spoolWritable: !this.#spoolFile.broken,
      losingCaptures: this.#health.losing,
      lastBatchMs: this.#lastBatchMs,
      redactingOnWorker: this.#redactor.onWorker,
      ...this.counters,
    };
  }

  /** Captured exchanges held in memory: queued, or in batches waiting for (or in) their write. */
  #inMemory(): number {
    let rows = this.#queue.length;
    for (const batch of this.#pending) rows += batch.rows.length;
    return rows;
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
    if (this.#inMemory() > this.#options.maxQueue) {
      // The store is not keeping up: what waits in memory goes to disk now (written on libuv's threads,
      // the proxy's never waits), so memory stays bounded however far behind the store falls (this only
      // happens in overload). Oldest first: the batches waiting their turn on the write chain, then the
      // queue. A batch already being written stays with its write; should that fail, it follows these
      // rows in the spool, whose writes keep the order they were asked in.
      const waiting = this.#pending.filter((batch) => !batch.spilled && !batch.writing);
      for (const batch of waiting) batch.spilled = true;
      this.#pending = this.#pending.filter((batch) => !batch.spilled);
      void this.#spool.append([...waiting.flatMap((batch) => batch.rows), ...this.#queue.splice(0)]);
      return;
    }
    if (this.#queue.length >= this.#options.batchSize) {
      this.#flush();
    } else {
      this.#timer ??= setTimeout(() => this.#flush(), this.#options.flushIntervalMs).unref();
    }
  }

  /**
   * Writes everything queued and waits for it (SIGTERM): to the store, or to the spool if it is down,
   * then replays the spool if the store takes it. A store that hangs is given `deadlineMs` for all of
   * it: what is still waiting then goes to the spool, and the spool stays for the next start.
   */
  async drain(deadlineMs = 10_000): Promise<void> {
    await this.#redactor.idle();
    this.#flush();
    const deadline = Date.now() + deadlineMs;
    // Each wait keeps the process alive: at SIGTERM nothing else may be left to while the store is waited for.
    const inTime = (step: Promise<void>): Promise<boolean> =>
      withDeadline(step, Math.max(0, deadline - Date.now()), 'the store').then(
        () => true,
        () => false,
      );
    if (!(await inTime(this.#chain))) {
      this.#options.logger.error(
        'the store did not finish writing in time: waiting exchanges go to the spool',
      );
      const abandoned = this.#pending.splice(0);
      for (const batch of abandoned) batch.spilled = true;
      const waiting = abandoned.flatMap((batch) => batch.rows);
      if (waiting.length > 0) await this.#spool.append(waiting);
      this.#spool.cancel();
      await this.#spoolFile.close();
      return;
    }
    if (this.#spoolFile.bytes > 0) {
      this.#spool.cancel();
      if (!(await inTime(this.#enqueue(() => this.#spool.replay()))))
        this.#options.logger.warn(
          { spoolBytes: this.#spoolFile.bytes },
          'the store did not take the spool in time: it is replayed at the next start',
        );
    }
    this.#spool.cancel();
    await this.#spoolFile.close(); // after every write asked for (a full queue's spill, say) is on disk
  }

  #flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    while (this.#queue.length > 0) {
      const batch: Batch = { rows: this.#nextBatch(), writing: false, spilled: false };
      this.#pending.push(batch);
      void this.#enqueue(async () => {
        if (batch.spilled) return;
        batch.writing = true;
        await this.#write(batch);
        this.#pending = this.#pending.filter((waiting) => waiting !== batch);
      });
    }
  }

  /** The queue's oldest rows, up to `batchSize` of them and `batchBytes` (always at least one row). */
  #nextBatch(): CapturedExchange[] {
    const { batchSize, batchBytes } = this.#options;
    let rows = 0;
    let bytes = 0;
    while (rows < batchSize && rows < this.#queue.length) {
      const row = this.#queue[rows]!;
      bytes += row.exchange.length + row.events.length;
      if (rows > 0 && bytes > batchBytes) break;
      rows += 1;
    }
    return this.#queue.splice(0, rows);
  }

  #enqueue(step: () => Promise<void>): Promise<void> {
    const guarded = (): Promise<void> =>
      step().catch((error: unknown) => {
        this.#options.logger.error({ err: error }, 'capture pipeline step failed');
      });
    this.#chain = this.#chain.then(guarded, guarded);
    return this.#chain;
  }

  /** A batch's turn on the write chain: to the store (timed), or to the spool. */
  async #write(batch: Batch): Promise<void> {
    if (this.#spoolFile.bytes > 0) {
      await this.#spool.append(batch.rows); // behind earlier spooled rows, to keep their order
      return;
    }
    const started = process.hrtime.bigint();
    try {
      const { written, refused } = await this.#writer.write(batch.rows);
      this.counters.dropped += refused;
      this.#health.storeUp = true;
      this.#health.losing = false;
      this.#lastBatchMs = Number(process.hrtime.bigint() - started) / 1e6;
      for (const listener of this.#batchListeners) listener(this.#lastBatchMs / 1000);
      // A batch a drain gave up on is already counted, as spooled (its copy there replays as a no-op).
      if (!batch.spilled) this.counters.written += written;
    } catch (error) {
      if (this.#health.storeUp)
        this.#options.logger.warn({ err: error }, 'store unavailable: spooling captured exchanges');
      this.#health.storeUp = false;
      if (!batch.spilled) await this.#spool.append(batch.rows);
    }
  }
}
