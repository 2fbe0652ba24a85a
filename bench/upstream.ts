import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createSandboxApp } from '../src/sandbox/sandbox.app.js';

/*
 * The benchmark's provider: a plain HTTP server answering every request with one realistic STU3 slot
 * searchset (an ED's day of slots with its schedules, service, practitioners and location included),
 * made by the sandbox once at start. Runs as its own process: `tsx bench/upstream.ts PORT`.
 */
const port = Number(process.argv[2] ?? 0);
const now = new Date();
const { app } = createSandboxApp(
  { mount: true, seed: 1, days: 2, prebookedShare: 0.3, stu3SlotConflictStatus: 422, faults: [] },
  () => now,
);
const sandbox = createServer(app).listen(0, '127.0.0.1');
await new Promise((resolve) => sandbox.once('listening', resolve));
const day = now.toISOString().slice(0, 10);
const query =
  `service=2000011147&status=free,busy&start=ge${day}T00:00:00Z&start=le${day}T23:59:59Z` +
  '&_include=Slot:schedule&_include:iterate=Schedule:actor:HealthcareService&_include:iterate=Schedule:actor:Practitioner' +
  '&_include:iterate=HealthcareService.location';
const body = Buffer.from(
  await (
    await fetch(`http://127.0.0.1:${(sandbox.address() as AddressInfo).port}/stu3/Slot?${query}`)
  ).arrayBuffer(),
);
sandbox.close();

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
