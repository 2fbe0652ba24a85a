import type { Worker } from 'node:worker_threads';
import type { Logger } from '../logger.js';
import type { CapturableExchange, ObservedExchange, TappedBody } from '../proxy/exchange.js';
import type { TablesConfig } from '../config/config.types.js';
import { loadDerivationTables, tablePaths, type DerivationTables } from '../derive/tables.js';
import { captureExchange, type CapturedExchange } from './captured.js';
import type { RedactionRules } from './redact.js';
import { startWorker } from '../worker-thread.js';

/**
 * A tapped body as one buffer that owns its memory, listed for transfer to the worker. A copy: the tap's
 * own buffer stays whole, for redacting inline should the worker fail with the exchange in hand.
 */
function packed(body: TappedBody, transfer: ArrayBuffer[]): TappedBody {
  if (body.chunks.length === 0) return { chunks: [], size: body.size, truncated: body.truncated };
  let length = 0;
  for (const chunk of body.chunks) length += chunk.length;
  const copy = Buffer.allocUnsafeSlow(length);
  let at = 0;
  for (const chunk of body.chunks) at += chunk.copy(copy, at);
  transfer.push(copy.buffer);
  return { chunks: [copy], size: body.size, truncated: body.truncated };
}

/** What capture needs of an exchange, and no more: the route's provider config stays on this thread. */
function forWorker(observed: ObservedExchange, transfer: ArrayBuffer[]): CapturableExchange {
  const { provider } = observed.route;
  return {
    ...observed,
    route: {
      kind: observed.route.kind,
      provider: { id: provider.id, dialect: provider.dialect, captureFullBodies: provider.captureFullBodies },
    },
    requestBody: packed(observed.requestBody, transfer),
    responseBody: packed(observed.responseBody, transfer),
  };
}

/** A captured exchange as it arrives from the worker (its bytes as plain Uint8Arrays), as Buffers again, without a copy. */
function asBuffers(captured: CapturedExchange): CapturedExchange {
  const view = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { id: captured.id, exchange: view(captured.exchange), events: view(captured.events) };
}

/** What redacting one exchange gave: its row, or why there is none. */
export type RedactionOutcome = { id: string; captured: CapturedExchange } | { id: string; error: string };

/** Turns observed exchanges into redacted rows and their events, and hands each outcome to `deliver`. */
export interface Redactor {
  /** Whether redaction runs on the worker thread (false: inline, by choice or since the worker failed). */
  readonly onWorker: boolean;
  submit(observed: ObservedExchange): void;
  /** Resolves once every submitted exchange has been delivered. */
  idle(): Promise<void>;
  close(): Promise<void>;
}

/** Redaction on the calling thread: simple, and what the worker falls back to. */
export class InlineRedactor implements Redactor {
  constructor(
    private readonly rules: RedactionRules,
    private readonly tables: DerivationTables,
    private readonly deliver: (outcome: RedactionOutcome) => void,
  ) {}

  readonly onWorker = false;

  submit(observed: ObservedExchange): void {
    let outcome: RedactionOutcome;
    try {
      outcome = { id: observed.id, captured: captureExchange(observed, this.rules, this.tables) };
    } catch (error) {
      outcome = { id: observed.id, error: (error as Error).message };
    }
    this.deliver(outcome);
  }

  idle(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * Redaction on a worker thread, so the event loop that forwards traffic never parses a body. Exchanges
 * are sent in small batches; while the worker is more than `maxInFlight` behind, or after it has failed,
 * exchanges are redacted inline instead (slower for the proxy, but nothing waits unbounded in memory
 * and nothing is lost: exchanges the worker held when it failed are redacted inline too).
 */
export class WorkerRedactor implements Redactor {
  readonly #inline: InlineRedactor;
  readonly #inFlight = new Map<string, ObservedExchange>();
  readonly #logger: Logger;
  readonly #maxInFlight: number;
  #worker: Worker | undefined;
  #batch: ObservedExchange[] = [];
  #scheduled = false;
  #waiters: (() => void)[] = [];

  constructor(
    secret: string,
    rules: RedactionRules,
    tables: TablesConfig,
    private readonly deliver: (outcome: RedactionOutcome) => void,
    logger: Logger,
    maxInFlight = 500,
  ) {
    this.#logger = logger;
    this.#maxInFlight = maxInFlight;
    this.#inline = new InlineRedactor(rules, loadDerivationTables(tables), deliver);
    const workerData = {
      hashSecret: secret,
      birthDateAsYear: rules.birthDateAsYear,
      tables: tablePaths(tables),
    };
    const worker = startWorker(new URL('./redaction-worker.ts', import.meta.url), workerData);
    worker.unref();
    worker.on('message', (outcomes: RedactionOutcome[]) => {
      for (const outcome of outcomes) {
        if (!this.#inFlight.delete(outcome.id)) continue;
        this.deliver(
          'captured' in outcome ? { id: outcome.id, captured: asBuffers(outcome.captured) } : outcome,
        );
      }
      this.#settle();
    });
    worker.on('error', (error) => this.#fail(error));
    worker.on('exit', (code) => {
      if (this.#worker) this.#fail(new Error(`redaction worker exited with code ${code}`));
    });
    this.#worker = worker;
  }

  /** Whether exchanges still go to the worker (false once it has failed). */
  get onWorker(): boolean {
    return this.#worker !== undefined;
  }

  /** Ends the worker abruptly, as a crash would (tests use it to prove nothing is lost). */
  async crashForTest(): Promise<void> {
    await this.#worker?.terminate();
  }

  submit(observed: ObservedExchange): void {
    if (!this.#worker || this.#inFlight.size >= this.#maxInFlight) {
      this.#inline.submit(observed);
      return;
    }
    this.#inFlight.set(observed.id, observed);
    this.#batch.push(observed);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => this.#post());
    }
  }

  #post(): void {
    this.#scheduled = false;
    const batch = this.#batch;
    this.#batch = [];
    if (batch.length === 0) return;
    if (!this.#worker) {
      for (const observed of batch) this.#redactInline(observed);
      return;
    }
    // Each body crosses as one buffer of its own, moved rather than copied into the message.
    const transfer: ArrayBuffer[] = [];
    const message = batch.map((observed) => forWorker(observed, transfer));
    this.#worker.postMessage(message, transfer);
  }

  #redactInline(observed: ObservedExchange): void {
    if (!this.#inFlight.delete(observed.id)) return;
    this.#inline.submit(observed);
  }

  #fail(error: Error): void {
    if (!this.#worker) return;
    this.#logger.error({ err: error }, 'redaction worker failed: redacting on the main thread from now on');
    this.#worker = undefined;
    for (const observed of [...this.#inFlight.values()]) this.#redactInline(observed);
    this.#settle();
  }

  #settle(): void {
    if (this.#inFlight.size > 0) return;
    for (const wake of this.#waiters.splice(0)) wake();
  }

  idle(): Promise<void> {
    if (this.#inFlight.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  async close(): Promise<void> {
    await this.idle();
    const worker = this.#worker;
    this.#worker = undefined;
    await worker?.terminate();
  }
}
