/**
 * Requests per caller as token buckets: each caller may make `burst` requests at once, and earns one
 * more every `1 / perSecond` s. In memory, per process: with several collectors behind a load balancer
 * each applies the limit on its own.
 */
export class RateLimiter {
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Takes one request for `caller`: 0 when it may go ahead, else the seconds to wait before trying again. */
  take(caller: string): number {
    const now = this.now();
    const bucket = this.#buckets.get(caller) ?? { tokens: this.burst, at: now };
    bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.perSecond);
    bucket.at = now;
    this.#buckets.set(caller, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - bucket.tokens) / this.perSecond));
  }
}
