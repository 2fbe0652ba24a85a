import type { Kysely } from 'kysely';
import type { Logger } from '../logger.js';
import type { Database } from '../store/database.js';
import { Rounds } from '../rounds.js';
import { refreshRollups } from './rollup-build.js';

/**
 * Keeps the roll-ups in step in a running collector: a round now and then (never two at once), and a
 * progress line while a large store is first built. Failures are logged and retried next time: reports
 * count from the events meanwhile, so they stay right, only slower.
 */
export class RollupKeeper extends Rounds {
  constructor(
    private readonly options: {
      db: () => Kysely<Database>;
      timezone: string;
      logger: Logger;
      intervalMs: number;
      /**
       * Days built per transaction. On PGlite (one connection) a build holds capture, stitching and
       * reports until it commits: a day at a time there.
       */
      chunkDays?: number;
      /** The first round waits this long after start (capture replays its spool first). */
      firstDelayMs?: number;
    },
  ) {
    super({
      intervalMs: options.intervalMs,
      ...(options.firstDelayMs !== undefined ? { firstDelayMs: options.firstDelayMs } : {}),
    });
  }

  protected async round(stopping: () => boolean): Promise<void> {
    const started = Date.now();
    try {
      const round = await refreshRollups(this.options.db(), this.options.timezone, {
        stopping,
        ...(this.options.chunkDays ? { chunkDays: this.options.chunkDays } : {}),
        onProgress: (built, waiting) => {
          if (waiting > 0) this.options.logger.info({ built, waiting }, 'report roll-ups: building');
        },
      });
      if (round.built > 0)
        this.options.logger.info({ built: round.built, ms: Date.now() - started }, 'report roll-ups: built');
    } catch (error) {
      this.options.logger.warn({ err: error }, 'report roll-ups: round failed; reports count from events');
    }
  }
}
