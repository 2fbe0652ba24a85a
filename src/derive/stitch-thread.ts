import type { Worker } from 'node:worker_threads';
import type { TablesConfig } from '../config/config.types.js';
import { startWorker } from '../worker-thread.js';
import type { StitchOptions, StitchResult } from './stitch-episodes.js';
import { bundledTable } from './tables.js';

/** What the stitching worker is started with. */
export interface StitchThreadData {
  databaseUrl: string;
  /** The derivation tables' paths (a worker bundled for the sources cannot find the bundled ones). */
  tables: TablesConfig;
  options: StitchOptions;
}

/** The worker's answer: a round's batches (and why it stopped early, if it did), or that it closed. */
export type StitchThreadReply = { batches: StitchResult[]; error?: string } | { closed: true };

interface Waiting {
  resolve: (reply: StitchThreadReply) => void;
  reject: (error: Error) => void;
}

/**
 * Episode stitching on a worker thread of its own (PostgreSQL only: the embedded store lives on the
 * main thread). One round at a time: `round` resolves with what the worker stitched, and rejects when
 * the worker itself failed, after which `alive` is false and the caller stitches on its own thread.
 */
export class StitchThread {
  #worker: Worker | undefined;
  #waiting: Waiting | undefined;

  /** `onFailure` is told once, should the worker fail (it is then never used again). */
  constructor(
    data: StitchThreadData,
    private readonly onFailure: (error: Error) => void,
  ) {
    const worker = startWorker(
      new URL('./stitch-worker.ts', import.meta.url),
      {
        ...data,
        tables: {
          dispositions: data.tables.dispositions ?? bundledTable('dispositions.csv'),
          bankHolidays: data.tables.bankHolidays ?? bundledTable('bank-holidays-england-and-wales.csv'),
        },
      } satisfies StitchThreadData,
      // A small heap: the flag that grows the proxy's old generation to 128 MB before collecting applies
      // to every thread, and a round needs a fraction of it (a 500-event batch and the episodes it touches).
      {
        maxOldGenerationSizeMb: 64,
        maxYoungGenerationSizeMb: 8,
      },
    );
    worker.unref();
    worker.on('message', (reply: StitchThreadReply) => this.#settle((w) => w.resolve(reply)));
    worker.on('error', (error) => this.#fail(error));
    worker.on('exit', (code) => this.#fail(new Error(`stitching worker exited with code ${code}`)));
    this.#worker = worker;
  }

  /** Whether rounds still run on the worker. */
  get alive(): boolean {
    return this.#worker !== undefined;
  }

  /** Stitches until nothing waits, on the worker. */
  async round(): Promise<{ batches: StitchResult[]; error?: string }> {
    const reply = await this.#ask('round');
    return 'batches' in reply ? reply : { batches: [] };
  }

  /** Closes the worker's connections (given `deadlineMs`) and ends it. */
  async close(deadlineMs = 10_000): Promise<void> {
    const worker = this.#worker;
    if (!worker) return;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.#ask('close'),
        new Promise((resolve) => (timer = setTimeout(resolve, deadlineMs))),
      ]);
    } catch {
      // It failed on its way out: nothing of it is left to close.
    } finally {
      clearTimeout(timer);
    }
    this.#worker = undefined;
    this.#waiting = undefined;
    await worker.terminate();
  }

  /** Ends the worker abruptly, as a crash would (tests use it to prove stitching carries on). */
  async crashForTest(): Promise<void> {
    await this.#worker?.terminate();
  }

  #ask(request: 'round' | 'close'): Promise<StitchThreadReply> {
    const worker = this.#worker;
    if (!worker) return Promise.reject(new Error('the stitching worker has stopped'));
    return new Promise((resolve, reject) => {
      this.#waiting = { resolve, reject };
      worker.postMessage(request);
    });
  }

  #settle(action: (waiting: Waiting) => void): void {
    const waiting = this.#waiting;
    this.#waiting = undefined;
    if (waiting) action(waiting);
  }

  #fail(error: Error): void {
    if (!this.#worker) return;
    this.#worker = undefined;
    this.#settle((w) => w.reject(error));
    this.onFailure(error);
  }
}
