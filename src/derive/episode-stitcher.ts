import type { EpisodesConfig } from '../config/config.types.js';
import type { Logger } from '../logger.js';
import { Rounds } from '../rounds.js';
import type { Store } from '../store/store.js';
import { stitchAll, type StitchOptions, type StitchResult } from './stitch-episodes.js';
import type { DerivationTables } from './tables.js';

/** Stitch options from the configuration. */
export function stitchOptions(config: EpisodesConfig): StitchOptions {
  return {
    windowMs: config.windowMinutes * 60_000,
    encounterWindowMs: config.encounterWindowMinutes * 60_000,
    maxEvents: config.maxEvents,
  };
}

export interface EpisodeStitcherOptions {
  store: () => Store;
  tables: DerivationTables;
  episodes: EpisodesConfig;
  logger: Logger;
  /** A sweep for anything left (a failed run, events written by another instance), this often. */
  intervalMs?: number;
}

/**
 * Runs episode stitching in the background of a collector: told when capture has written a batch, it
 * stitches until nothing waits, one run at a time (a poke during a run asks for another); a timer sweeps
 * up anything a failed run left. Failures are logged and retried, never thrown: events wait unstitched.
 */
export class EpisodeStitcher extends Rounds {
  readonly totals: Record<keyof StitchResult | 'failures', number> = {
    stitched: 0,
    opened: 0,
    merged: 0,
    resolved: 0,
    updated: 0,
    oversized: 0,
    failures: 0,
  };
  readonly #options: EpisodeStitcherOptions;
  readonly #stitch: StitchOptions;
  #failing = false;

  constructor(options: EpisodeStitcherOptions) {
    super({ intervalMs: options.intervalMs ?? 5000 });
    this.#options = options;
    this.#stitch = stitchOptions(options.episodes);
  }

  /** Stops the rounds, finishes the one under way and stitches what is left once more. */
  override async stop(): Promise<void> {
    await super.stop();
    await this.#once();
  }

  protected round(): Promise<void> {
    return this.#once();
  }

  async #once(): Promise<void> {
    try {
      await stitchAll(this.#options.store().db, this.#options.tables, this.#stitch, (batch) => {
        for (const key of Object.keys(batch) as (keyof StitchResult)[]) this.totals[key] += batch[key];
        if (batch.oversized > 0)
          this.#options.logger.warn(
            { oversized: batch.oversized, maxEvents: this.#stitch.maxEvents },
            'episode too large to resolve: a correlation key seems to be reused for unrelated calls',
          );
      });
      if (this.#failing) this.#options.logger.info('episode stitching resumed');
      this.#failing = false;
    } catch (error) {
      this.totals.failures += 1;
      if (!this.#failing) this.#options.logger.warn({ err: error }, 'episode stitching failed: will retry');
      this.#failing = true;
    }
  }
}
