import { once } from 'node:events';
import { Router, type Request, type Response } from 'express';
import { sql } from 'kysely';
import { requireRole } from '../auth/auth.middleware.js';
import type { ProviderConfig } from '../config/config.types.js';
import { badRequest, notFound } from '../fhir/operation-outcome.js';
import { limitOf, nextPage, onlyKnown, param, positionOf, UUID } from '../http/query-params.js';
import type { Logger } from '../logger.js';
import type { PatientHasher } from '../privacy/patient-hash.js';
import type { Store } from '../store/store.js';
import type { AccessAuditRow } from '../store/tables/access-audit.table.js';
import type { AccessAudit } from './access-audit.js';
import { episodeTimeline } from './episode-timeline.js';
import { exchangeDetail } from './exchange-detail.js';
import { FILTER_PARAMS, filtersOf, type ExchangeFilters } from './exchange-filters.js';
import {
  eventsOfExchange,
  listExchanges,
  scanExchanges,
  storedExchange,
  type StoredExchange,
} from './exchange-query.js';
import { harClose, harEntry, harOpen } from './har.js';

export interface InspectDeps {
  store: Store;
  /** The reporting timezone: a bare date in `from`/`to` is a day there. */
  timezone: string;
  /** The configured providers: a HAR entry's URL is the provider's. */
  providers: readonly ProviderConfig[];
  patientHash: PatientHasher;
  audit: AccessAudit;
  logger: Logger;
  /** The collector's version, named in a HAR's creator. */
  version: string;
}

const PAGE = 50;
const HAR_DEFAULT = 1000;
const HAR_MAX = 10_000;
/** With free text, a HAR export reads at most this many exchanges matching the other filters. */
const HAR_SCAN_BUDGET = 100_000;

const LIST_PARAMS = new Set<string>([...FILTER_PARAMS, 'limit', 'cursor']);
const HAR_PARAMS = new Set<string>([...FILTER_PARAMS, 'limit']);

function idParam(req: Request, what: string): string {
  const id = String(req.params.id);
  if (!UUID.test(id)) throw badRequest(`${what} ids are UUIDs; "${id}" is not one`, 'id');
  return id.toLowerCase();
}

/** Refuses a period that ends before it begins, where that can be told without the timezone. */
function checkPeriod(filters: ExchangeFilters): void {
  const { from, to } = filters;
  if (!from || !to) return;
  const bothDates = 'date' in from && 'date' in to;
  const bothInstants = 'instant' in from && 'instant' in to;
  if (
    (bothDates && from.date >= to.date) ||
    (bothInstants && Date.parse(from.instant) >= Date.parse(to.instant))
  )
    throw badRequest('from must be before to', 'from');
}

/**
 * Inspection of captured exchanges and episodes, role `inspect`: `GET /api/exchanges` (filtered, newest
 * first, a page at a time), `/api/exchanges/{id}`, `/api/exchanges.har` (the filtered exchanges as a
 * streamed HAR 1.2 file) and `/api/episodes/{id}` (one patient contact's timeline). Every read is
 * recorded in the access audit before it is answered; `GET /api/audit` (role `admin`) reads the audit.
 */
export function inspectRoutes(deps: InspectDeps): Router {
  const router = Router();
  const db = () => deps.store.db;
  const providers = new Map(deps.providers.map((p) => [p.id, p]));
  router.use(['/exchanges', '/exchanges.har', '/episodes'], deps.audit.attempts());

  router.get('/exchanges.har', requireRole('inspect'), async (req: Request, res: Response) => {
    onlyKnown(req, HAR_PARAMS);
    const filters = filtersOf(req, deps.patientHash);
    checkPeriod(filters);
    const limit = limitOf(req, HAR_DEFAULT, HAR_MAX);
    await exportHar(req, res, filters, limit);
  });

  router.get('/exchanges', requireRole('inspect'), async (req: Request, res: Response) => {
    onlyKnown(req, LIST_PARAMS);
    const filters = filtersOf(req, deps.patientHash);
    checkPeriod(filters);
    const limit = limitOf(req, PAGE, 200);
    const cursor = param(req, 'cursor');
    const page = await listExchanges(db(), filters, {
      timezone: deps.timezone,
      limit,
      ...(cursor ? { after: positionOf(cursor, 'cursor') } : {}),
    });
    await deps.audit.record(req, res, {
      status: 200,
      resourceIds: page.items.map((item) => item.id),
      resultCount: page.items.length,
    });
    res.json({
      items: page.items,
      next: page.next ? nextPage(req, '/api/exchanges', 'cursor', page.next) : null,
      ...(page.search ? { search: page.search } : {}),
    });
  });

  router.get('/exchanges/:id', requireRole('inspect'), async (req: Request, res: Response) => {
    onlyKnown(req, new Set());
    const id = idParam(req, 'Exchange');
    const exchange = await storedExchange(db(), id);
    if (!exchange) throw notFound(`No exchange ${id} is stored (never captured, or removed by retention)`);
    const events = await eventsOfExchange(db(), id);
    await deps.audit.record(req, res, { status: 200, resourceIds: [id], resultCount: 1 });
    res.json(exchangeDetail(exchange, events));
  });

  router.get('/episodes/:id', requireRole('inspect'), async (req: Request, res: Response) => {
    onlyKnown(req, new Set());
    const id = idParam(req, 'Episode');
    const episode = await episodeTimeline(db(), id);
    if (!episode) throw notFound(`No episode ${id}`);
    await deps.audit.record(req, res, {
      status: 200,
      resourceIds: [id, ...episode.timeline.map((item) => item.id)],
      resultCount: episode.timeline.length,
    });
    res.json(episode);
  });

  /**
   * Streams the filtered exchanges as HAR, newest first, `limit` at most. The audit record is written
   * before the first byte and completed with what was sent; a failure part-way cuts the connection, so
   * a broken export never looks like a whole one.
   */
  async function exportHar(req: Request, res: Response, filters: ExchangeFilters, limit: number) {
    const auditId = await deps.audit.record(req, res, { status: 200, resourceIds: [], resultCount: null });
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    res.status(200);
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.setHeader('Content-Disposition', `attachment; filename="exchanges-${stamp}.har"`);
    res.setHeader('Cache-Control', 'no-store');
    const ids: string[] = [];
    let scanned = 0;
    let cut: string | undefined;
    try {
      res.write(harOpen(deps.version));
      for await (const { row, matches } of scanExchanges<StoredExchange>(db(), filters, {
        timezone: deps.timezone,
        chunk: 100,
        columns: 'all',
      })) {
        if (res.destroyed) break;
        if (ids.length === limit) {
          cut = `limit ${limit} reached: older exchanges matching the filters were left out`;
          break;
        }
        if (scanned === HAR_SCAN_BUDGET) {
          cut = `free text searched the newest ${HAR_SCAN_BUDGET} exchanges matching the other filters`;
          break;
        }
        scanned += 1;
        if (!matches) continue;
        const entry = JSON.stringify(harEntry(row, providers));
        if (!res.write(ids.length === 0 ? entry : `,${entry}`)) await once(res, 'drain');
        ids.push(row.id);
      }
      res.end(
        harClose(
          `${ids.length} exchanges captured by the booking event collector, redacted, newest first` +
            (cut ? `; ${cut}` : ''),
        ),
      );
      await deps.audit.complete(auditId, { resourceIds: ids, resultCount: ids.length });
    } catch (error) {
      req.log.error({ err: error, exported: ids.length }, 'HAR export failed part-way');
      await deps.audit
        .complete(auditId, { resourceIds: ids, resultCount: ids.length })
        .catch(() => undefined);
      res.destroy(error instanceof Error ? error : new Error(String(error)));
    }
  }

  router.get('/audit', requireRole('admin'), async (req: Request, res: Response) => {
    onlyKnown(req, new Set(['from', 'to', 'token', 'resource', 'limit', 'cursor']));
    const limit = limitOf(req, 100, 1000);
    const cursor = param(req, 'cursor');
    const after = cursor ? positionOf(cursor, 'cursor') : undefined;
    const instant = (name: string) => {
      const value = param(req, name);
      if (value === undefined) return undefined;
      if (Number.isNaN(Date.parse(value)) || !/^\d{4}-\d{2}-\d{2}/.test(value))
        throw badRequest(`${name} must be a date or an instant (2026-11-22T09:00:00Z)`, name);
      return new Date(value);
    };
    const from = instant('from');
    const to = instant('to');
    const token = param(req, 'token');
    const resource = param(req, 'resource');
    const where = [
      ...(from ? [sql`at >= ${from}`] : []),
      ...(to ? [sql`at < ${to}`] : []),
      ...(token ? [sql`token_name = ${token}`] : []),
      ...(resource ? [sql`${resource} = any(resource_ids)`] : []),
      ...(after ? [sql`(at, id) < (${after.at}::timestamptz, ${after.id}::uuid)`] : []),
    ];
    const { rows } = await sql<AccessAuditRow & { at_text: string }>`
      select *, to_char(at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as at_text from access_audit
      ${where.length > 0 ? sql`where ${sql.join(where, sql` and `)}` : sql``}
      order by at desc, id desc limit ${limit + 1}`.execute(db());
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    res.json({
      items: page.map((r) => ({
        id: r.id,
        at: new Date(r.at).toISOString(),
        token: r.token_name,
        roles: r.roles,
        method: r.method,
        path: r.path,
        query: r.query,
        resourceIds: r.resource_ids,
        resultCount: r.result_count,
        status: r.status,
        requestId: r.request_id,
      })),
      next:
        rows.length > limit && last
          ? nextPage(req, '/api/audit', 'cursor', { at: last.at_text, id: last.id })
          : null,
    });
  });

  return router;
}
