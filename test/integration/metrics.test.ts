import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { interactionKind } from '../../src/metrics/interaction-kind.js';
import { createLogger } from '../../src/logger.js';
import { startCollector, type RunningCollector } from '../../src/server.js';
import { testConfig } from '../helpers/app.js';

let collector: RunningCollector;

beforeAll(async () => {
  collector = await startCollector({
    config: testConfig({
      port: 0,
      host: '127.0.0.1',
      dataDir: mkdtempSync(path.join(tmpdir(), 'collector-metrics-')),
    }),
    logger: createLogger({ logLevel: 'silent' }),
    print: () => undefined,
  });
});
afterAll(() => collector.stop());

/** The value of one sample line in an exposition, or undefined. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && want.every((w) => l.includes(w)));
  return line === undefined ? undefined : Number(line.split(' ').pop());
}

describe('/metrics', () => {
  it('counts proxied requests by provider, interaction kind and status class, with latency and capture figures', async () => {
    for (let i = 0; i < 3; i++)
      await (
        await fetch(`${collector.url}/fhir/sandbox-stu3/Slot?service=2000011147&status=free`)
      ).arrayBuffer();
    await (await fetch(`${collector.url}/fhir/sandbox-stu3/Appointment/none`)).arrayBuffer();
    await collector.capture.drain();
    await collector.stitcher.settled();
    const res = await fetch(`${collector.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    expect(
      sample(text, 'collector_proxy_requests_total', {
        provider: 'sandbox-stu3',
        interaction: 'slot-search',
        status_class: '2xx',
      }),
    ).toBe(3);
    expect(
      sample(text, 'collector_proxy_requests_total', {
        provider: 'sandbox-stu3',
        interaction: 'read',
        status_class: '4xx',
      }),
    ).toBe(1);
    expect(
      sample(text, 'collector_proxy_request_duration_seconds_count', {
        provider: 'sandbox-stu3',
        interaction: 'slot-search',
      }),
    ).toBe(3);
    expect(sample(text, 'collector_upstream_duration_seconds_count', { provider: 'sandbox-stu3' })).toBe(4);
    expect(
      sample(text, 'collector_proxy_transport_outcomes_total', { provider: 'sandbox-stu3', outcome: 'ok' }),
    ).toBe(4);
    expect(sample(text, 'collector_capture_exchanges_total', { result: 'written' })).toBe(4);
    expect(sample(text, 'collector_capture_exchanges_total', { result: 'dropped' })).toBe(0);
    // Each exchange's event stitched into an episode (no keys, no patient: four episodes).
    expect(sample(text, 'collector_episode_stitching_total', { what: 'stitched' })).toBe(4);
    expect(sample(text, 'collector_episode_stitching_total', { what: 'opened' })).toBe(4);
    expect(sample(text, 'collector_episode_stitching_total', { what: 'failures' })).toBe(0);
    // This collector runs on the embedded store: stitching on the main thread (a worker needs PostgreSQL).
    expect(text).toMatch(/^collector_episode_stitching_on_worker 0$/m);
    expect(text).toMatch(/^# TYPE collector_capture_exchanges_total counter$/m);
    expect(text).toMatch(/^# TYPE collector_episode_stitching_total counter$/m);
    // Each batch write timed: at least one batch, each within the histogram's buckets.
    const batches = Number(/^collector_capture_batch_write_duration_seconds_count (\d+)$/m.exec(text)?.[1]);
    expect(batches).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'collector_capture_batch_write_duration_seconds_bucket', { le: '+Inf' })).toBe(
      batches,
    );
    expect(
      sample(text, 'collector_proxy_request_duration_seconds_bucket', {
        provider: 'sandbox-stu3',
        interaction: 'slot-search',
        status_class: '2xx',
        le: '0.001',
      }),
    ).toBeGreaterThanOrEqual(0);
    expect(text).toMatch(/^collector_capture_queue_depth 0$/m);
    expect(text).toMatch(/^collector_capture_spool_bytes 0$/m);
    expect(text).toMatch(/^collector_process_resident_memory_bytes \d+/m);
  });
});

describe('interactionKind', () => {
  it.each([
    ['GET', '/fhir/STU3/Slot', 'slot-search'],
    ['POST', '/x/Slot/$find-slots', 'slot-search'],
    ['POST', '/x/$process-message', 'process-message'],
    ['POST', '/x/Appointment', 'book'],
    ['GET', '/x/Appointment', 'list'],
    ['PUT', '/x/Appointment/1', 'update'],
    ['GET', '/x/Appointment/1', 'read'],
    ['GET', '/x/Patient/P1/Appointment', 'list'],
    ['GET', '/x/Patient', 'patient-search'],
    ['GET', '/x/metadata', 'capability'],
    ['GET', '/x/Observation/9', 'other'],
  ])('%s %s → %s', (method, p, kind) => {
    expect(interactionKind(method, p)).toBe(kind);
  });
});
