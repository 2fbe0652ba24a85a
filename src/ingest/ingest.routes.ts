import express, { Router, type NextFunction, type Request, type Response } from 'express';
import { requireRole } from '../auth/auth.middleware.js';
import type { Clock } from '../clock.js';
import type { IngestConfig, ProviderConfig } from '../config/config.types.js';
import type { RedactionRules } from '../capture/redact.js';
import type { DerivationTables } from '../derive/tables.js';
import { OperationOutcomeError } from '../fhir/operation-outcome.js';
import type { Logger } from '../logger.js';
import type { Store } from '../store/store.js';
import { IngestConflictError, storeIngested } from './ingest-store.js';
import { INGEST_TYPES } from './ingest.schema.js';
import { prepareEvents, prepareFhirReferral, type IngestLimits } from './prepare.js';
import { RateLimiter } from './rate-limit.js';

export interface IngestDeps {
  store: Store;
  config: IngestConfig;
  /** The configured providers (events may name only these). */
  providers: readonly ProviderConfig[];
  rules: RedactionRules;
  tables: DerivationTables;
  clock: Clock;
  logger: Logger;
  /** Told what became of each event posted (stored, a repeat, refused): stitching and metrics follow. */
  onIngested?: (events: IngestReport[]) => void;
}

const FHIR_JSON = 'application/fhir+json';

/** What became of one posted event, for metrics (its type as posted, when it had one it could name). */
export interface IngestReport {
  type: string;
  result: 'created' | 'duplicate' | 'refused';
}

/** The type of each event a refused request held, from a bounded set (anything else counts as `unknown`). */
function refusedTypes(body: unknown): IngestReport[] {
  const typeOf = (event: unknown): string => {
    const type = typeof event === 'object' && event !== null ? (event as { type?: unknown }).type : undefined;
    return typeof type === 'string' && (INGEST_TYPES as readonly string[]).includes(type) ? type : 'unknown';
  };
  const events = (body as { events?: unknown } | null)?.events;
  const list = Array.isArray(events) ? events : [body];
  return list.map((event) => ({ type: typeOf(event), result: 'refused' }));
}

/**
 * `POST /api/events` (role `ingest`): off-wire events as JSON (one event, or `{"events": [...]}`), or a
 * BaRS referral as FHIR (`application/fhir+json`). Answers 201 when anything new was stored, 200 when
 * every event was a repeat of one stored before; 422 with one issue per problem, 409 for an id reused
 * with other content, 413 beyond the size limits, 429 beyond the token's rate; nothing of a refused
 * batch is stored.
 */
export function ingestRoutes(deps: IngestDeps): Router {
  const limiter = new RateLimiter(deps.config.rateLimit.perSecond, deps.config.rateLimit.burst);
  const parse = express.json({
    limit: deps.config.maxBodyBytes,
    type: ['application/json', FHIR_JSON],
  });
  const router = Router();
  router.route('/events').post(
    requireRole('ingest'),
    (req: Request, _res: Response, next: NextFunction) => {
      const wait = limiter.take(req.principal!.name);
      if (wait === 0) {
        next();
        return;
      }
      req.resume(); // the body is not read: let it drain
      next(
        new OperationOutcomeError(
          'RATE_LIMITED',
          [{ diagnostics: `This token may post ${deps.config.rateLimit.perSecond} times a second` }],
          { 'Retry-After': String(wait) },
        ),
      );
    },
    parse,
    async (req: Request, res: Response) => {
      if (!req.is(['application/json', FHIR_JSON]) || req.body === undefined)
        throw new OperationOutcomeError('UNSUPPORTED_MEDIA_TYPE', [
          { diagnostics: `Post events as application/json, or a referral as ${FHIR_JSON}` },
        ]);
      const now = deps.clock();
      const limits: IngestLimits = {
        now,
        maxFutureSeconds: deps.config.maxFutureSeconds,
        lateAfterMinutes: deps.config.lateAfterMinutes,
        providers: deps.providers,
      };
      const body: unknown = req.body;
      if (
        typeof body === 'object' &&
        body !== null &&
        Array.isArray((body as { events?: unknown }).events) &&
        (body as { events: unknown[] }).events.length > deps.config.maxBatch
      )
        throw new OperationOutcomeError('PAYLOAD_TOO_LARGE', [
          {
            diagnostics: `A batch holds at most ${deps.config.maxBatch} events (ingest.maxBatch)`,
            expression: 'events',
          },
        ]);
      const prepared = req.is(FHIR_JSON)
        ? prepareFhirReferral(body, req.headers, limits, deps.rules)
        : prepareEvents(body, limits, deps.rules.hash);
      if ('problems' in prepared) {
        deps.onIngested?.(
          req.is(FHIR_JSON) ? [{ type: 'referral.made', result: 'refused' }] : refusedTypes(body),
        );
        throw new OperationOutcomeError(
          'EVENTS_INVALID',
          prepared.problems.map((p) => ({
            diagnostics: `${p.path} ${p.message}`,
            expression: p.path,
          })),
        );
      }
      let outcomes;
      try {
        outcomes = await storeIngested(deps.store, req.principal!.name, prepared.events, deps.tables, now);
      } catch (error) {
        if (!(error instanceof IngestConflictError)) throw error;
        deps.onIngested?.(prepared.events.map((e) => ({ type: e.type, result: 'refused' })));
        const events = prepared.events;
        const fhir = req.is(FHIR_JSON) !== false;
        const batch = !fhir && events.length > 0 && Array.isArray((body as { events?: unknown }).events);
        throw new OperationOutcomeError(
          'EVENT_ID_CONFLICT',
          error.clientIds.map((id) => {
            const i = events.findIndex((e) => e.clientId === id);
            return {
              diagnostics: `Event id ${JSON.stringify(id)} was used before for different content`,
              expression: fhir ? 'ServiceRequest.id' : batch ? `events[${i}].id` : 'id',
            };
          }),
        );
      }
      const created = outcomes.filter((o) => o.status === 'created').length;
      deps.onIngested?.(outcomes.map((o, i) => ({ type: prepared.events[i]!.type, result: o.status })));
      deps.logger.info(
        { client: req.principal!.name, created, duplicates: outcomes.length - created },
        'events ingested',
      );
      res.status(created > 0 ? 201 : 200).json({
        created,
        duplicates: outcomes.length - created,
        events: outcomes,
      });
    },
  );
  return router;
}
