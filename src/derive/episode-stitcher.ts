import type { EpisodesConfig, TablesConfig } from '../config/config.types.js';
import type { Logger } from '../logger.js';
import { Rounds } from '../rounds.js';
import type { Store } from '../store/store.js';
import { stitchAll, type StitchOptions, type StitchResult } from './stitch-episodes.js';
import { StitchThread } from './stitch-thread.js';
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
  /**
   * PostgreSQL's URL, to stitch on a worker thread with connections of its own (off the proxy's event
   * loop); without it, rounds run on this thread on `store` (the embedded store has no other).
   */
  databaseUrl?: string;
  /** The derivation tables as configured, for the worker. */
  tablesConfig?: TablesConfig;
}

/**
 * Runs episode stitching in the background of a collector: told when capture has written a batch, it
 * stitches until nothing waits, one run at a time (a poke during a run asks for another); a timer sweeps
 * up anything a failed run left. Failures are logged and retried, never thrown: events wait unstitched.
 * On PostgreSQL the rounds run on a worker thread; should it fail, on this thread from then on.
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
  readonly #thread: StitchThread | undefined;

  constructor(options: EpisodeStitcherOptions) {
    super({ intervalMs: options.intervalMs ?? 5000 });
    this.#options = options;
    this.#stitch = stitchOptions(options.episodes);
    if (options.databaseUrl) {
      const failed = (error: unknown): void =>
        options.logger.error(
          { err: error },
          'stitching worker failed: stitching on the main thread from now on',
        );
      try {
        this.#thread = new StitchThread(
          { databaseUrl: options.databaseUrl, tables: options.tablesConfig ?? {}, options: this.#stitch },
          failed,
        );
      } catch (error) {
        failed(error); // it could not even start (its source would not bundle)
      }
    }
  }

  /** Whether rounds run on the stitching worker (false: on this thread, by choice or since it failed). */
  get onWorker(): boolean {
    return this.#thread?.alive ?? false;
  }

  /** Ends the stitching worker abruptly, as a crash would (tests prove stitching carries on). */
  async crashWorkerForTest(): Promise<void> {
    await this.#thread?.crashForTest();
  }

  /** Stops the rounds, finishes the one under way, stitches what is left once more and ends the worker. */
  override async stop(): Promise<void> {
    await super.stop();
    await this.#once();
    await this.#thread?.close();
  }

  protected round(): Promise<void> {
    return this.#once();
  }

  #count(batch: StitchResult): void {
    for (const key of Object.keys(batch) as (keyof StitchResult)[]) this.totals[key] += batch[key];
    if (batch.oversized > 0)
      this.#options.logger.warn(
        { oversized: batch.oversized, maxEvents: this.#stitch.maxEvents },
        'episode too large to resolve: a correlation key seems to be reused for unrelated calls',
      );
  }

  /** A round on the worker; false when the worker has failed (the round is then this thread's). */
  async #onWorker(thread: StitchThread): Promise<boolean> {
    let outcome: { error?: string };
    try {
      outcome = await thread.round((batch) => this.#count(batch));
    } catch {
      return false; // the worker failed (and that was logged)
    }
    if (outcome.error !== undefined) throw new Error(outcome.error);
    return true;
  }

  async #once(): Promise<void> {
    try {
      const thread = this.#thread;
      if (!thread?.alive || !(await this.#onWorker(thread)))
        await stitchAll(this.#options.store().db, this.#options.tables, this.#stitch, (batch) =>
          this.#count(batch),
        );
      if (this.#failing) this.#options.logger.info('episode stitching resumed');
      this.#failing = false;
    } catch (error) {
      this.totals.failures += 1;
      if (!this.#failing) this.#options.logger.warn({ err: error }, 'episode stitching failed: will retry');
      this.#failing = true;
    }
  }
}
