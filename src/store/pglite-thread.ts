import { createRequire } from 'node:module';
import type { Worker } from 'node:worker_threads';
import { startWorker } from '../worker-thread.js';

/** What a query gives back: its rows, and what the dialect reads to count affected rows. */
export interface PGliteQueryResult<R> {
  rows: R[];
  command?: string;
  rowCount?: number;
  affectedRows?: number;
}

/** What the Kysely dialect needs of PGlite: one connection's queries, and closing it. */
export interface PGliteClient {
  readonly closed: boolean;
  query<R>(sql: string, params: unknown[]): Promise<PGliteQueryResult<R>>;
  close(): Promise<void>;
}

/** What the embedded store's worker is started with. */
export interface PGliteThreadData {
  /** Where PGlite keeps its files; in memory when absent. */
  dataDir?: string;
  /** PGlite's entry point, resolved here: the worker may run as bundled source, with nothing beside it to resolve from. */
  pglitePath: string;
}

/** An error as it crosses from the worker: its message and its own plain fields (code, detail, ...). */
export type CrossingError = { message: string } & Record<string, string | number | boolean | undefined>;

export type PGliteRequest = { id: number; sql: string; params: unknown[] } | { id: number; close: true };

export type PGliteReply =
  | { ready: true; probe: { date: Date; bytes: Uint8Array } }
  | { failed: CrossingError }
  | { id: number; result: PGliteQueryResult<unknown> }
  | { id: number; error: CrossingError };

/**
 * Rows as objects of the realm the caller runs in. Messages are read in Node's main context; a test
 * runner that runs the code in a context of its own (jest's vm modules) would otherwise be given Dates and
 * byte arrays that fail its `instanceof` checks, and JSON values whose prototypes differ from its own
 * (so `isDeepStrictEqual` would call equal values different).
 */
function inThisRealm(rows: Record<string, unknown>[]): void {
  for (const row of rows)
    for (const [key, value] of Object.entries(row)) {
      if (typeof value !== 'object' || value === null || value instanceof Object) continue;
      const kind = Object.prototype.toString.call(value);
      if (kind === '[object Date]') row[key] = new Date((value as Date).getTime());
      else if (kind === '[object Uint8Array]')
        row[key] = new Uint8Array(value as Uint8Array); // bytea
      else row[key] = JSON.parse(JSON.stringify(value)); // jsonb, arrays
    }
}

/** Whether values that crossed from the worker are objects of another realm than this code's. */
function foreign(probe: { date: Date; bytes: Uint8Array }): boolean {
  return !(probe.date instanceof Date) || !(probe.bytes instanceof Uint8Array);
}

/** The error a query failed with in the worker, as this thread's Error with the same fields. */
function revived(crossing: CrossingError): Error {
  const { message, ...fields } = crossing;
  return Object.assign(new Error(message), fields);
}

interface Waiting {
  resolve: (result: PGliteQueryResult<unknown>) => void;
  reject: (error: Error) => void;
}

/**
 * The embedded store's PostgreSQL (PGlite, compiled to WebAssembly) on a worker thread of its own. Every
 * query runs there: a batch written, a report computed or an episode stitched never holds the event loop
 * that forwards the consumers' requests (on this thread, one 100-row batch held it some 20 ms). Queries
 * cross as messages; their parameters and rows are cloned (Buffers arrive as Uint8Array, which PGlite
 * takes and gives as it always did). Should the worker die, every query fails from then on: the store
 * is down, capture spools, readiness says so.
 */
export class PGliteThread implements PGliteClient {
  readonly #worker: Worker;
  readonly #waiting = new Map<number, Waiting>();
  #nextId = 1;
  #closed = false;
  #dead: Error | undefined;
  readonly #foreign: boolean;
  readonly #onDeath: ((error: Error) => void) | undefined;

  private constructor(worker: Worker, foreignValues: boolean, onDeath?: (error: Error) => void) {
    this.#worker = worker;
    this.#foreign = foreignValues;
    this.#onDeath = onDeath;
    worker.on('message', (reply: PGliteReply) => {
      if (!('id' in reply)) return;
      const waiting = this.#waiting.get(reply.id);
      if (!waiting) return;
      this.#waiting.delete(reply.id);
      if (this.#waiting.size === 0) worker.unref(); // an idle store keeps no process alive
      if ('error' in reply) {
        waiting.reject(revived(reply.error));
        return;
      }
      if (this.#foreign) inThisRealm(reply.result.rows as Record<string, unknown>[]);
      waiting.resolve(reply.result);
    });
    worker.on('error', (error) => this.#die(error));
    worker.on('exit', (code) => this.#die(new Error(`the embedded store's thread exited (code ${code})`)));
  }

  /**
   * Starts the worker and opens PGlite there; rejects with PGlite's own error if it cannot open.
   * `onDeath` is told, once, should the thread die later (every query fails from then on).
   */
  static async start(dataDir?: string, onDeath?: (error: Error) => void): Promise<PGliteThread> {
    const data: PGliteThreadData = {
      ...(dataDir ? { dataDir } : {}),
      pglitePath: createRequire(import.meta.url).resolve('@electric-sql/pglite'),
    };
    // A bounded heap: the flag that lets the proxy's old generation grow to 128 MB before collecting
    // applies to every thread, and this one makes garbage fast (each batch's JSON as text for PGlite),
    // so unbounded it held some 110 MB more (`npm run bench -- embedded`). What lives here is small:
    // results come in pages, and capture's batches are 8 MB at most.
    const worker = startWorker(new URL('./pglite-worker.ts', import.meta.url), data, {
      maxOldGenerationSizeMb: 128,
      maxYoungGenerationSizeMb: 8,
    });
    const foreignValues = await new Promise<boolean>((resolve, reject) => {
      const onExit = (code: number) => reject(new Error(`the embedded store's thread exited (code ${code})`));
      worker.once('error', reject);
      worker.once('exit', onExit);
      worker.once('message', (reply: PGliteReply) => {
        worker.off('error', reject);
        worker.off('exit', onExit);
        if ('failed' in reply) {
          void worker.terminate();
          reject(revived(reply.failed));
        } else if ('ready' in reply) resolve(foreign(reply.probe));
      });
    });
    worker.unref();
    return new PGliteThread(worker, foreignValues, onDeath);
  }

  get closed(): boolean {
    return this.#closed;
  }

  query<R>(sql: string, params: unknown[]): Promise<PGliteQueryResult<R>> {
    return this.#ask({ sql, params }) as Promise<PGliteQueryResult<R>>;
  }

  /** Closes PGlite (its files written and let go) and ends the worker. */
  async close(): Promise<void> {
    if (this.#closed) return;
    try {
      if (!this.#dead) await this.#ask({ close: true });
    } finally {
      this.#closed = true;
      await this.#worker.terminate();
    }
  }

  /** Ends the worker abruptly, as a crash would (tests use it to prove queries then fail, not hang). */
  async crashForTest(): Promise<void> {
    await this.#worker.terminate();
  }

  #ask(request: { sql: string; params: unknown[] } | { close: true }): Promise<PGliteQueryResult<unknown>> {
    if (this.#dead) return Promise.reject(this.#dead);
    if (this.#closed) return Promise.reject(new Error('the embedded store is closed'));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      if (this.#waiting.size === 0) this.#worker.ref(); // a query under way keeps the process alive
      this.#waiting.set(id, { resolve, reject });
      this.#worker.postMessage({ id, ...request } satisfies PGliteRequest);
    });
  }

  #die(error: Error): void {
    if (this.#dead || this.#closed) return;
    this.#dead = error;
    for (const waiting of this.#waiting.values()) waiting.reject(error);
    this.#waiting.clear();
    this.#onDeath?.(error);
  }
}
