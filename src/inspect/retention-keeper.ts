import type { Kysely } from 'kysely';
import type { Clock } from '../clock.js';
import type { RetentionConfig } from '../config/config.types.js';
import type { Logger } from '../logger.js';
import type { Database } from '../store/database.js';
import { Rounds } from '../rounds.js';
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
export class RetentionKeeper extends Rounds {
  constructor(private readonly options: RetentionKeeperOptions) {
    super({
      intervalMs: options.retention.intervalMinutes * 60_000,
      ...(options.firstDelayMs !== undefined ? { firstDelayMs: options.firstDelayMs } : {}),
    });
  }

  /** Whether there is anything to do: some table has a retention, and rounds are to run at all. */
  get enabled(): boolean {
    const { exchangeDays, auditDays, intervalMinutes } = this.options.retention;
    return intervalMinutes > 0 && (exchangeDays > 0 || auditDays > 0);
  }

  protected async round(stopping: () => boolean): Promise<void> {
    const { retention, logger } = this.options;
    const started = Date.now();
    try {
      const { removed, before } = await applyRetention(this.options.db(), {
        now: this.options.clock(),
        exchangeDays: retention.exchangeDays,
        auditDays: retention.auditDays,
        stopping,
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
