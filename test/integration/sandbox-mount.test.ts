import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Config } from '../../src/config/config.types.js';
import { createLogger } from '../../src/logger.js';
import { startCollector } from '../../src/server.js';
import { testConfig } from '../helpers/app.js';
import { spawnEntry, waitFor } from '../helpers/process.js';
import { fhir } from '../helpers/sandbox.js';

const silent = createLogger({ logLevel: 'silent' });

function start(overrides: Partial<Config>) {
  let printed = '';
  const dataDir = mkdtempSync(path.join(tmpdir(), 'collector-sandbox-'));
  return startCollector({
    config: testConfig({ port: 0, host: '127.0.0.1', dataDir, ...overrides }),
    logger: silent,
    print: (text) => (printed += text),
  }).then((collector) => ({ collector, printed }));
}

describe('the sandbox inside the collector', () => {
  it('is mounted at /sandbox and registered as one provider per dialect when no provider is configured', async () => {
    const { collector, printed } = await start({});
    try {
      expect(collector.config.providers.map((p) => [p.id, p.dialect, p.baseUrl])).toEqual([
        ['sandbox-stu3', 'stu3', `http://127.0.0.1:${collector.port}/sandbox/stu3`],
        ['sandbox-bars', 'bars', `http://127.0.0.1:${collector.port}/sandbox/bars`],
        ['sandbox-gpconnect', 'gpconnect', `http://127.0.0.1:${collector.port}/sandbox/gpconnect`],
      ]);
      expect(collector.config.providers.find((p) => p.id === 'sandbox-bars')!.dosServiceIds).toEqual([
        '2000072489',
        '2000072490',
      ]);
      for (const provider of collector.config.providers) {
        const res = await fhir(`${provider.baseUrl}/metadata`);
        expect(res.status).toBe(200);
        expect(res.body.resourceType).toBe('CapabilityStatement');
      }
      expect(printed).toContain(`sandbox    ${collector.url}/sandbox`);
      const index = await fhir(`${collector.url}/sandbox`);
      expect(Object.keys(index.body.dialects)).toEqual(['stu3', 'bars', 'gpconnect']);
    } finally {
      await collector.stop();
    }
  });

  it('is not mounted when providers are configured (unless asked), nor when switched off', async () => {
    const provider = {
      id: 'ed',
      name: 'ED',
      baseUrl: 'https://ed.example.nhs.uk',
      dialect: 'stu3' as const,
      dosServiceIds: [],
      timeouts: { connectMs: 1000, responseMs: 1000 },
      captureFullBodies: false,
    };
    const configured = await start({ providers: [provider] });
    const off = await start({ sandbox: { ...testConfig().sandbox, mount: false } });
    try {
      expect(configured.collector.config.providers.map((p) => p.id)).toEqual(['ed']);
      expect((await fhir(`${configured.collector.url}/sandbox/stu3/metadata`)).status).toBe(404);
      expect(off.collector.config.providers).toEqual([]);
      expect((await fhir(`${off.collector.url}/sandbox`)).status).toBe(404);
    } finally {
      await configured.collector.stop();
      await off.collector.stop();
    }
  });

  it('refuses to start when asked to mount beside a provider that uses the same DoS service id', async () => {
    const clash = {
      id: 'ed',
      name: 'ED',
      baseUrl: 'https://ed.example.nhs.uk',
      dialect: 'stu3' as const,
      dosServiceIds: ['2000011147'],
      timeouts: { connectMs: 1000, responseMs: 1000 },
      captureFullBodies: false,
    };
    await expect(
      start({ providers: [clash], sandbox: { ...testConfig().sandbox, mount: true } }),
    ).rejects.toThrow(
      'The sandbox cannot be mounted: "2000011147" is already used by a configured provider (set sandbox.mount to false)',
    );
  });
});

describe('npm run sandbox', () => {
  it('serves all three dialects on the port and seed asked for, and stops on SIGTERM', async () => {
    const sandbox = spawnEntry('src/sandbox/main.ts', ['--port', '0', '--seed', '42'], {});
    try {
      const [, url] = await waitFor(sandbox, /listening on (http:\/\/\S+) \(seed 42, 7 days of slots\)/);
      for (const dialect of ['stu3', 'bars', 'gpconnect']) {
        expect(sandbox.stdout()).toContain(`${url}/${dialect}`);
        expect((await fhir(`${url}/${dialect}/metadata`)).status).toBe(200);
      }
      sandbox.child.kill('SIGTERM');
      expect(await sandbox.exited).toBe(0);
    } finally {
      sandbox.child.kill('SIGKILL');
    }
  });

  it('refuses a port that is not a number', async () => {
    const sandbox = spawnEntry('src/sandbox/main.ts', ['--port', 'http'], {});
    expect(await sandbox.exited).toBe(78);
    expect(sandbox.stderr()).toContain('--port: found "http"; expected a whole number');
  });
});
