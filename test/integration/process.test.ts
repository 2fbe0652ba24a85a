import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawnEntry, waitFor } from '../helpers/process.js';
import { createTestDatabase, TEST_ENGINE } from '../helpers/store.js';

function tempDir(): string {
  return mkdtempSync(path.join(tmpdir(), 'collector-proc-'));
}

describe('npm start as a process', () => {
  it('serves /healthz, then stops cleanly (exit 0) on SIGTERM', async () => {
    const dataDir = tempDir();
    const env: Record<string, string> = { DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1' };
    let dropDatabase: (() => Promise<void>) | undefined;
    if (TEST_ENGINE === 'postgres') {
      const database = await createTestDatabase();
      env.DATABASE_URL = database.url;
      dropDatabase = database.drop;
    }
    const collector = spawnEntry('src/main.ts', [], env);
    try {
      const [, url] = await waitFor(collector, /listening on (http:\/\/\S+)/);
      const health = await fetch(`${url}/healthz`);
      expect(health.status).toBe(200);
      const token = readFileSync(path.join(dataDir, 'admin-token'), 'utf8').trim();
      expect(collector.stdout()).toContain(token);
      collector.child.kill('SIGTERM');
      expect(await collector.exited).toBe(0);
      expect(collector.stdout()).toMatch(/"msg":"stopped"/);
    } finally {
      collector.child.kill('SIGKILL');
      await dropDatabase?.();
    }
  });

  describe('stops start-up with a clear message and exit code 78 when the configuration is bad', () => {
    it.each([
      [
        'a value of the wrong type',
        'port: eighty\n',
        'port: found "eighty" (string); expected an integer from 0 to 65535',
      ],
      [
        'an unknown provider dialect',
        'providers:\n  - { id: ed, baseUrl: "https://ed.example.nhs.uk", dialect: fhir4 }\n',
        'providers[0].dialect: found "fhir4" (string); expected one of "stu3", "bars", "gpconnect"',
      ],
      [
        'a missing base URL',
        'providers:\n  - { id: ed, dialect: stu3 }\n',
        'providers[0].baseUrl: missing; expected an http:// or https:// URL',
      ],
    ])('%s', async (_name, text, message) => {
      const file = path.join(tempDir(), 'collector.yaml');
      writeFileSync(file, text);
      const collector = spawnEntry('src/main.ts', ['--config', file], { DATA_DIR: tempDir() });
      const timer = setTimeout(() => collector.child.kill('SIGKILL'), 20_000);
      expect(await collector.exited).toBe(78);
      clearTimeout(timer);
      expect(collector.stderr()).toContain(`Configuration from ${file} is invalid:`);
      expect(collector.stderr()).toContain(`  - ${message}`);
      expect(collector.stdout()).not.toContain('listening');
    });

    it('and when a derivation table cannot be read, naming its bad lines', async () => {
      const dir = tempDir();
      writeFileSync(
        path.join(dir, 'dispositions.csv'),
        'code,description,minutes,working_days,category,bookable,confidence\nDx02,x,60,1,c,yes,local\n',
      );
      writeFileSync(path.join(dir, 'collector.yaml'), 'tables:\n  dispositions: dispositions.csv\n');
      const collector = spawnEntry('src/main.ts', ['--config', path.join(dir, 'collector.yaml')], {
        DATA_DIR: tempDir(),
      });
      const timer = setTimeout(() => collector.child.kill('SIGKILL'), 20_000);
      expect(await collector.exited).toBe(78);
      clearTimeout(timer);
      expect(collector.stderr()).toContain(`${path.join(dir, 'dispositions.csv')} is invalid:`);
      expect(collector.stderr()).toContain('  - line 2: give at most one of minutes and working_days');
    });
  });
});
