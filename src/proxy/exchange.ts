import type { IncomingHttpHeaders } from 'node:http';
import type { TransportOutcome } from '../store/tables/exchange.table.js';
import type { ProviderConfig } from '../config/config.types.js';
import type { Route } from './route.js';

/** A body as the tap saw it: the first bytes (up to the cap), its full size, and whether it was cut. */
export interface TappedBody {
  chunks: Buffer[];
  size: number;
  truncated: boolean;
}

/**
 * One exchange as observed on the wire, before redaction: what the capture pipeline receives once the
 * consumer has had its answer. Nothing here is stored as it is.
 */
export interface ObservedExchange {
  id: string;
  receivedAt: Date;
  route: Route;
  method: string;
  /** The upstream path and query exactly as sent. */
  path: string;
  query: string | null;
  requestHeaders: IncomingHttpHeaders;
  requestBody: TappedBody;
  status?: number;
  responseHeaders: Record<string, string | string[] | undefined>;
  responseBody: TappedBody;
  outcome: TransportOutcome;
  /** Milliseconds from receipt: upstream request sent, first response byte (headers), end. */
  upstreamStartMs?: number;
  firstByteMs?: number;
  endMs: number;
}

/** What capture needs of a route: all of it that crosses to the redaction worker. */
export interface CapturedRoute {
  kind: Route['kind'];
  provider: Pick<ProviderConfig, 'id' | 'dialect' | 'captureFullBodies'>;
}

/** An observed exchange as capture takes it (the proxy's, or its copy on the redaction worker). */
export type CapturableExchange = Omit<ObservedExchange, 'route'> & { route: CapturedRoute };

/**
 * Collects a body's first `cap` bytes, copied into a buffer of its own, while counting all of them.
 * Copying costs microseconds; keeping the chunks themselves would keep alive the whole socket read
 * buffers they are slices of, long enough for them to reach V8's old generation and bring on a full
 * garbage collection every second or so at a few hundred requests a second (measured).
 */
export class BodyTap implements TappedBody {
  size = 0;
  truncated = false;
  readonly #cap: number;
  #buffer: Buffer | undefined;
  #kept = 0;

  constructor(cap: number) {
    this.#cap = cap;
  }

  get chunks(): Buffer[] {
    return this.#buffer && this.#kept > 0 ? [this.#buffer.subarray(0, this.#kept)] : [];
  }

  /**
   * Makes room for a body of a known length (a Content-Length), up to the cap and at most 256 KB at
   * once: a header alone never pins more (many slow requests announcing large bodies).
   */
  expect(length: number): void {
    if (Number.isSafeInteger(length) && length > 0) this.#reserve(Math.min(length, this.#cap, 256 * 1024));
  }

  add(chunk: Buffer): void {
    this.size += chunk.length;
    const n = Math.min(this.#cap - this.#kept, chunk.length);
    if (n < chunk.length) this.truncated = true;
    if (n <= 0) return;
    this.#reserve(this.#kept + n);
    chunk.copy(this.#buffer!, this.#kept, 0, n);
    this.#kept += n;
  }

  #reserve(needed: number): void {
    const current = this.#buffer?.length ?? 0;
    if (current >= needed) return;
    const next = Buffer.allocUnsafeSlow(Math.min(this.#cap, Math.max(needed, current * 2, 16 * 1024)));
    this.#buffer?.copy(next, 0, 0, this.#kept);
    this.#buffer = next;
  }
}
