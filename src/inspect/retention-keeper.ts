import type { Kysely } from 'kysely';
import type { Clock } from '../clock.js';
import type { RetentionConfig } from '../config/config.types.js';
import type { Logger } from '../logger.js';
import type { Database } from '../store/database.js';
import { applyRetention, type RetainedTable } from './retention.js';

export interface RetentionKeeperOptions {
  db: () => Kysely<Database>;
  retention: RetentionConfig;
  clock: Clock;
  logger: Logger;
  /** The first round waits this long after start (capture replays its spool first). */
  firstDelayMs?: number;
  /** Rows deleted per statement. */
  batchSize?: number;
  /** Told after every statement that deleted rows (for the metrics). */
  onDeleted?: (table: RetainedTable, rows: number) => void;
}

/**
 * Applies retention in a running collector: a round every `retention.intervalMinutes`, never two at once
 * (a poke during a round asks for another after it). Failures are logged and retried next round; what a
 * failed round deleted before it failed stays deleted, the rest waits.
 */
export class RetentionKeeper {
  #timer: NodeJS.Timeout | undefined;
  #first: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #stopped = false;

  constructor(private readonly options: RetentionKeeperOptions) {}

  /** Whether there is anything to do: some table has a retention, and rounds are to run at all. */
  get enabled(): boolean {
    const { exchangeDays, auditDays, intervalMinutes } = this.options.retention;
    return intervalMinutes > 0 && (exchangeDays > 0 || auditDays > 0);
  }

  /** Rounds every `intervalMinutes`, the first after `firstDelayMs`. */
  start(): void {
    this.#timer = setInterval(() => this.poke(), this.options.retention.intervalMinutes * 60_000).unref();
    this.#first = setTimeout(() => this.poke(), this.options.firstDelayMs ?? 0).unref();
  }

  /** Asks for a round now, or right after the one under way. */
  poke(): void {
    if (this.#stopped) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = this.#rounds().finally(() => {
      this.#running = undefined;
    });
  }

  /** Resolves once no round is under way. */
  async settled(): Promise<void> {
    while (this.#running) await this.#running;
  }

  /** No more rounds; the one under way stops after its current statement. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    clearTimeout(this.#first);
    await this.settled();
  }

  async #rounds(): Promise<void> {
    do {
      this.#again = false;
      await this.#round();
    } while (this.#again && !this.#stopped);
  }

  async #round(): Promise<void> {
    const { retention, logger } = this.options;
    const started = Date.now();
    try {
      const { removed, before } = await applyRetention(this.options.db(), {
        now: this.options.clock(),
        exchangeDays: retention.exchangeDays,
        auditDays: retention.auditDays,
        stopping: () => this.#stopped,
        ...(this.options.batchSize ? { batchSize: this.options.batchSize } : {}),
        onProgress: ({ table, deleted }) => this.options.onDeleted?.(table, deleted),
      });
      const line = {
        exchanges: removed.exchanges,
        audit: removed.audit,
        before: {
          exchanges: before.exchanges?.toISOString() ?? null,
          audit: before.audit?.toISOString() ?? null,
        },
        ms: Date.now() - started,
      };
      if (removed.exchanges > 0 || removed.audit > 0) logger.info(line, 'retention: removed');
      else logger.debug(line, 'retention: nothing to remove');
    } catch (error) {
      logger.warn({ err: error }, 'retention: round failed; retried next round');
    }
  }
}
