import type { RequestListener } from 'node:http';
import express, { type Router } from 'express';
import { authenticate } from './auth/auth.middleware.js';
import type { TokenRegistry } from './auth/token-registry.js';
import { whoamiRoutes } from './auth/whoami.routes.js';
import type { Clock } from './clock.js';
import type { Config } from './config/config.types.js';
import { loadDerivationTables, type DerivationTables } from './derive/tables.js';
import { ingestRoutes, type IngestReport } from './ingest/ingest.routes.js';
import { healthRoutes, type Lifecycle } from './health/health.routes.js';
import { migrationsCurrent, storeReachable, type ReadinessCheck } from './health/readiness.js';
import { errorHandler, methodNotAllowed, routeNotFound } from './http/error-handler.js';
import { reportContext } from './reports/report-context.js';
import { reportRoutes } from './reports/reports.routes.js';
import { AccessAudit } from './inspect/access-audit.js';
import { inspectRoutes } from './inspect/inspect.routes.js';
import { VERSION } from './version.js';
import { requestContext } from './http/request-context.js';
import type { Logger } from './logger.js';
import type { PatientHasher } from './privacy/patient-hash.js';
import type { Forwarder } from './proxy/forward.js';
import type { CollectorMetrics } from './metrics/metrics.js';
import { metricsRoutes } from './metrics/metrics.routes.js';
import { ProviderRegistry } from './proxy/providers.js';
import { proxyHandler } from './proxy/proxy.routes.js';
import type { Store } from './store/store.js';

/** Everything the app needs, passed in: tests build as many apps as they like. */
export interface AppDeps {
  config: Config;
  store: Store;
  logger: Logger;
  clock: Clock;
  tokens: TokenRegistry;
  /** The keyed hash of NHS numbers, used wherever patient identifiers arrive (capture, ingest, search). */
  patientHash: PatientHasher;
  lifecycle?: Lifecycle;
  /** The Prometheus metrics served at /metrics. */
  metrics?: CollectorMetrics;
  /** Forwards proxied requests to providers; without it the proxy paths are not served. */
  forwarder?: Forwarder;
  /** The Slot Provider simulator, mounted at /sandbox when the configuration asks for it. */
  sandbox?: Router;
  /** The derivation tables (the configured ones are loaded when not given). */
  tables?: DerivationTables;
  /** Told what became of each event posted to the ingest API (stitching and metrics follow). */
  onIngested?: (events: IngestReport[]) => void;
  /** Further readiness checks (the capture spool, say) beside the store's own. */
  readinessChecks?: ReadinessCheck[];
}

const API_JSON_TYPES = ['application/json', 'application/fhir+json', 'application/*+json'];

/**
 * Builds the collector's HTTP request listener: the proxy paths go straight to the forwarder, everything
 * else to the Express application.
 */
export function createApp(deps: AppDeps): RequestListener {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  app.use(requestContext(deps.logger));
  const lifecycle = deps.lifecycle ?? { shuttingDown: false };

  const checks = [storeReachable(deps.store), migrationsCurrent(deps.store), ...(deps.readinessChecks ?? [])];
  app.use(healthRoutes(checks, lifecycle));

  if (deps.metrics) app.use(metricsRoutes(deps.metrics));

  if (deps.sandbox) app.use('/sandbox', deps.sandbox);

  const api = express.Router();
  api.use(authenticate(deps.tokens));
  // Ahead of the general body parser: ingest has its own size limit.
  api.use(
    ingestRoutes({
      store: deps.store,
      config: deps.config.ingest,
      providers: deps.config.providers,
      rules: { hash: deps.patientHash, birthDateAsYear: deps.config.redaction.birthDateAsYear },
      tables: deps.tables ?? loadDerivationTables(deps.config.tables),
      clock: deps.clock,
      logger: deps.logger,
      ...(deps.onIngested ? { onIngested: deps.onIngested } : {}),
    }),
  );
  const audit = new AccessAudit(() => deps.store.db, deps.patientHash, deps.logger, deps.clock);
  // A report's drill-down lists patient-level events: a refused one is recorded too.
  api.get('/events', audit.attempts());
  api.use(
    reportRoutes({
      store: deps.store,
      timezone: deps.config.timezone,
      clock: deps.clock,
      context: reportContext(deps.config),
      audit,
    }),
  );
  api.use(
    inspectRoutes({
      store: deps.store,
      timezone: deps.config.timezone,
      providers: deps.config.providers,
      patientHash: deps.patientHash,
      audit,
      logger: deps.logger,
      version: VERSION,
      clock: deps.clock,
    }),
  );
  api.all('/events', methodNotAllowed(['GET', 'HEAD', 'POST']));
  api.use(express.json({ limit: '5mb', type: API_JSON_TYPES }));
  api.use(whoamiRoutes());
  app.use('/api', api);

  app.use(routeNotFound);
  app.use(errorHandler);
  if (!deps.forwarder) return app;
  const proxy = proxyHandler(new ProviderRegistry(deps.config.providers), deps.forwarder, deps.logger);
  return (req, res) => {
    if (!proxy(req, res)) app(req, res);
  };
}
