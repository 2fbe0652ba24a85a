import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { createApp } from './app.js';
import { TokenRegistry } from './auth/token-registry.js';
import { systemClock, type Clock } from './clock.js';
import type { Config, ProviderConfig, TokenConfig } from './config/config.types.js';
import { loadOrCreateSecretFile } from './config/secret-file.js';
import type { Lifecycle } from './health/health.routes.js';
import type { Logger } from './logger.js';
import { CapturePipeline } from './capture/capture-pipeline.js';
import { EpisodeStitcher } from './derive/episode-stitcher.js';
import { RollupKeeper } from './reports/rollup-keeper.js';
import { RetentionKeeper } from './inspect/retention-keeper.js';
import { loadDerivationTables } from './derive/tables.js';
import { captureReadiness } from './capture/capture.readiness.js';
import { createPatientHasher } from './privacy/patient-hash.js';
import { Forwarder } from './proxy/forward.js';
import { CollectorMetrics } from './metrics/metrics.js';
import { createSandbox, sandboxProviders, type Sandbox } from './sandbox/sandbox.app.js';
import { runMigrations } from './store/migrate.js';
import { openStore, type Store } from './store/store.js';

/** A running collector. */
export interface RunningCollector {
  url: string;
  port: number;
  store: Store;
  server: Server;
  /** The configuration in force, with the sandbox's providers when it is mounted. */
  config: Config;
  sandbox?: Sandbox;
  capture: CapturePipeline;
  stitcher: EpisodeStitcher;
  /** The retention job (rounds on a timer when configured; tests poke it and wait for it). */
  retention: RetentionKeeper;
  /** Stops taking connections, lets in-flight requests finish (up to the grace period), closes the store. */
  stop(): Promise<void>;
}

export interface StartOptions {
  config: Config;
  logger: Logger;
  clock?: Clock;
  /** Where the start-up banner goes (stdout by default). */
  print?: (text: string) => void;
}

/** The file, under the data directory, that keeps the generated admin token. */
export const ADMIN_TOKEN_FILE = 'admin-token';

/** The configured tokens; with none configured, the admin token kept under the data directory. */
function resolveTokens(config: Config): {
  tokens: TokenConfig[];
  generated?: { value: string; created: boolean; file: string };
} {
  if (config.tokens.length > 0) return { tokens: [...config.tokens] };
  const generated = loadOrCreateSecretFile(config.dataDir, ADMIN_TOKEN_FILE);
  return { tokens: [{ name: 'admin', token: generated.value, roles: ['admin'] }], generated };
}

/** The file, under the data directory, that keeps the generated patient hash secret. */
export const HASH_SECRET_FILE = 'hash-secret';

/**
 * The configured hash secret, or one generated once and kept under the data directory. Instances that
 * share a PostgreSQL database must share the secret too, or one patient gets two hashes: say so.
 */
function resolveHashSecret(config: Config, logger: Logger): string {
  if (config.hashSecret) return config.hashSecret;
  const kept = loadOrCreateSecretFile(config.dataDir, HASH_SECRET_FILE);
  if (config.databaseUrl) {
    logger.warn(
      { file: kept.file },
      'no hashSecret configured: using one kept in the data directory; instances sharing this database must share it',
    );
  }
  return kept.value;
}

/**
 * The responses whose headers have not gone out yet, so a stop can ask for `Connection: close` on them;
 * requests arriving on open keep-alive sockets while draining get it too.
 */
function trackUnanswered(server: Server, lifecycle: Lifecycle): Set<ServerResponse> {
  const unanswered = new Set<ServerResponse>();
  server.on('request', (_req, res: ServerResponse) => {
    if (lifecycle.shuttingDown) res.shouldKeepAlive = false;
    unanswered.add(res);
    const forget = (): void => void unanswered.delete(res);
    res.once('finish', forget);
    res.once('close', forget);
  });
  return unanswered;
}

/**
 * The configuration as the collector runs it: with the sandbox mounted (explicitly, or by default when no
 * provider is configured), its three dialects are added as providers `sandbox-stu3`, `sandbox-bars` and
 * `sandbox-gpconnect`, reached over loopback like any other provider.
 */
function withSandbox(
  config: Config,
  address: AddressInfo,
  clock: Clock,
): { effective: Config; sandbox?: Sandbox } {
  const mount =
    config.sandbox.mount === true || (config.sandbox.mount === 'auto' && config.providers.length === 0);
  if (!mount) return { effective: config };
  const sandbox = createSandbox(config.sandbox, clock);
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  const providers = sandboxProviders(
    `http://${host.includes(':') ? `[${host}]` : host}:${address.port}/sandbox`,
    sandbox.diary,
  );
  const taken = new Set(config.providers.flatMap((p) => [p.id, ...p.dosServiceIds]));
  const clash = providers.flatMap((p) => [p.id, ...p.dosServiceIds]).find((key) => taken.has(key));
  if (clash) {
    throw new Error(
      `The sandbox cannot be mounted: "${clash}" is already used by a configured provider (set sandbox.mount to false)`,
    );
  }
  return {
    effective: Object.freeze({
      ...config,
      providers: Object.freeze([...config.providers, ...providers]) as ProviderConfig[],
    }),
    sandbox,
  };
}

function listen(server: Server, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      reject(
        error.code === 'EADDRINUSE'
          ? new Error(
              `Port ${port} on ${host} is already in use; set PORT (or "port" in the config) to another`,
            )
          : error,
      );
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve(server.address() as AddressInfo);
    });
  });
}

/**
 * Starts the collector: opens the store (PostgreSQL when `databaseUrl` is set, PGlite under `dataDir`
 * otherwise), migrates it, and serves HTTP. Prints the URLs, and the admin token the first time one is
 * generated.
 */
export async function startCollector(options: StartOptions): Promise<RunningCollector> {
  const { config, logger } = options;
  const print = options.print ?? ((text: string) => void process.stdout.write(text));
  const store = await openStore(
    config.databaseUrl
      ? {
          databaseUrl: config.databaseUrl,
          onConnectionError: (error) =>
            logger.warn({ err: error }, 'database connection lost; the pool will reconnect'),
        }
      : {
          pgliteDir: path.join(config.dataDir, 'pglite'),
          onConnectionError: (error) =>
            logger.error(
              { err: error },
              'the embedded store has stopped: every query fails, and capture spools, until the collector is restarted',
            ),
        },
  );
  try {
    const applied = await runMigrations(store.db);
    logger.info({ engine: store.engine, applied }, 'store ready');
  } catch (error) {
    await store.close();
    throw error;
  }
  const hashSecret = resolveHashSecret(config, logger);
  const patientHash = createPatientHasher(hashSecret);
  const clock = options.clock ?? systemClock;
  const lifecycle: Lifecycle = { shuttingDown: false };

  // Listen first: a mounted sandbox is registered as providers at the real port (PORT=0 picks one).
  const server = createServer();
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  const unanswered = trackUnanswered(server, lifecycle);
  let address: AddressInfo;
  try {
    address = await listen(server, config.port, config.host);
  } catch (error) {
    await store.close();
    throw error;
  }
  // Only once the port is ours: a token shown once must not be spent on a start that then fails.
  const { tokens, generated } = resolveTokens(config);
  const shownHost = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
  const url = `http://${shownHost}:${address.port}`;
  let built: ReturnType<typeof withSandbox>;
  try {
    built = withSandbox(config, address, clock);
  } catch (error) {
    server.close();
    await store.close();
    throw error;
  }
  const { effective, sandbox } = built;
  const capture = new CapturePipeline({
    store: () => store,
    spoolFile: path.join(config.dataDir, 'spool', 'exchanges.jsonl'),
    rules: { hash: patientHash, birthDateAsYear: config.redaction.birthDateAsYear },
    tables: config.tables,
    logger,
    workerSecret: hashSecret,
    onWritten: () => stitcher.poke(),
  });
  const tables = loadDerivationTables(config.tables);
  const stitcher = new EpisodeStitcher({
    store: () => store,
    tables,
    episodes: config.episodes,
    logger,
    // On PostgreSQL, stitching runs on a worker thread: off the event loop that forwards traffic.
    ...(config.databaseUrl ? { databaseUrl: config.databaseUrl, tablesConfig: config.tables } : {}),
  });
  const rollups = new RollupKeeper({
    db: () => store.db,
    timezone: config.timezone,
    logger,
    intervalMs: config.reports.rollupIntervalSeconds * 1000,
    chunkDays: store.engine === 'pglite' ? 1 : 7,
    firstDelayMs: 10_000,
  });
  await capture.start();
  stitcher.start();
  if (config.reports.rollupIntervalSeconds > 0) rollups.start();
  const metrics = new CollectorMetrics(capture, stitcher);
  const retention = new RetentionKeeper({
    db: () => store.db,
    retention: config.retention,
    clock,
    logger,
    firstDelayMs: 30_000,
    onDeleted: (table, rows) => metrics.retentionDeleted(table, rows),
  });
  if (retention.enabled) retention.start();
  const forwarder = new Forwarder({
    captureCapBytes: config.redaction.maxBodyBytes,
    onExchange: (exchange) => {
      capture.capture(exchange);
      metrics.observe(exchange);
    },
    clock,
  });
  const app = createApp({
    config: effective,
    store,
    logger,
    clock,
    tokens: new TokenRegistry(tokens),
    patientHash,
    lifecycle,
    forwarder,
    metrics,
    readinessChecks: [captureReadiness(capture)],
    tables,
    onIngested: (events) => {
      metrics.ingested(events);
      if (events.some((e) => e.result === 'created')) stitcher.poke();
    },
    ...(sandbox ? { sandbox: sandbox.router } : {}),
  });
  server.on('request', app);
  print(banner(url, store, effective, generated, sandbox !== undefined));
  // Where the capture work runs: off the proxy's thread unless a worker could not start (or, for
  // stitching, the store is the embedded one, which lives on this thread).
  logger.info(
    {
      url,
      engine: store.engine,
      redactionOnWorker: capture.status().redactingOnWorker,
      stitchingOnWorker: stitcher.onWorker,
    },
    'collector listening',
  );

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      lifecycle.shuttingDown = true;
      logger.info({ graceMs: config.shutdownGraceMs, drainMs: config.shutdownDrainMs }, 'shutting down');
      // Readiness already fails; keep serving while load balancers notice, then stop taking connections.
      if (config.shutdownDrainMs > 0)
        await new Promise((resolve) => setTimeout(resolve, config.shutdownDrainMs));
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Requests still being answered end with `Connection: close`; sockets close as they fall idle.
      for (const res of unanswered) res.shouldKeepAlive = false;
      server.closeIdleConnections();
      const sweep = setInterval(() => server.closeIdleConnections(), 100);
      const grace = setTimeout(() => server.closeAllConnections(), config.shutdownGraceMs);
      await closed;
      clearInterval(sweep);
      clearTimeout(grace);
      // Every exchange answered is handed over, then written (or spooled), before the store closes.
      await forwarder.settled();
      await capture.drain();
      await capture.close();
      await stitcher.stop();
      await rollups.stop();
      await retention.stop();
      await forwarder.close();
      await store.close();
      logger.info('stopped');
    })();
    return stopping;
  };
  return {
    url,
    port: address.port,
    store,
    server,
    config: effective,
    capture,
    stitcher,
    retention,
    ...(sandbox ? { sandbox } : {}),
    stop,
  };
}

function banner(
  url: string,
  store: Store,
  config: Config,
  generated: { value: string; created: boolean; file: string } | undefined,
  sandboxMounted: boolean,
): string {
  const lines = [
    '',
    `Booking event collector listening on ${url}`,
    `  proxy      ${url}/fhir/{providerId}/...   ${url}/ssp/{providerBaseUrl}/...   ${url}/bars/...`,
    `  health     ${url}/healthz   readiness ${url}/readyz   metrics ${url}/metrics`,
    `  API        ${url}/api/...   (bearer token)`,
    `  store      ${store.engine === 'pglite' ? `embedded PGlite in ${store.location}` : `PostgreSQL ${store.location}`}`,
    `  config     ${config.source}`,
    `  providers  ${config.providers.length === 0 ? 'none configured' : config.providers.map((p) => p.id).join(', ')}`,
  ];
  if (sandboxMounted) {
    lines.push(
      `  sandbox    ${url}/sandbox  (seed ${config.sandbox.seed}); through the proxy, captured:`,
      `             curl '${url}/fhir/sandbox-stu3/Slot?service=2000011147&status=free'`,
    );
  }
  if (generated?.created) {
    lines.push(
      '',
      'No API tokens are configured, so an admin token was generated. It is shown this once;',
      `it is kept in ${generated.file}:`,
      '',
      `  ${generated.value}`,
      '',
      `  try: curl -H "Authorization: Bearer ${generated.value}" ${url}/api/whoami`,
    );
  } else if (generated) {
    lines.push(`  API token  the generated admin token is in ${generated.file}`);
  }
  return `${lines.join('\n')}\n\n`;
}
