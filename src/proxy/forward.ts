import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { Agent, type Dispatcher, errors as undiciErrors } from 'undici';
import type { ProviderConfig } from '../config/config.types.js';
import { OperationOutcomeError } from '../fhir/operation-outcome.js';
import { newId } from '../ids.js';
import type { TransportOutcome } from '../store/tables/exchange.table.js';
import { BodyTap, type ObservedExchange } from './exchange.js';
import type { Route } from './route.js';

/** Headers that belong to one connection, never forwarded (RFC 9110 7.6.1), plus Host. Trailer is passed on, with the trailers. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'transfer-encoding',
  'upgrade',
  'host',
  // Node answers 100-continue to the consumer itself; undici refuses to send the header upstream.
  'expect',
]);

/** The header names a Connection header lists (they too belong to one connection). */
function connectionNamed(value: string | string[] | undefined): Set<string> | undefined {
  if (value === undefined) return undefined;
  return new Set(
    String(value)
      .split(',')
      .map((h) => h.trim().toLowerCase())
      .filter(Boolean),
  );
}

/**
 * The consumer's headers for the provider, from the raw list: names spelt as the consumer spelt them,
 * repeated headers kept apart, hop-by-hop ones dropped, X-Forwarded-For/-Proto/-Host added: our peer
 * joins X-Forwarded-For's chain, and a scheme told by a proxy in front (a TLS terminator) is kept, since
 * it, not the hop to us, is how the consumer called.
 */
function forwardedHeaders(req: IncomingMessage): string[] {
  const raw = req.rawHeaders;
  const named = connectionNamed(req.headers.connection);
  const host = req.headers.host;
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const lower = raw[i]!.toLowerCase();
    if (HOP_BY_HOP.has(lower) || named?.has(lower)) continue;
    if (lower === 'x-forwarded-for' || lower === 'x-forwarded-proto') continue;
    if (lower === 'x-forwarded-host' && host) continue;
    out.push(raw[i]!, raw[i + 1]!);
  }
  const prior = req.headers['x-forwarded-for'];
  const remote = req.socket.remoteAddress ?? '';
  // The first of a chain is how the consumer called (a header sent twice arrives joined by commas).
  const proto = String(req.headers['x-forwarded-proto'] ?? '')
    .split(',')[0]!
    .trim();
  out.push('X-Forwarded-For', prior ? `${String(prior)}, ${remote}` : remote);
  out.push('X-Forwarded-Proto', proto && /^https?$/i.test(proto) ? proto : 'http');
  if (host) out.push('X-Forwarded-Host', host);
  return out;
}

/**
 * The provider's response headers: `list` for the consumer (raw names and bytes, hop-by-hop ones
 * dropped), `record` for the tap (every header, by lower-case name).
 */
function providerHeaders(raw: Buffer[]): { list: string[]; record: Record<string, string | string[]> } {
  const record: Record<string, string | string[]> = {};
  const names: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toString('latin1');
    const value = raw[i + 1]!.toString('latin1');
    const lower = name.toLowerCase();
    names.push(name, value);
    const prior = record[lower];
    record[lower] = prior === undefined ? value : Array.isArray(prior) ? [...prior, value] : [prior, value];
  }
  const named = connectionNamed(record.connection);
  const list: string[] = [];
  for (let i = 0; i < names.length; i += 2) {
    const lower = names[i]!.toLowerCase();
    if (!HOP_BY_HOP.has(lower) && !named?.has(lower)) list.push(names[i]!, names[i + 1]!);
  }
  return { list, record };
}

/** Raw trailer fields as [name, value] pairs. */
function pairs(raw: Buffer[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < raw.length; i += 2)
    out.push([raw[i]!.toString('latin1'), raw[i + 1]!.toString('latin1')]);
  return out;
}

/** Why a forward was abandoned: the consumer went away. */
class ConsumerGoneError extends Error {
  constructor() {
    super('the consumer closed the connection');
  }
}

function elapsedMs(since: bigint): number {
  return Number(process.hrtime.bigint() - since) / 1e6;
}

/** What kind of transport failure an undici (or socket) error is. */
export function transportOutcome(error: unknown): Exclude<TransportOutcome, 'ok' | 'client_aborted'> {
  const code = (error as { code?: string }).code ?? '';
  const cause = (error as { cause?: { code?: string } }).cause?.code ?? '';
  if (
    error instanceof undiciErrors.ConnectTimeoutError ||
    error instanceof undiciErrors.HeadersTimeoutError ||
    error instanceof undiciErrors.BodyTimeoutError ||
    code === 'ETIMEDOUT' ||
    cause === 'ETIMEDOUT'
  ) {
    return 'timeout';
  }
  if (code === 'ECONNREFUSED' || cause === 'ECONNREFUSED') return 'refused';
  return 'reset';
}

function upstreamError(
  outcome: Exclude<TransportOutcome, 'ok' | 'client_aborted'>,
  provider: ProviderConfig,
): OperationOutcomeError {
  switch (outcome) {
    case 'timeout':
      return new OperationOutcomeError('UPSTREAM_TIMEOUT', [
        { diagnostics: `Provider ${provider.id} did not answer in time; raised by the collector` },
      ]);
    case 'refused':
      return new OperationOutcomeError('UPSTREAM_REFUSED', [
        { diagnostics: `Provider ${provider.id} refused the connection; raised by the collector` },
      ]);
    case 'reset':
      return new OperationOutcomeError('UPSTREAM_RESET', [
        { diagnostics: `The connection to provider ${provider.id} failed; raised by the collector` },
      ]);
  }
}

export interface ForwarderOptions {
  /** Largest body kept by the tap, per direction. */
  captureCapBytes: number;
  /** Told about every exchange once it is over; must not throw (its errors are swallowed). */
  onExchange: (exchange: ObservedExchange) => void;
  clock: () => Date;
}

/**
 * Forwards consumer requests to providers, streaming both bodies (never buffered whole), and hands the
 * tapped exchange to `onExchange` after the consumer has been answered. Upstream connections are pooled
 * per provider with its connect and response timeouts.
 */
export class Forwarder {
  readonly #agents = new Map<string, Agent>();
  readonly #inFlight = new Set<Promise<void>>();
  readonly #options: ForwarderOptions;

  constructor(options: ForwarderOptions) {
    this.#options = options;
  }

  #agent(provider: ProviderConfig): Agent {
    let agent = this.#agents.get(provider.id);
    if (!agent) {
      agent = new Agent({
        connect: { timeout: provider.timeouts.connectMs },
        headersTimeout: provider.timeouts.responseMs,
        bodyTimeout: provider.timeouts.responseMs,
        keepAliveTimeout: 30_000,
        connections: 256,
      });
      this.#agents.set(provider.id, agent);
    }
    return agent;
  }

  /** Closes the pooled upstream connections. */
  async close(): Promise<void> {
    await Promise.all([...this.#agents.values()].map((agent) => agent.close()));
    this.#agents.clear();
  }

  /** Resolves once every forward under way has finished and handed over its exchange (for a clean stop). */
  async settled(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  /** Forwards one request along its route and answers the consumer. Never rejects after answering. */
  forward(req: IncomingMessage, res: ServerResponse, route: Route): Promise<void> {
    const done = this.#forward(req, res, route);
    this.#inFlight.add(done);
    void done.finally(() => this.#inFlight.delete(done)).catch(() => undefined);
    return done;
  }

  #forward(req: IncomingMessage, res: ServerResponse, route: Route): Promise<void> {
    const started = process.hrtime.bigint();
    const cap = this.#options.captureCapBytes;
    const requestBody = new BodyTap(cap);
    requestBody.expect(Number(req.headers['content-length']));
    const responseBody = new BodyTap(cap);
    const queryAt = route.target.indexOf('?');
    const url = new URL(route.target);
    // The raw path and query: everything after the authority, exactly as sent (URL.origin would drop an
    // explicit default port and so cut the path in the wrong place).
    const pathStart = route.target.indexOf('/', route.target.indexOf('//') + 2);
    const rawPathAndQuery = pathStart < 0 ? '/' : route.target.slice(pathStart);
    const observed: ObservedExchange = {
      id: newId(),
      receivedAt: this.#options.clock(),
      route,
      method: req.method ?? 'GET',
      path: queryAt < 0 ? rawPathAndQuery : rawPathAndQuery.slice(0, rawPathAndQuery.indexOf('?')),
      query: queryAt < 0 ? null : route.target.slice(queryAt + 1),
      requestHeaders: req.headers,
      requestBody,
      responseHeaders: {},
      responseBody,
      outcome: 'ok',
      endMs: 0,
    };

    const headers = forwardedHeaders(req);
    const hasBody =
      req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
    // The request body streams through as it arrives, each chunk tapped on its way.
    const body = hasBody
      ? (async function* tapped() {
          for await (const chunk of req as AsyncIterable<Buffer>) {
            requestBody.add(chunk);
            yield chunk;
          }
        })()
      : undefined;

    let resolve!: () => void;
    const promise = new Promise<void>((done) => (resolve = done));
    let abortUpstream: ((reason?: Error) => void) | undefined;
    let resumeUpstream: (() => void) | undefined;
    let answered = false;
    let over = false;
    const finish = (): void => {
      if (over) return;
      over = true;
      observed.endMs = elapsedMs(started);
      try {
        this.#options.onExchange(observed);
      } catch {
        // Capture must never break the traffic it observes.
      }
      resolve();
    };
    res.once('close', () => {
      clearTimeout(stalled);
      // Once handed over, the exchange is not changed (the answer was complete when it was).
      if (res.writableFinished || over) return;
      if (observed.outcome === 'ok') observed.outcome = 'client_aborted';
      abortUpstream?.(new ConsumerGoneError());
    });
    // A consumer that stops reading pauses the provider; undici's body timeout does not run while
    // paused, so the consumer gets the provider's response timeout to read again, then is cut off.
    let stalled: NodeJS.Timeout | undefined;
    const stallLimitMs = route.provider.timeouts.responseMs;

    // undici's lowest-level API: the provider's status line, header names as it spelt them and
    // trailers all reach us raw, and each chunk goes on to the consumer with no stream or promise
    // in between (onData returns false to pause the provider while the consumer is slow).
    const handler: Dispatcher.DispatchHandler = {
      onConnect: (abort) => {
        abortUpstream = abort;
        if (observed.outcome === 'client_aborted') abort(new ConsumerGoneError());
      },
      onHeaders: (statusCode, rawHeaders, resume, statusText) => {
        if (statusCode < 200) return true; // 1xx: Node answers 100-continue to the consumer itself
        resumeUpstream = resume;
        observed.firstByteMs = elapsedMs(started);
        observed.status = statusCode;
        const { list, record } = providerHeaders(rawHeaders);
        observed.responseHeaders = record;
        responseBody.expect(Number(record['content-length']));
        if (res.destroyed) return false;
        res.writeHead(statusCode, statusText, list);
        answered = true;
        return true;
      },
      onData: (chunk) => {
        responseBody.add(chunk);
        if (res.write(chunk)) return true;
        stalled = setTimeout(() => res.destroy(), stallLimitMs);
        res.once('drain', () => {
          clearTimeout(stalled);
          resumeUpstream?.();
        });
        return false;
      },
      onComplete: (trailers) => {
        if (trailers && trailers.length > 0) res.addTrailers(pairs(trailers as unknown as Buffer[]));
        res.end();
        finish();
      },
      onError: (error) => {
        if (observed.outcome === 'client_aborted' || error instanceof ConsumerGoneError) {
          observed.outcome = 'client_aborted';
        } else {
          observed.outcome = transportOutcome(error);
          if (!answered && !res.headersSent) {
            const outcome = upstreamError(observed.outcome, route.provider);
            observed.status = outcome.status;
            res.writeHead(outcome.status, { 'content-type': 'application/fhir+json; charset=utf-8' });
            res.end(JSON.stringify(outcome.toOperationOutcome()));
          } else {
            // The answer had begun: cut the connection so the consumer sees an incomplete response,
            // never one that looks whole.
            res.destroy();
          }
        }
        finish();
      },
    };
    observed.upstreamStartMs = elapsedMs(started);
    try {
      this.#agent(route.provider).dispatch(
        {
          origin: url.origin,
          path: rawPathAndQuery,
          method: observed.method,
          headers,
          // An async iterable is a body undici documents (its types only list streams).
          body: (body ?? null) as Readable | null,
        },
        handler,
      );
    } catch (error) {
      handler.onError!(error as Error);
    }
    return promise;
  }
}
