import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { Readable, Writable } from 'node:stream';
import { Agent, errors as undiciErrors } from 'undici';
import type { ProviderConfig } from '../config/config.types.js';
import { OperationOutcomeError } from '../fhir/operation-outcome.js';
import { newId } from '../ids.js';
import type { TransportOutcome } from '../store/tables/exchange.table.js';
import { BodyTap, type ObservedExchange } from './exchange.js';
import type { Route } from './route.js';

/** Headers that belong to one connection, never forwarded (RFC 9110 7.6.1), plus Host. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  // Node answers 100-continue to the consumer itself; undici refuses to send the header upstream.
  'expect',
]);

/** Hop-by-hop headers, and any the Connection header names, removed. */
function endToEnd(
  headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>,
): Record<string, string | string[]> {
  const named = new Set(
    String(headers.connection ?? '')
      .split(',')
      .map((h) => h.trim().toLowerCase())
      .filter(Boolean),
  );
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || named.has(name)) continue;
    out[name] = value;
  }
  return out;
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

  async #forward(req: IncomingMessage, res: ServerResponse, route: Route): Promise<void> {
    const started = process.hrtime.bigint();
    const cap = this.#options.captureCapBytes;
    const requestBody = new BodyTap(cap);
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

    const abort = new AbortController();
    let answered = false;
    res.once('close', () => {
      if (!res.writableFinished) {
        observed.outcome = observed.outcome === 'ok' ? 'client_aborted' : observed.outcome;
        abort.abort();
      }
    });

    const headers = endToEnd(req.headers);
    const forwardedFor = req.socket.remoteAddress ?? '';
    headers['x-forwarded-for'] = req.headers['x-forwarded-for']
      ? `${String(req.headers['x-forwarded-for'])}, ${forwardedFor}`
      : forwardedFor;
    headers['x-forwarded-proto'] = 'http';
    if (req.headers.host) headers['x-forwarded-host'] = req.headers.host;
    const hasBody =
      req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
    const body = hasBody
      ? Readable.from(
          (async function* tapped() {
            for await (const chunk of req as AsyncIterable<Buffer>) {
              requestBody.add(chunk);
              yield chunk;
            }
          })(),
        )
      : undefined;

    try {
      observed.upstreamStartMs = elapsedMs(started);
      // stream() hands the body to a sink as it arrives, with no per-chunk promise: the cheapest way
      // through undici. The sink taps each chunk and writes it on, honouring the consumer's backpressure.
      await this.#agent(route.provider).stream(
        {
          origin: url.origin,
          path: rawPathAndQuery,
          method: observed.method,
          headers,
          ...(body ? { body } : {}),
          signal: abort.signal,
        },
        ({ statusCode, headers: upstreamHeaders }) => {
          observed.firstByteMs = elapsedMs(started);
          observed.status = statusCode;
          observed.responseHeaders = upstreamHeaders;
          res.writeHead(statusCode, endToEnd(upstreamHeaders));
          answered = true;
          return new Writable({
            write(chunk: Buffer, _encoding, callback) {
              responseBody.add(chunk);
              if (res.write(chunk)) callback();
              else res.once('drain', () => callback());
            },
            final(callback) {
              res.end(callback);
            },
          });
        },
      );
    } catch (error) {
      if (abort.signal.aborted || observed.outcome === 'client_aborted') {
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
    } finally {
      observed.endMs = elapsedMs(started);
      try {
        this.#options.onExchange(observed);
      } catch {
        // Capture must never break the traffic it observes.
      }
    }
  }
}
