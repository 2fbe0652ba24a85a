import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BodyTap, type ObservedExchange } from '../src/proxy/exchange.js';
import { createSandboxApp } from '../src/sandbox/sandbox.app.js';

/**
 * The benchmarks' slot searchset: an ED's day of slots with its schedules, service, practitioners and
 * location included (about 53 KB, whatever the time of day), as the sandbox answers an STU3 search with every include.
 */
export async function benchSearchset(now = new Date()): Promise<Buffer> {
  const { app } = createSandboxApp(
    { mount: true, seed: 1, days: 2, prebookedShare: 0.3, stu3SlotConflictStatus: 422, faults: [] },
    () => now,
  );
  const sandbox = createServer(app).listen(0, '127.0.0.1');
  await new Promise((resolve) => sandbox.once('listening', resolve));
  try {
    // Tomorrow's whole day: today's free slots thin out as the hours pass (53 KB at midnight, 4 KB
    // at 23:30), so the bench would measure a different body depending on when it ran.
    const day = new Date(now.getTime() + 86_400_000).toISOString().slice(0, 10);
    const query =
      `service=2000011147&status=free,busy&start=ge${day}T00:00:00Z&start=le${day}T23:59:59Z` +
      '&_include=Slot:schedule&_include:iterate=Schedule:actor:HealthcareService&_include:iterate=Schedule:actor:Practitioner' +
      '&_include:iterate=HealthcareService.location';
    const res = await fetch(`http://127.0.0.1:${(sandbox.address() as AddressInfo).port}/stu3/Slot?${query}`);
    return Buffer.from(await res.arrayBuffer());
  } finally {
    sandbox.close();
  }
}

/** An exchange as the proxy's tap hands it to capture: a slot search answered with `body`. */
export function benchObserved(body: Buffer, id = '0190b2a0-0000-7000-8000-000000000000'): ObservedExchange {
  const tap = new BodyTap(1024 * 1024);
  tap.add(body);
  return {
    id,
    receivedAt: new Date(),
    route: {
      kind: 'fhir',
      target: 'http://127.0.0.1/base/Slot',
      provider: {
        id: 'bench',
        name: 'bench',
        baseUrl: 'http://127.0.0.1/base',
        dialect: 'stu3',
        dosServiceIds: [],
        timeouts: { connectMs: 1000, responseMs: 1000 },
        captureFullBodies: false,
      },
    },
    method: 'GET',
    path: '/base/Slot',
    query: 'service=2000011147&status=free',
    requestHeaders: { accept: 'application/fhir+json', 'ssp-traceid': 'trace' },
    requestBody: new BodyTap(1024),
    status: 200,
    responseHeaders: { 'content-type': 'application/fhir+json' },
    responseBody: tap,
    outcome: 'ok',
    upstreamStartMs: 0.1,
    firstByteMs: 1,
    endMs: 2,
  };
}
