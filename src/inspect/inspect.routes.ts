import { once } from 'node:events';
import { Router, type Request, type Response } from 'express';
import { requireRole } from '../auth/auth.middleware.js';
import type { ProviderConfig } from '../config/config.types.js';
import { badRequest, notFound } from '../fhir/operation-outcome.js';
import { limitOf, nextPage, onlyKnown, param, positionOf, UUID } from '../http/query-params.js';
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import type { PatientHasher } from '../privacy/patient-hash.js';
import type { Store } from '../store/store.js';
import { periodIsForward } from '../reports/report-query.js';
import { auditPage, type AccessAudit } from './access-audit.js';
import { episodeTimeline } from './episode-timeline.js';
import { exchangeDetail } from './exchange-detail.js';
import { FILTER_PARAMS, filtersOf, type ExchangeFilters } from './exchange-filters.js';
import { listExchanges, scanExchanges } from './exchange-query.js';
import { eventsOfExchange, storedExchange, type StoredExchange } from './stored-exchange.js';
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
  clock: Clock;
}

const PAGE = 50;
const HAR_DEFAULT = 1000;
const HAR_MAX = 10_000;
/** With free text, a HAR export reads at most this many exchanges matching the other filters. */
const HAR_SCAN_BUDGET = 100_000;
/** Entries read, recorded and sent together. */
const HAR_BATCH = 100;

const LIST_PARAMS = new Set<string>([...FILTER_PARAMS, 'limit', 'cursor']);
const HAR_PARAMS = new Set<string>([...FILTER_PARAMS, 'limit']);

function idParam(req: Request, what: string): string {
  const id = String(req.params.id);
  if (!UUID.test(id)) throw badRequest(`${what} ids are UUIDs; "${id}" is not one`, 'id');
  return id.toLowerCase();
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

  /** Refuses a period that does not begin before it ends (judged in the reporting timezone, by the store). */
  async function checkedPeriod(filters: ExchangeFilters): Promise<ExchangeFilters> {
    const { from, to } = filters;
    if (from && to && !(await periodIsForward(db(), { from, to, timezone: deps.timezone })))
      throw badRequest('from must be before to', 'from');
    return filters;
  }

  router.get('/exchanges.har', requireRole('inspect'), async (req: Request, res: Response) => {
    onlyKnown(req, HAR_PARAMS);
    const filters = await checkedPeriod(filtersOf(req, deps.patientHash));
    const limit = limitOf(req, HAR_DEFAULT, HAR_MAX);
    await exportHar(req, res, filters, limit);
  });

  router.get('/exchanges', requireRole('inspect'), async (req: Request, res: Response) => {
    onlyKnown(req, LIST_PARAMS);
    const filters = await checkedPeriod(filtersOf(req, deps.patientHash));
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
   * Streams the filtered exchanges as HAR, newest first, `limit` at most, a batch of entries at a time.
   * The audit record is written before the first byte and brought up to date before each batch is
   * sent. A failure part-way cuts the connection, so a broken export never looks like a whole one; a
   * client that goes away ends the export.
   */
  async function exportHar(req: Request, res: Response, filters: ExchangeFilters, limit: number) {
    const auditId = await deps.audit.record(req, res, { status: 200, resourceIds: [], resultCount: 0 });
    const stamp = deps.clock().toISOString().replace(/[:.]/g, '-');
    res.status(200);
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.setHeader('Content-Disposition', `attachment; filename="exchanges-${stamp}.har"`);
    res.setHeader('Cache-Control', 'no-store');
    const sent: string[] = [];
    let batch: { id: string; entry: string }[] = [];
    let scanned = 0;
    const gone = () => res.destroyed || res.writableEnded;
    const send = async () => {
      if (batch.length === 0) return;
      const ids = batch.map((b) => b.id);
      await deps.audit.complete(auditId, {
        resourceIds: [...sent, ...ids],
        resultCount: sent.length + ids.length,
      });
      const text = batch.map((b, i) => (sent.length + i === 0 ? b.entry : `,${b.entry}`)).join('');
      sent.push(...ids);
      batch = [];
      // Wait for the client to take it, or for it to go away.
      if (!res.write(text)) await Promise.race([once(res, 'drain'), once(res, 'close')]);
    };
    try {
      res.write(harOpen(deps.version));
      for await (const { row, matches } of scanExchanges<StoredExchange>(db(), filters, {
        timezone: deps.timezone,
        chunk: HAR_BATCH,
        columns: 'all',
        more: () => !gone() && sent.length + batch.length < limit && scanned < HAR_SCAN_BUDGET,
      })) {
        if (gone() || sent.length + batch.length === limit || scanned === HAR_SCAN_BUDGET) break;
        scanned += 1;
        if (matches) batch.push({ id: row.id, entry: JSON.stringify(harEntry(row, providers)) });
        if (batch.length === HAR_BATCH) await send();
      }
      await send();
      if (gone()) {
        req.log.info({ exported: sent.length }, 'HAR export ended by the client');
        return;
      }
      const cut =
        sent.length === limit
          ? `; limit ${limit} reached: older exchanges matching the filters may be left out`
          : scanned === HAR_SCAN_BUDGET
            ? `; free text searched the newest ${HAR_SCAN_BUDGET} exchanges matching the other filters`
            : '';
      res.end(
        harClose(
          `${sent.length} exchanges captured by the booking event collector, redacted, newest first${cut}`,
        ),
      );
      req.log.info({ exported: sent.length, scanned, cut: cut !== '' }, 'HAR export sent');
    } catch (error) {
      req.log.error({ err: error, exported: sent.length }, 'HAR export failed part-way');
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
    const rows = await auditPage(db(), {
      ...(from ? { from } : {}),
      ...(to ? { to } : {}),
      ...(token ? { token } : {}),
      ...(resource ? { resource } : {}),
      ...(after ? { after } : {}),
      limit: limit + 1,
    });
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
