import { Writable } from 'node:stream';
import type { RequestListener } from 'node:http';
import { createApp } from '../../src/app.js';
import { TokenRegistry } from '../../src/auth/token-registry.js';
import type { Clock } from '../../src/clock.js';
import { loadConfig } from '../../src/config/config.loader.js';
import type { Config, Role } from '../../src/config/config.types.js';
import { createLogger, type Logger } from '../../src/logger.js';
import { createPatientHasher } from '../../src/privacy/patient-hash.js';
import type { Store } from '../../src/store/store.js';

/** Tokens every test app accepts, one per role. */
export const TEST_TOKENS = {
  admin: 'test-admin-token-0123456789abcdef',
  ingest: 'test-ingest-token-0123456789abcdef',
  report: 'test-report-token-0123456789abcdef',
  inspect: 'test-inspect-token-0123456789abcdef',
} as const satisfies Record<Role, string>;

/** A configuration for tests: the defaults plus whatever the test sets. */
export function testConfig(overrides: Partial<Config> = {}): Config {
  const base = loadConfig({ env: { DATA_DIR: '/tmp/collector-test-unused', LOG_LEVEL: 'silent' } });
  return {
    ...base,
    tokens: Object.entries(TEST_TOKENS).map(([role, token]) => ({
      name: `${role}-client`,
      token,
      roles: [role as Role],
    })),
    ...overrides,
  };
}

/** A logger whose lines are kept in memory, so tests can check what would have been logged. */
export function memoryLogger(level: Config['logLevel'] = 'info'): { logger: Logger; lines: () => string[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk.toString('utf8'));
      callback();
    },
  });
  const logger = createLogger({ logLevel: level }, stream);
  return { logger, lines: () => chunks.join('').split('\n').filter(Boolean) };
}

export interface TestAppOptions {
  config?: Partial<Config>;
  logger?: Logger;
  clock?: Clock;
}

/** The real app over a test store, with the test tokens. */
export function buildTestApp(store: Store, options: TestAppOptions = {}): RequestListener {
  const config = testConfig(options.config);
  return createApp({
    config,
    store,
    logger: options.logger ?? createLogger({ logLevel: 'silent' }),
    clock: options.clock ?? (() => new Date('2026-11-22T10:00:00Z')),
    tokens: new TokenRegistry(config.tokens),
    patientHash: createPatientHasher('test-hash-secret-0123456789-0123456789'),
  });
}

/** `Authorization` header value for a test token. */
export function bearer(role: Role): string {
  return `Bearer ${TEST_TOKENS[role]}`;
}
