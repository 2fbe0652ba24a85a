import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { benchSearchset } from './searchset.js';

/*
 * The benchmark's provider: a plain HTTP server answering every request with one realistic STU3 slot
 * searchset, made by the sandbox once at start. Runs as its own process: `tsx bench/upstream.ts PORT`.
 */
const port = Number(process.argv[2] ?? 0);
const body = await benchSearchset();

const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, {
      'Content-Type': 'application/fhir+json; charset=utf-8',
      'Content-Length': body.length,
    });
    res.end(body);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(
    `upstream listening on ${(server.address() as AddressInfo).port} body ${body.length}\n`,
  );
});
