import { randomBytes } from 'node:crypto';
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { createApp } from '../../src/app.js';
import { TokenRegistry } from '../../src/auth/token-registry.js';
import type { ProviderConfig } from '../../src/config/config.types.js';
import { createLogger } from '../../src/logger.js';
import { createPatientHasher } from '../../src/privacy/patient-hash.js';
import type { ObservedExchange } from '../../src/proxy/exchange.js';
import { Forwarder } from '../../src/proxy/forward.js';
import { testConfig } from '../helpers/app.js';
import { outcomeCode } from '../helpers/outcome.js';
import { FIXED_NOW, fixture, startSandbox, type RunningSandbox } from '../helpers/sandbox.js';
import { openTestStore, type TestStore } from '../helpers/store.js';

let store: TestStore;
let sandbox: RunningSandbox;
let echo: { url: string; server: Server; seen: { headers: IncomingHttpHeaders; body: Buffer }[] };
let collector: { url: string; server: Server; forwarder: Forwarder };
const observed: ObservedExchange[] = [];
/** A searchset, gzipped: the echo upstream's compressed answer. */
const GZIPPED = gzipSync(JSON.stringify(fixture('stu3/slot-search-response.json')));
/** Bytes the echo upstream has still to send of its current streamed body. */
let upstreamLeft = 0;

const provider = (id: string, baseUrl: string, extra: Partial<ProviderConfig> = {}): ProviderConfig => ({
  id,
  name: id,
  baseUrl,
  dialect: 'stu3',
  dosServiceIds: [],
  timeouts: { connectMs: 1000, responseMs: 2000 },
  captureFullBodies: false,
  ...extra,
});

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

beforeAll(async () => {
  store = await openTestStore();
  sandbox = await startSandbox();
  // An upstream that answers with what it received: headers as JSON in a header, the body as sent.
  const seen: { headers: IncomingHttpHeaders; body: Buffer }[] = [];
  const echoServer = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      seen.push({ headers: req.headers, body });
      const streamed = /[?&]stream=(\d+)/.exec(req.url ?? '')?.[1];
      if (streamed) {
        // A large body written piece by piece, honouring backpressure, never held whole.
        res.writeHead(200, {
          'Content-Type': 'application/octet-stream',
          'Content-Length': Number(streamed),
        });
        const piece = Buffer.alloc(64 * 1024, 0x61);
        let left = Number(streamed);
        const pump = () => {
          while (left > 0) {
            const n = Math.min(left, piece.length);
            left -= n;
            upstreamLeft = left;
            if (!res.write(n === piece.length ? piece : piece.subarray(0, n)))
              return void res.once('drain', pump);
          }
          res.end();
        };
        pump();
        return;
      }
      if (/[?&]gzip=1/.test(req.url ?? '')) {
        // A compressed answer, chunked, written in pieces: what the consumer gets must be these bytes.
        res.writeHead(200, { 'Content-Type': 'application/fhir+json', 'Content-Encoding': 'gzip' });
        for (let at = 0; at < GZIPPED.length; at += 1000) res.write(GZIPPED.subarray(at, at + 1000));
        res.end();
        return;
      }
      if (/[?&]raw=1/.test(req.url ?? '')) {
        // Names spelt oddly, a repeated header, an unusual reason phrase and a trailer.
        res.writeHead(203, 'Quite Fine', [
          'X-MiXeD-CaSe',
          'v',
          'Set-Cookie',
          'a=1',
          'Set-Cookie',
          'b=2',
          'Trailer',
          'X-Checksum',
          'X-Seen-Raw',
          JSON.stringify(req.rawHeaders),
        ]);
        res.write('part one, ');
        res.addTrailers({ 'X-Checksum': 'c0ffee' });
        res.end('part two');
        return;
      }
      const big = /[?&]size=(\d+)/.exec(req.url ?? '')?.[1];
      res.writeHead(200, {
        'Content-Type': String(req.headers['content-type'] ?? 'application/octet-stream'),
        'X-Echo-Url': req.url ?? '',
      });
      res.end(big ? Buffer.alloc(Number(big), 7) : body);
    });
  });
  echo = { url: await listen(echoServer), server: echoServer, seen };

  const closed = createServer();
  const closedUrl = await listen(closed);
  await new Promise((resolve) => closed.close(resolve));

  const config = testConfig({
    providers: [
      provider('ed', `${sandbox.url}/stu3`),
      provider('utc', `${sandbox.url}/bars`, { dialect: 'bars', dosServiceIds: ['2000072489'] }),
      provider('slow', `${sandbox.url}/gpconnect`, {
        dialect: 'gpconnect',
        timeouts: { connectMs: 500, responseMs: 300 },
      }),
      provider('echo', `${echo.url}/base`),
      provider('echo-port', `${echo.url.replace('127.0.0.1', 'localhost')}/port`),
      provider('gone', closedUrl),
    ],
  });
  const forwarder = new Forwarder({
    captureCapBytes: 4096,
    onExchange: (e) => observed.push(e),
    clock: () => FIXED_NOW,
  });
  const app = createApp({
    config,
    store,
    logger: createLogger({ logLevel: 'silent' }),
    clock: () => FIXED_NOW,
    tokens: new TokenRegistry(config.tokens),
    patientHash: createPatientHasher('proxy-test-secret-0123456789-0123456789'),
    forwarder,
  });
  const server = createServer(app);
  collector = { url: await listen(server), server, forwarder };
});

afterAll(async () => {
  collector.server.closeAllConnections();
  await new Promise((resolve) => collector.server.close(resolve));
  await collector.forwarder.close();
  echo.server.closeAllConnections();
  await new Promise((resolve) => echo.server.close(resolve));
  await sandbox.close();
  await store.dispose();
});

const lastObserved = () => observed[observed.length - 1]!;
const settle = () => new Promise((resolve) => setTimeout(resolve, 50));

describe('routing', () => {
  const search =
    '/Slot?schedule.actor%3Ahealthcareservice=2000011147&start=ge2026-11-23T10%3A00%3A00%2B00%3A00&start=le2026-11-23T11%3A00%3A00Z&status=free';

  it('/fhir/{providerId}: the provider answers byte for byte, percent-encoding reaching it as sent', async () => {
    const direct = await fetch(`${sandbox.url}/stu3${search}`);
    const proxied = await fetch(`${collector.url}/fhir/ed${search}`);
    expect(proxied.status).toBe(200);
    expect(proxied.headers.get('content-type')).toBe(direct.headers.get('content-type'));
    const [a, b] = [Buffer.from(await direct.arrayBuffer()), Buffer.from(await proxied.arrayBuffer())];
    expect(b.equals(a)).toBe(true);
    expect(b.toString()).toContain(`"url":"${sandbox.url}/stu3${search}"`);
  });

  it('/ssp/{provider base URL}: reaches configured providers only', async () => {
    const ok = await fetch(`${collector.url}/ssp/${sandbox.url}/stu3${search}`);
    expect(ok.status).toBe(200);
    for (const target of [
      'http://elsewhere.example/fhir/Slot',
      `${sandbox.url}/stu3ish/Slot`,
      `${sandbox.url}/gpconnectX`,
      'not-a-url',
    ]) {
      const res = await fetch(`${collector.url}/ssp/${target}`);
      expect({ target, status: res.status, code: outcomeCode(await res.json()) }).toEqual({
        target,
        status: 403,
        code: 'SSP_TARGET_FORBIDDEN',
      });
    }
  });

  it('/bars: routed by NHSD-Target-Identifier to the provider serving that DoS service', async () => {
    const target = Buffer.from(
      JSON.stringify({ system: 'https://fhir.nhs.uk/Id/dos-service-id', value: '2000072489' }),
    ).toString('base64');
    const ok = await fetch(
      `${collector.url}/bars/Slot?status=free&Schedule.actor:HealthcareService=2000072489&start=ge2026-11-23T10:00:00Z&start=le2026-11-23T11:00:00Z`,
      {
        headers: { 'NHSD-Target-Identifier': target },
      },
    );
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as any).type).toBe('searchset');

    const malformed = await fetch(`${collector.url}/bars/Slot`, {
      headers: { 'NHSD-Target-Identifier': 'not base64 json' },
    });
    expect(malformed.status).toBe(400);
    const body: any = await malformed.json();
    expect(outcomeCode(body)).toBe('BARS_TARGET_MALFORMED');
    expect(body.issue[0].details.coding[1]).toEqual({
      system: 'https://fhir.nhs.uk/Codesystem/http-error-codes',
      code: 'PROXY_BAD_REQUEST',
    });
    const missing = await fetch(`${collector.url}/bars/Slot`);
    expect(missing.status).toBe(400);
    const otherSystem = Buffer.from(
      JSON.stringify({ system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: '2000072489' }),
    ).toString('base64');
    const misnamed = await fetch(`${collector.url}/bars/Slot`, {
      headers: { 'NHSD-Target-Identifier': otherSystem },
    });
    expect(misnamed.status).toBe(400);
    expect(outcomeCode(await misnamed.json())).toBe('BARS_TARGET_MALFORMED');

    const unknownTarget = Buffer.from(JSON.stringify({ value: '999' })).toString('base64');
    const unknown = await fetch(`${collector.url}/bars/Slot`, {
      headers: { 'NHSD-Target-Identifier': unknownTarget },
    });
    expect(unknown.status).toBe(404);
    const unknownBody: any = await unknown.json();
    expect(outcomeCode(unknownBody)).toBe('BARS_TARGET_UNKNOWN');
    expect(unknownBody.issue[0].details.coding[1].code).toBe('PROXY_NOT_FOUND');
  });

  it('an unknown provider id is 404 PROVIDER_UNKNOWN', async () => {
    const res = await fetch(`${collector.url}/fhir/nobody/Slot`);
    expect(res.status).toBe(404);
    expect(outcomeCode(await res.json())).toBe('PROVIDER_UNKNOWN');
  });
});

describe('faithful forwarding', () => {
  it('passes method, path, query, headers and a binary body through, minus hop-by-hop headers, plus X-Forwarded-*', async () => {
    const payload = randomBytes(10_000);
    const res = await new Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }>(
      (resolve, reject) => {
        const req = httpRequest(`${collector.url}/fhir/echo/some/Path%2Fencoded?x=%7C1&y=a+b`, {
          method: 'PATCH',
          headers: {
            'Content-Type': 'application/x-odd; charset=binary',
            'Content-Length': payload.length,
            'X-Custom-Case': 'Kept',
            Connection: 'keep-alive, X-Drop-Me',
            'X-Drop-Me': 'dropped',
            'Keep-Alive': 'timeout=5',
            'X-Forwarded-For': '10.0.0.1',
            'X-Forwarded-Proto': 'https, http',
          },
        });
        req.on('response', (r) => {
          const chunks: Buffer[] = [];
          r.on('data', (c: Buffer) => chunks.push(c));
          r.on('end', () =>
            resolve({ status: r.statusCode!, headers: r.headers, body: Buffer.concat(chunks) }),
          );
        });
        req.on('error', reject);
        req.end(payload);
      },
    );
    expect(res.status).toBe(200);
    expect(res.body.equals(payload)).toBe(true);
    expect(res.headers['x-echo-url']).toBe('/base/some/Path%2Fencoded?x=%7C1&y=a+b');
    const upstream = echo.seen[echo.seen.length - 1]!;
    expect(upstream.body.equals(payload)).toBe(true);
    expect(upstream.headers['content-type']).toBe('application/x-odd; charset=binary');
    expect(upstream.headers['x-custom-case']).toBe('Kept');
    expect(upstream.headers['x-drop-me']).toBeUndefined();
    expect(upstream.headers['keep-alive']).toBeUndefined();
    expect(upstream.headers['x-forwarded-for']).toBe('10.0.0.1, 127.0.0.1');
    expect(upstream.headers['x-forwarded-proto']).toBe('https'); // the first of the chain in front
    expect(upstream.headers['x-forwarded-host']).toBe(new URL(collector.url).host);
    expect(upstream.headers.host).toBe(new URL(echo.url).host);
  });

  it('keeps header names as spelt and repeated headers apart, both ways, and the reason phrase and trailers', async () => {
    const res = await new Promise<{
      status: number;
      message: string;
      raw: string[];
      body: string;
      trailers: string[];
    }>((resolve, reject) => {
      const req = httpRequest(`${collector.url}/fhir/echo/Thing?raw=1`, {
        // As a list, headers go as written (and Host is not added by Node).
        headers: [
          'Host',
          new URL(collector.url).host,
          'X-MiXeD-Request',
          'r',
          'Accept',
          'application/fhir+json',
          'Accept',
          'text/plain',
        ],
      });
      req.on('response', (r) => {
        let body = '';
        r.setEncoding('utf8');
        r.on('data', (c: string) => (body += c));
        r.on('end', () =>
          resolve({
            status: r.statusCode!,
            message: r.statusMessage!,
            raw: r.rawHeaders,
            body,
            trailers: r.rawTrailers,
          }),
        );
      });
      req.on('error', reject);
      req.end();
    });
    expect([res.status, res.message, res.body]).toEqual([203, 'Quite Fine', 'part one, part two']);
    expect(res.raw).toEqual(expect.arrayContaining(['X-MiXeD-CaSe', 'Trailer', 'X-Checksum']));
    expect(res.raw.filter((_, i) => i % 2 === 0 && res.raw[i] === 'Set-Cookie').length).toBe(2);
    expect(res.trailers).toEqual(['X-Checksum', 'c0ffee']);
    const seen = JSON.parse(res.raw[res.raw.indexOf('X-Seen-Raw') + 1]!) as string[];
    expect(seen).toEqual(expect.arrayContaining(['X-MiXeD-Request', 'r']));
    expect(seen.filter((v, i) => i % 2 === 0 && v === 'Accept')).toHaveLength(2);
    expect(lastObserved().responseHeaders['x-checksum']).toBeUndefined();
    expect(lastObserved().responseHeaders['set-cookie']).toEqual(['a=1', 'b=2']);
  });

  it('passes compressed and chunked bodies through as the bytes sent, both ways, never decoding them', async () => {
    const sent = gzipSync(Buffer.from(JSON.stringify(fixture('stu3/appointment-book-request.json'))));
    const res = await new Promise<{ headers: IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
      // No Content-Length: the request body goes chunked, in three pieces.
      const req = httpRequest(`${collector.url}/fhir/echo/Appointment?gzip=1`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/fhir+json', 'Content-Encoding': 'gzip' },
      });
      req.on('response', (r) => {
        const chunks: Buffer[] = [];
        r.on('data', (c: Buffer) => chunks.push(c));
        r.on('end', () => resolve({ headers: r.headers, body: Buffer.concat(chunks) }));
      });
      req.on('error', reject);
      req.write(sent.subarray(0, 100));
      req.write(sent.subarray(100, 200));
      req.end(sent.subarray(200));
    });
    const upstream = echo.seen[echo.seen.length - 1]!;
    expect(upstream.headers['x-forwarded-proto']).toBe('http'); // nobody in front: the hop to us
    expect(upstream.headers['transfer-encoding']).toBe('chunked');
    expect(upstream.headers['content-encoding']).toBe('gzip');
    expect(upstream.body.equals(sent)).toBe(true);
    expect(res.headers['content-encoding']).toBe('gzip');
    expect(res.headers['transfer-encoding']).toBe('chunked');
    expect(res.body.equals(GZIPPED)).toBe(true);
    await settle();
    // The tap decompresses for capture; the wire never sees that.
    expect(lastObserved()).toMatchObject({ method: 'POST', status: 200, outcome: 'ok' });
  });

  it('passes malformed JSON through untouched', async () => {
    const res = await fetch(`${collector.url}/fhir/echo/Appointment`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/fhir+json' },
      body: '{"resourceType": "Appointment", oops',
    });
    expect(await res.text()).toBe('{"resourceType": "Appointment", oops');
  });

  it('taps each body up to the cap, counting the rest and flagging the cut', async () => {
    await fetch(`${collector.url}/fhir/echo/big?size=10000`);
    await settle();
    const exchange = lastObserved();
    expect(exchange.responseBody.size).toBe(10_000);
    expect(exchange.responseBody.truncated).toBe(true);
    expect(Buffer.concat(exchange.responseBody.chunks).length).toBe(4096);
    expect(exchange).toMatchObject({
      status: 200,
      outcome: 'ok',
      method: 'GET',
      path: '/base/big',
      query: 'size=10000',
    });
    expect(exchange.firstByteMs).toBeGreaterThanOrEqual(exchange.upstreamStartMs!);
    expect(exchange.endMs).toBeGreaterThanOrEqual(exchange.firstByteMs!);
  });
});

describe('when the provider fails', () => {
  it('refused: 502 UPSTREAM_REFUSED, marked as raised by the collector, captured as refused', async () => {
    const res = await fetch(`${collector.url}/fhir/gone/metadata`);
    expect(res.status).toBe(502);
    const body: any = await res.json();
    expect(outcomeCode(body)).toBe('UPSTREAM_REFUSED');
    expect(body.issue[0].diagnostics).toContain('raised by the collector');
    await settle();
    expect(lastObserved()).toMatchObject({ outcome: 'refused', status: 502 });
  });

  it('no answer within the response timeout: 504 UPSTREAM_TIMEOUT, captured as timeout', async () => {
    const res = await fetch(`${collector.url}/fhir/slow/metadata`, {
      headers: { 'X-Sandbox-Fault': 'stall' },
    });
    expect(res.status).toBe(504);
    expect(outcomeCode(await res.json())).toBe('UPSTREAM_TIMEOUT');
    await settle();
    expect(lastObserved()).toMatchObject({ outcome: 'timeout', status: 504 });
  });

  it('reset mid-response: the consumer sees the stream cut, the exchange is captured as reset', async () => {
    const result = await new Promise<string>((resolve) => {
      const req = httpRequest(
        `${collector.url}/fhir/ed/metadata`,
        { headers: { 'X-Sandbox-Fault': 'reset' } },
        (res) => {
          res.on('data', () => undefined);
          res.on('end', () => resolve('complete'));
          res.on('error', () => resolve('cut'));
          res.on('aborted', () => resolve('cut'));
        },
      );
      req.on('error', () => resolve('cut'));
      req.end();
    });
    expect(result).toBe('cut');
    await settle();
    expect(lastObserved()).toMatchObject({ outcome: 'reset', status: 200 });
  });

  it('a consumer that gives up early is captured as client_aborted', async () => {
    await new Promise<void>((resolve) => {
      const req = httpRequest(
        `${collector.url}/fhir/ed/metadata`,
        { headers: { 'X-Sandbox-Fault': 'hang' } },
        () => {
          setTimeout(() => {
            req.destroy();
            resolve();
          }, 100);
        },
      );
      req.on('error', () => undefined);
      req.end();
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(lastObserved()).toMatchObject({ outcome: 'client_aborted', status: 200 });
  });
});

describe('edges', () => {
  it('streams a 50 MB response through byte for byte, never holding it whole', async () => {
    const size = 50 * 1024 * 1024;
    const { received, leftWhilePaused } = await new Promise<{ received: number; leftWhilePaused: number }>(
      (resolve, reject) => {
        let received = 0;
        let leftWhilePaused = -1;
        const req = httpRequest(`${collector.url}/fhir/echo/big?stream=${size}`, (res) => {
          res.on('data', (chunk: Buffer) => {
            received += chunk.length;
            if (leftWhilePaused >= 0) return;
            // Stop reading after the first chunk: backpressure must reach the provider and stall it.
            res.pause();
            setTimeout(() => {
              leftWhilePaused = upstreamLeft;
              res.resume();
            }, 300);
          });
          res.on('end', () => resolve({ received, leftWhilePaused }));
        });
        req.on('error', reject);
        req.end();
      },
    );
    expect(received).toBe(size);
    // Had the collector buffered the body, the provider would have finished sending during the pause.
    expect(leftWhilePaused).toBeGreaterThan(size / 2);
    await settle();
    expect(lastObserved().responseBody).toMatchObject({ size, truncated: true });
    expect(Buffer.concat(lastObserved().responseBody.chunks).length).toBe(4096);
  });

  it('records a consumer that stops reading and leaves in the middle of a large body as client_aborted', async () => {
    await new Promise<void>((resolve) => {
      const req = httpRequest(`${collector.url}/fhir/echo/slow?stream=${200 * 1024 * 1024}`, (res) => {
        res.once('data', () => {
          res.pause();
          setTimeout(() => {
            req.destroy();
            resolve();
          }, 300);
        });
      });
      req.on('error', () => undefined);
      req.end();
    });
    const deadline = Date.now() + 5000;
    while (lastObserved().query !== `stream=${200 * 1024 * 1024}` && Date.now() < deadline) await settle();
    expect(lastObserved()).toMatchObject({ outcome: 'client_aborted', query: `stream=${200 * 1024 * 1024}` });
  });

  it("cuts off a consumer that stops reading and stays, after the provider's response timeout", async () => {
    const size = 150 * 1024 * 1024;
    const req = httpRequest(`${collector.url}/fhir/echo/stuck?stream=${size}`, (res) => {
      res.once('data', () => res.pause()); // reads once, then never again, and never leaves
    });
    req.on('error', () => undefined);
    req.end();
    // The echo provider's response timeout is 2 s: well before this deadline the exchange is over
    // (without the cut-off it never would be: undici's body timeout does not run while paused).
    const deadline = Date.now() + 10_000;
    while (lastObserved().query !== `stream=${size}` && Date.now() < deadline) await settle();
    expect(lastObserved()).toMatchObject({ outcome: 'client_aborted', query: `stream=${size}` });
    expect(lastObserved().endMs).toBeGreaterThanOrEqual(2000);
    req.destroy();
  }, 15_000);

  it('refuses dot segments, however encoded, so nothing outside a base URL is reached', async () => {
    // Sent as written (fetch would normalise the dots away before sending).
    const raw = (path: string) =>
      new Promise<{ status: number; body: any }>((resolve, reject) => {
        const req = httpRequest({ host: '127.0.0.1', port: new URL(collector.url).port, path }, (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
        });
        req.on('error', reject);
        req.end();
      });
    const seenBefore = echo.seen.length;
    for (const path of [
      '/fhir/echo/../secret',
      '/fhir/echo/a/%2e%2e/b',
      `/ssp/${echo.url}/base/../admin`,
      '/fhir/echo/./x',
      '/fhir/echo/%2E%2e',
    ]) {
      const res = await raw(path);
      expect({ path, status: res.status, code: outcomeCode(res.body) }).toEqual({
        path,
        status: 400,
        code: 'BAD_REQUEST',
      });
    }
    expect(echo.seen.length).toBe(seenBefore); // none of them reached the provider
    const cased = await fetch(`${collector.url}/ssp/${echo.url}/BASE/x`);
    expect(cased.status).toBe(403);
    const badEncoding = await raw('/fhir/%E0%A4%A/x');
    expect(badEncoding.status).toBe(400);
  });

  it('forwards to a base URL with a host name and port as written', async () => {
    const res = await fetch(`${collector.url}/fhir/echo-port/Slot?x=1`);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-echo-url')).toBe('/port/Slot?x=1');
  });

  it('answers Expect: 100-continue itself and forwards the body', async () => {
    const payload = Buffer.alloc(2 * 1024 * 1024, 0x62);
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(`${collector.url}/fhir/echo/upload`, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/octet-stream',
          'Content-Length': payload.length,
          Expect: '100-continue',
        },
      });
      req.on('continue', () => req.end(payload));
      req.on('response', (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode!));
      });
      req.on('error', reject);
    });
    expect(status).toBe(200);
    expect(echo.seen[echo.seen.length - 1]!.body.length).toBe(payload.length);
  });
});
