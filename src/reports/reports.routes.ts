import { Router, type Request, type Response } from 'express';
import { requireRole } from '../auth/auth.middleware.js';
import { badRequest, notFound } from '../fhir/operation-outcome.js';
import type { Store } from '../store/store.js';
import {
  DIMENSIONS,
  measureName,
  REPORTS,
  reportById,
  type Dimension,
  type ReportDefinition,
} from './catalogue.js';
import type { Bundle, Measure, MeasureReport } from 'fhir/r4.js';
import type { Clock } from '../clock.js';
import { CANONICAL_BASE, measureReport, measureResource } from './fhir-measure.js';
import { reportCsv } from './formats.js';
import { MEASURES } from './measures.js';
import { evidenceEvents, FILTERS, NONE, runReport, type Bound, type ReportQuery } from './run-report.js';

export interface ReportDeps {
  store: Store;
  clock: Clock;
  /** The reporting timezone (buckets, bare dates). */
  timezone: string;
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})$/;

/** A single query parameter (a repeated one is refused: which would it be?). */
function param(req: Request, name: string): string | undefined {
  const value = req.query[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw badRequest(`${name} is given more than once`, name);
  return value;
}

function parseBound(req: Request, name: 'from' | 'to'): Bound {
  const value = param(req, name);
  if (value === undefined)
    throw badRequest(`${name} is required: a date (2026-10-01) or an instant with offset`, name);
  if (DATE.test(value) && !Number.isNaN(Date.parse(`${value}T00:00:00Z`))) return { date: value };
  if (INSTANT.test(value) && !Number.isNaN(Date.parse(value))) return { instant: value };
  throw badRequest(
    `${name} must be a date (2026-10-01) or an instant with offset (2026-10-01T00:00:00Z)`,
    name,
  );
}

const roughly = (b: Bound) => Date.parse('date' in b ? `${b.date}T00:00:00Z` : b.instant);

/** The query a request asks for: period, grouping, filters, suppression, each checked. */
function reportQuery(req: Request, report: ReportDefinition, timezone: string): ReportQuery {
  const from = parseBound(req, 'from');
  const to = parseBound(req, 'to');
  if (roughly(from) >= roughly(to)) throw badRequest('from must be before to', 'from');
  const groupBy = (param(req, 'groupBy') ?? '')
    .split(',')
    .map((d) => d.trim())
    .filter(Boolean);
  for (const dim of groupBy)
    if (!report.groupBy.includes(dim as Dimension))
      throw badRequest(
        `groupBy: ${report.id} is not grouped by "${dim}"; it takes ${report.groupBy.join(', ')}`,
        'groupBy',
      );
  if (new Set(groupBy).size !== groupBy.length)
    throw badRequest('groupBy names a dimension twice', 'groupBy');
  const filters: ReportQuery['filters'] = {};
  for (const f of FILTERS) {
    const value = param(req, f);
    if (value !== undefined) filters[f] = value;
  }
  const suppressText = param(req, 'suppress');
  let suppress: number | undefined;
  if (suppressText !== undefined) {
    suppress = Number(suppressText);
    if (!Number.isInteger(suppress) || suppress < 2 || suppress > 100)
      throw badRequest('suppress must be a whole number from 2 to 100', 'suppress');
  }
  return {
    report,
    from,
    to,
    groupBy: groupBy as Dimension[],
    filters,
    timezone,
    ...(suppress !== undefined ? { suppress } : {}),
  };
}

/** The catalogue entry of a report. */
function describe(report: ReportDefinition) {
  return {
    id: report.id,
    version: report.version,
    title: report.title,
    measures: report.measures.map((m) => ({ name: measureName(m), description: MEASURES[m].description })),
    ...(report.rate
      ? {
          rate: {
            numerator: measureName(report.rate.numerator),
            denominator: measureName(report.rate.denominator),
          },
        }
      : {}),
    groupBy: report.groupBy,
    ...(report.alwaysGroupBy ? { alwaysGroupBy: report.alwaysGroupBy } : {}),
    filters: FILTERS,
    formats: ['json', 'csv', 'fhir'],
    measure: `${CANONICAL_BASE}/Measure/${report.id}`,
    href: `/api/reports/${report.id}`,
  };
}

const PAGE = 100;
const FHIR_JSON = 'application/fhir+json; charset=utf-8';

/** Resources as a FHIR searchset Bundle. */
function searchset(resources: (Measure | MeasureReport)[]): Bundle {
  return {
    resourceType: 'Bundle',
    type: 'searchset',
    total: resources.length,
    entry: resources.map((resource) => ({
      fullUrl: `${CANONICAL_BASE}/${resource.resourceType}/${resource.id ?? ''}`,
      resource,
      search: { mode: 'match' },
    })),
  };
}

/**
 * `GET /api/reports` (the catalogue), `GET /api/reports/{id}` (one report: JSON or CSV) and
 * `GET /api/events` (a cell's drill-down: the events behind one measure of it, a page at a time, each
 * with its evidence), role `report`.
 */
export function reportRoutes(deps: ReportDeps): Router {
  const router = Router();
  router.get('/reports', requireRole('report'), (_req: Request, res: Response) => {
    res.json({ timezone: deps.timezone, reports: REPORTS.map(describe) });
  });
  router.get('/reports/:id', requireRole('report'), async (req: Request, res: Response) => {
    const report = reportById(String(req.params.id));
    if (!report) throw notFound(`No report "${String(req.params.id)}"; GET /api/reports lists them`);
    const query = reportQuery(req, report, deps.timezone);
    const format = param(req, 'format') ?? 'json';
    if (format !== 'json' && format !== 'csv' && format !== 'fhir')
      throw badRequest('format must be json, csv or fhir', 'format');
    const answer = await runReport(deps.store.db, query);
    if (format === 'csv') {
      res.type('text/csv; charset=utf-8').send(reportCsv(answer));
      return;
    }
    if (format === 'fhir') {
      res.type(FHIR_JSON).send(JSON.stringify(measureReport(answer, report, deps.clock())));
      return;
    }
    res.json(answer);
  });
  router.get('/fhir/Measure', requireRole('report'), (req: Request, res: Response) => {
    const url = param(req, 'url');
    const measures = REPORTS.map(measureResource).filter((m) => url === undefined || m.url === url);
    res.type(FHIR_JSON).send(JSON.stringify(searchset(measures)));
  });
  router.get('/fhir/Measure/:id', requireRole('report'), (req: Request, res: Response) => {
    const report = reportById(String(req.params.id));
    if (!report) throw notFound(`No Measure "${String(req.params.id)}"`);
    res.type(FHIR_JSON).send(JSON.stringify(measureResource(report)));
  });
  // A MeasureReport evaluated on request: ?measure=<id or canonical URL>&from&to (and groupBy, filters, suppress).
  router.get('/fhir/MeasureReport', requireRole('report'), async (req: Request, res: Response) => {
    const measure = param(req, 'measure') ?? '';
    const id = measure.replace(/\|.*$/, '').replace(/^.*\/Measure\//, '');
    const report = reportById(id);
    if (!report)
      throw badRequest('measure must name a Measure (GET /api/fhir/Measure lists them)', 'measure');
    const answer = await runReport(deps.store.db, reportQuery(req, report, deps.timezone));
    res.type(FHIR_JSON).send(JSON.stringify(searchset([measureReport(answer, report, deps.clock())])));
  });
  router.get('/events', requireRole('report'), async (req: Request, res: Response) => {
    const report = reportById(param(req, 'report') ?? '');
    if (!report) throw badRequest('report must name a report (GET /api/reports lists them)', 'report');
    const measureParam = param(req, 'measure');
    const measure = report.measures.find((m) => m === measureParam || measureName(m) === measureParam);
    if (!measure) throw badRequest(`measure must be one of ${report.measures.join(', ')}`, 'measure');
    const query = reportQuery(req, report, deps.timezone);
    const cell: Partial<Record<Dimension, string>> = {};
    for (const dim of DIMENSIONS) {
      const value = param(req, dim);
      if (value !== undefined) cell[dim] = value;
    }
    const limit = Math.min(Number(param(req, 'limit') ?? PAGE) || PAGE, 1000);
    const afterText = param(req, 'after');
    let after: { at: string; id: string } | undefined;
    if (afterText) {
      const [at, id] = Buffer.from(afterText, 'base64url').toString('utf8').split('|');
      if (!at || !id || Number.isNaN(Date.parse(at)))
        throw badRequest('after is not a cursor this API gave', 'after');
      after = { at, id };
    }
    const found = await evidenceEvents(deps.store.db, query, measure, cell, {
      limit,
      ...(after ? { after } : {}),
    });
    const events =
      found.length === 0
        ? []
        : await deps.store.db
            .selectFrom('events')
            .selectAll()
            .where(
              'id',
              'in',
              found.map((f) => f.id),
            )
            .orderBy('occurred_at')
            .orderBy('id')
            .execute();
    const last = found[found.length - 1];
    const next =
      found.length === limit && last
        ? (() => {
            const params = new URLSearchParams(req.query as Record<string, string>);
            params.set(
              'after',
              Buffer.from(`${new Date(last.occurred_at).toISOString()}|${last.id}`).toString('base64url'),
            );
            return `/api/events?${params.toString()}`;
          })()
        : null;
    res.json({
      report: report.id,
      measure: measureName(measure),
      cell: Object.fromEntries(Object.entries(cell).map(([k, v]) => [k, v === NONE ? null : v])),
      events: events.map((e) => ({
        ...e,
        evidence:
          e.source_kind === 'exchange'
            ? { exchange: e.source_id, href: `/api/exchanges/${e.source_id}` }
            : { ingest: e.source_id },
      })),
      next,
    });
  });
  return router;
}
