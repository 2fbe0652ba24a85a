import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Config } from '../../src/config/config.types.js';
import { loadDerivationTables } from '../../src/derive/tables.js';
import { createLogger, type Logger } from '../../src/logger.js';
import { runDemo, type GroundTruth } from '../../src/sandbox/demo/run-demo.js';
import { startCollector, type RunningCollector } from '../../src/server.js';
import { testConfig, TEST_TOKENS } from './app.js';
import { createTestDatabase, TEST_ENGINE } from './store.js';

/**
 * A whole collector on a free port with the sandbox mounted, on this run's engine (on PostgreSQL a
 * database of its own), with any configuration and logger the test gives. `stop` ends it and drops that
 * database.
 */
export async function startTestCollector(
  prefix: string,
  options: { config?: Partial<Config>; logger?: Logger } = {},
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
      ...options.config,
    }),
    logger: options.logger ?? createLogger({ logLevel: 'silent' }),
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

/**
 * Simulated 111 calls in all three dialects through a running collector, then waits until every
 * exchange is stored and every event stitched. Returns the calls' ground truth.
 */
export async function simulateCalls(
  collector: RunningCollector,
  options: { calls: number; seed: number },
): Promise<GroundTruth> {
  const truth = await runDemo({
    collector: collector.url,
    calls: options.calls,
    seed: options.seed,
    token: TEST_TOKENS.admin,
    tables: loadDerivationTables({}),
  });
  await collector.capture.drain();
  await collector.stitcher.settled();
  return truth;
}
