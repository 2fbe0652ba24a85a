import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, type Dispatcher } from 'undici';

/*
 * The benchmark's second yardstick: about the smallest reverse proxy Node.js makes, with nothing of the
 * collector in it (no routing, tap, capture, metrics or store): Node's HTTP server and undici's dispatch
 * API, the forward path the collector uses, response chunks written straight through (request bodies are
 * not forwarded: the bench only sends GETs). What it adds over going direct is what a proxy on Node adds
 * on this machine before the collector does anything of its own.
 * Runs as its own process: `tsx bench/passthrough.ts PORT UPSTREAM_ORIGIN`.
 */
const port = Number(process.argv[2] ?? 0);
const upstream = process.argv[3] ?? 'http://127.0.0.1:18601';
const agent = new Agent({ keepAliveTimeout: 30_000, connections: 256 });
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'host', 'upgrade', 'te']);

function without(raw: (string | Buffer)[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toString();
    if (!HOP_BY_HOP.has(name.toLowerCase())) out.push(name, raw[i + 1]!.toString());
  }
  return out;
}

const server = createServer((req, res) => {
  let resumeUpstream = (): void => undefined;
  const handler: Dispatcher.DispatchHandler = {
    onConnect: () => undefined,
    onHeaders: (status, rawHeaders, resume, statusText) => {
      resumeUpstream = resume;
      res.writeHead(status, statusText, without(rawHeaders));
      return true;
    },
    onData: (chunk) => {
      if (res.write(chunk)) return true;
      res.once('drain', resumeUpstream);
      return false;
    },
    onComplete: () => void res.end(),
    onError: () => {
      if (res.headersSent) res.destroy();
      else res.writeHead(502).end();
    },
  };
  agent.dispatch(
    { origin: upstream, path: req.url ?? '/', method: req.method ?? 'GET', headers: without(req.rawHeaders) },
    handler,
  );
  req.resume();
});
server.keepAliveTimeout = 60_000;
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`passthrough listening on ${(server.address() as AddressInfo).port}\n`);
});
