import { withDeadline } from '../deadline.js';
import type { Worker } from 'node:worker_threads';
import type { TablesConfig } from '../config/config.types.js';
import { startWorker } from '../worker-thread.js';
import type { StitchOptions, StitchResult } from './stitch-episodes.js';
import { tablePaths } from './tables.js';

/** What the stitching worker is started with. */
export interface StitchThreadData {
  databaseUrl: string;
  /** The derivation tables' files (see `tablePaths`). */
  tables: TablesConfig;
  options: StitchOptions;
}

/**
 * What the worker tells: each batch as its transaction commits, then the round's end (and why it
 * stopped early, if it did); or that it has closed.
 */
export type StitchThreadReply = { batch: StitchResult } | { done: true; error?: string } | { closed: true };

interface Waiting {
  onBatch: (batch: StitchResult) => void;
  resolve: (reply: StitchThreadReply) => void;
  reject: (error: Error) => void;
}

/**
 * Episode stitching on a worker thread of its own (PostgreSQL only: the embedded store lives on the
 * main thread). One round at a time: `round` tells each committed batch as it comes and resolves at the
 * round's end; it rejects when the worker itself failed, after which `alive` is false and the caller
 * stitches on its own thread.
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
      { ...data, tables: tablePaths(data.tables) } satisfies StitchThreadData,
      // A small heap: the flag that grows the proxy's old generation to 128 MB before collecting applies
      // to every thread, and a round needs a fraction of it (a 500-event batch and the episodes it touches).
      { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 8 },
    );
    worker.unref();
    worker.on('message', (reply: StitchThreadReply) => {
      if ('batch' in reply) this.#waiting?.onBatch(reply.batch);
      else this.#settle((w) => w.resolve(reply));
    });
    worker.on('error', (error) => this.#fail(error));
    worker.on('exit', (code) => this.#fail(new Error(`stitching worker exited with code ${code}`)));
    this.#worker = worker;
  }

  /** Whether rounds still run on the worker. */
  get alive(): boolean {
    return this.#worker !== undefined;
  }

  /** Stitches until nothing waits, on the worker; resolves with why it stopped early, if it did. */
  async round(onBatch: (batch: StitchResult) => void): Promise<{ error?: string }> {
    const reply = await this.#ask('round', onBatch);
    return 'error' in reply ? { error: reply.error } : {};
  }

  /** Closes the worker's connections (given `deadlineMs`) and ends it. */
  async close(deadlineMs = 10_000): Promise<void> {
    const worker = this.#worker;
    if (!worker) return;
    try {
      await withDeadline(
        this.#ask('close', () => undefined),
        deadlineMs,
        'the stitching worker',
      );
    } catch {
      // It failed on its way out, or did not finish in time: it is ended below either way.
    }
    this.#worker = undefined;
    this.#waiting = undefined;
    await worker.terminate();
  }

  /** Ends the worker abruptly, as a crash would (tests use it to prove stitching carries on). */
  async crashForTest(): Promise<void> {
    await this.#worker?.terminate();
  }

  #ask(request: 'round' | 'close', onBatch: Waiting['onBatch']): Promise<StitchThreadReply> {
    const worker = this.#worker;
    if (!worker) return Promise.reject(new Error('the stitching worker has stopped'));
    return new Promise((resolve, reject) => {
      this.#waiting = { onBatch, resolve, reject };
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
