import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createLogger } from '../../src/logger.js';
import { startCollector, type RunningCollector } from '../../src/server.js';
import { testConfig } from './app.js';
import { createTestDatabase, TEST_ENGINE } from './store.js';

/**
 * A whole collector on a free port with the sandbox mounted, on this run's engine (on PostgreSQL a
 * database of its own). `stop` ends it and drops that database.
 */
export async function startTestCollector(
  prefix: string,
): Promise<{ collector: RunningCollector; stop: () => Promise<void> }> {
  let databaseUrl: string | undefined;
  let drop: (() => Promise<void>) | undefined;
  if (TEST_ENGINE === 'postgres') {
    const database = await createTestDatabase();
    databaseUrl = database.url;
    drop = database.drop;
  }
  const collector = await startCollector({
    config: testConfig({
      port: 0,
      host: '127.0.0.1',
      dataDir: mkdtempSync(path.join(tmpdir(), `${prefix}-`)),
      ...(databaseUrl ? { databaseUrl } : {}),
    }),
    logger: createLogger({ logLevel: 'silent' }),
    print: () => undefined,
  });
  return {
    collector,
    stop: async () => {
      await collector.stop();
      await drop?.();
    },
  };
}
