import type { IncomingHttpHeaders } from 'node:http';
import type { TransportOutcome } from '../store/tables/exchange.table.js';
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

/** Collects a body's first `cap` bytes while counting all of them. */
export class BodyTap implements TappedBody {
  readonly chunks: Buffer[] = [];
  size = 0;
  truncated = false;
  readonly #cap: number;
  #kept = 0;

  constructor(cap: number) {
    this.#cap = cap;
  }

  add(chunk: Buffer): void {
    this.size += chunk.length;
    if (this.#kept >= this.#cap) {
      this.truncated = true;
      return;
    }
    const room = this.#cap - this.#kept;
    const kept = chunk.length <= room ? chunk : chunk.subarray(0, room);
    this.chunks.push(kept);
    this.#kept += kept.length;
    if (kept.length < chunk.length) this.truncated = true;
  }
}
