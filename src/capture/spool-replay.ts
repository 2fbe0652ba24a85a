import type { Logger } from '../logger.js';
import type { CapturedExchange } from './captured.js';
import type { CaptureSpool } from './capture-spool.js';
import type { CaptureWriter } from './capture-writer.js';

/** What the pipeline has done since start, for /metrics and /readyz. */
export interface CaptureCounters {
  captured: number;
  written: number;
  spooled: number;
  replayed: number;
  dropped: number;
}

/**
 * How the store looks to capture, told by whichever last reached it: the batch writes and the spool's
 * replay report to the same object.
 */
export interface StoreHealth {
  /** The last write or replay reached the store. */
  storeUp: boolean;
  /** Exchanges are being lost: the spool refused rows, and none has reached the store since. */
  losing: boolean;
}

export interface SpoolReplayOptions {
  spool: CaptureSpool;
  writer: CaptureWriter;
  counters: CaptureCounters;
  health: StoreHealth;
  logger: Logger;
  /** How soon to try the store again after a failure. */
  retryMs: number;
  /** Runs a step on the pipeline's write chain (a replay never races a batch write). */
  enqueue: (step: () => Promise<void>) => Promise<void>;
}

const PROGRESS_EVERY_MS = 10_000;

/**
 * The spool side of capture: rows the store could not take are appended (and counted, or counted as lost
 * when the disk refuses them), and replayed into the store in order, a chunk at a time on the write
 * chain, retried until the store takes them. Rows are idempotent by exchange id, so a replay cut short is
 * simply done again.
 */
export class SpoolReplay {
  readonly #options: SpoolReplayOptions;
  #retry: NodeJS.Timeout | undefined;
  /** Rows replayed since the last progress line, and when that was. */
  #unreported = 0;
  #reportedAt = Date.now();

  constructor(options: SpoolReplayOptions) {
    this.#options = options;
  }

  /**
   * Appends rows to the spool (written off the proxy's thread, in the order asked) and schedules their
   * replay. Resolves once they are on disk, or counted as lost.
   */
  async append(rows: CapturedExchange[]): Promise<void> {
    const { spool, counters, health, logger } = this.#options;
    if (await spool.append(rows)) {
      counters.spooled += rows.length;
      health.losing = false;
    } else {
      counters.dropped += rows.length;
      health.losing = true;
      logger.error(
        { dropped: rows.length, spoolFile: spool.file },
        'CAPTURE LOST: the store is down or behind and the spool cannot be written (disk full?)',
      );
    }
    this.schedule(this.#options.retryMs);
  }

  /** Asks for a replay after `delayMs`, unless one is already scheduled. */
  schedule(delayMs: number): void {
    // Unreferenced: a retry never keeps a stopping process alive (a running server does that).
    this.#retry ??= setTimeout(() => {
      this.#retry = undefined;
      void this.#options.enqueue(() => this.replay());
    }, delayMs).unref();
  }

  /** Counts spool lines a crash cut short (they are lost), loudly. */
  lost(torn: number): void {
    if (torn === 0) return;
    this.#options.counters.dropped += torn;
    this.#options.logger.error(
      { torn },
      'capture spool had unreadable lines (cut short by a crash); they are lost',
    );
  }

  /** Forgets a scheduled replay (a drain runs its own, or leaves the spool for the next start). */
  cancel(): void {
    clearTimeout(this.#retry);
    this.#retry = undefined;
  }

  /**
   * Writes the spool's next chunk to the store; on failure it stays for the next try. Runs on the write
   * chain: call it through `enqueue`.
   */
  async replay(): Promise<void> {
    const { spool, writer, counters, health, logger, retryMs } = this.#options;
    const chunk = await spool.read();
    if (!chunk) {
      if (spool.bytes > 0) {
        this.schedule(retryMs);
      } else if (health.losing) {
        // Rows were lost with nothing left to replay: once the store answers, new ones would reach
        // it, so nothing is being lost any more (a collector out of rotation gets no traffic to show it).
        if (await writer.answers()) {
          health.losing = false;
          health.storeUp = true;
        } else {
          this.schedule(retryMs);
        }
      }
      return;
    }
    const { rows } = chunk;
    try {
      for (let i = 0; i < rows.length; i += 500) {
        const { refused } = await writer.write(rows.slice(i, i + 500));
        counters.dropped += refused;
      }
    } catch {
      health.storeUp = false;
      this.schedule(retryMs);
      return;
    }
    this.lost(chunk.torn);
    await spool.done(chunk);
    health.storeUp = true;
    health.losing = false;
    counters.replayed += rows.length;
    this.#unreported += rows.length;
    // A progress line every 10 s of a long replay, and one at its end (not one per 2 MB step).
    if (spool.bytes === 0 || Date.now() - this.#reportedAt >= PROGRESS_EVERY_MS) {
      logger.info(
        { replayed: this.#unreported, spoolBytesLeft: spool.bytes },
        spool.bytes === 0 ? 'capture spool replayed into the store' : 'replaying the capture spool',
      );
      this.#unreported = 0;
      this.#reportedAt = Date.now();
    }
    this.schedule(0); // the next chunk, or the clean-up
  }
}
