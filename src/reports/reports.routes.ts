import { Router, type Request, type Response } from 'express';
import { requireRole } from '../auth/auth.middleware.js';
import { badRequest, notFound } from '../fhir/operation-outcome.js';
import type { Store } from '../store/store.js';
import {
  ALL_REPORTS,
  DIMENSIONS,
  figuresOf,
  measureName,
  reportById,
  type Dimension,
  type ReportDefinition,
} from './catalogue.js';
import type { Bundle, Measure, MeasureReport } from 'fhir/r4.js';
import type { Clock } from '../clock.js';
import { newId } from '../ids.js';
import { CANONICAL_BASE, measureReport, measureResource } from './fhir-measure.js';
import { reportCsv } from './formats.js';
import { MEASURES } from './measures.js';
import {
  evidenceEvents,
  FILTERS,
  NONE,
  periodIsForward,
  type Bound,
  type ReportContext,
  type ReportQuery,
} from './report-query.js';
import { runReport } from './run-report.js';
import type { AccessAudit } from '../inspect/access-audit.js';
import { boundOf, limitOf, nextPage, onlyKnown, param, positionOf } from '../http/query-params.js';

export interface ReportDeps {
  store: Store;
  /** Regions, populations and services connected, from configuration. */
  context: ReportContext;
  clock: Clock;
  /** The reporting timezone (buckets, bare dates). */
  timezone: string;
  /** The access audit: a drill-down lists patient-level events. */
  audit: AccessAudit;
}

function parseBound(req: Request, name: 'from' | 'to'): Bound {
  const value = param(req, name);
  if (value === undefined)
    throw badRequest(`${name} is required: a date (2026-10-01) or an instant with offset`, name);
  return boundOf(value, name);
}

const REPORT_PARAMS = new Set(['from', 'to', 'groupBy', 'format', 'suppress', ...FILTERS]);
// A drill-down lists events: small-number suppression is the report's, not the list's (refused, not ignored).
const EVIDENCE_PARAMS = new Set([
  ...[...REPORT_PARAMS].filter((p) => p !== 'suppress'),
  'report',
  'measure',
  'limit',
  'after',
  ...DIMENSIONS.map((d) => `cell.${d}`),
]);

/** The query a request asks for: period, grouping, filters, suppression, each checked. */
function reportQuery(
  req: Request,
  report: ReportDefinition,
  timezone: string,
  context: ReportContext,
): ReportQuery {
  const from = parseBound(req, 'from');
  const to = parseBound(req, 'to');
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
    context,
  };
}

/** The catalogue entry of a report. */
function describe(report: ReportDefinition) {
  return {
    id: report.id,
    version: report.version,
    title: report.title,
    measures: report.measures.map((m) => ({ name: measureName(m), description: MEASURES[m].description })),
    ...(report.rates
      ? {
          rates: report.rates.map((rate) => ({
            name: rate.name,
            numerator: measureName(rate.numerator),
            denominator: rate.ofTotal
              ? `total ${measureName(rate.denominator)}`
              : measureName(rate.denominator),
          })),
        }
      : {}),
    figures: figuresOf(report),
    groupBy: report.groupBy,
    ...(report.alwaysGroupBy ? { alwaysGroupBy: report.alwaysGroupBy } : {}),
    filters: FILTERS,
    formats: ['json', 'csv', 'fhir'],
    measure: `${CANONICAL_BASE}/Measure/${report.id}`,
    href: `/api/reports/${report.id}`,
  };
}

const PAGE = 100;

/** The day after a calendar day (`2026-10-31` → `2026-11-01`). */
function nextDay(date: string): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
}
/** Refuses a period that does not begin before it ends (judged in the reporting timezone, by the store). */
async function checkedPeriod(deps: ReportDeps, query: ReportQuery): Promise<ReportQuery> {
  if (!(await periodIsForward(deps.store.db, query))) throw badRequest('from must be before to', 'from');
  return query;
}
const FHIR_JSON = 'application/fhir+json; charset=utf-8';

/** Resources as a FHIR searchset Bundle. */
function searchset(resources: (Measure | MeasureReport)[]): Bundle {
  return {
    resourceType: 'Bundle',
    type: 'searchset',
    total: resources.length,
    entry: resources.map((resource) => ({
      fullUrl: `urn:uuid:${resource.resourceType === 'MeasureReport' ? resource.id! : newId()}`,
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
    res.json({ timezone: deps.timezone, reports: ALL_REPORTS.map(describe) });
  });
  router.get('/reports/:id', requireRole('report'), async (req: Request, res: Response) => {
    const report = reportById(String(req.params.id));
    if (!report) throw notFound(`No report "${String(req.params.id)}"; GET /api/reports lists them`);
    onlyKnown(req, REPORT_PARAMS);
    const query = await checkedPeriod(deps, reportQuery(req, report, deps.timezone, deps.context));
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
    const measures = ALL_REPORTS.map(measureResource).filter((m) => url === undefined || m.url === url);
    res.type(FHIR_JSON).send(JSON.stringify(searchset(measures)));
  });
  router.get('/fhir/Measure/:id', requireRole('report'), (req: Request, res: Response) => {
    const report = reportById(String(req.params.id));
    if (!report) throw notFound(`No Measure "${String(req.params.id)}"`);
    res.type(FHIR_JSON).send(JSON.stringify(measureResource(report)));
  });
  // FHIR's own way to evaluate a Measure: $evaluate-measure with periodStart and periodEnd.
  router.get(
    '/fhir/Measure/:id/\\$evaluate-measure',
    requireRole('report'),
    async (req: Request, res: Response) => {
      const report = reportById(String(req.params.id));
      if (!report) throw notFound(`No Measure "${String(req.params.id)}"`);
      onlyKnown(req, new Set(['periodStart', 'periodEnd']));
      const start = param(req, 'periodStart');
      const end = param(req, 'periodEnd');
      if (start === undefined) throw badRequest('periodStart is required', 'periodStart');
      if (end === undefined) throw badRequest('periodEnd is required', 'periodEnd');
      const from = boundOf(start, 'periodStart');
      const last = boundOf(end, 'periodEnd');
      // FHIR's periodEnd is inclusive: a date means through the end of that day.
      const to: Bound = 'date' in last ? { date: nextDay(last.date) } : last;
      const query = await checkedPeriod(deps, {
        report,
        from,
        to,
        groupBy: [],
        filters: {},
        timezone: deps.timezone,
        context: deps.context,
      });
      const answer = await runReport(deps.store.db, query);
      res.type(FHIR_JSON).send(JSON.stringify(measureReport(answer, report, deps.clock())));
    },
  );
  // A MeasureReport evaluated on request: ?measure=<id or canonical URL>&from&to (and groupBy, filters, suppress).
  router.get('/fhir/MeasureReport', requireRole('report'), async (req: Request, res: Response) => {
    const measure = param(req, 'measure') ?? '';
    const id = measure.replace(/\|.*$/, '').replace(/^.*\/Measure\//, '');
    const report = reportById(id);
    if (!report)
      throw badRequest('measure must name a Measure (GET /api/fhir/Measure lists them)', 'measure');
    onlyKnown(req, new Set([...REPORT_PARAMS, 'measure']));
    const query = await checkedPeriod(deps, reportQuery(req, report, deps.timezone, deps.context));
    const answer = await runReport(deps.store.db, query);
    res.type(FHIR_JSON).send(JSON.stringify(searchset([measureReport(answer, report, deps.clock())])));
  });
  router.get('/events', requireRole('report'), async (req: Request, res: Response) => {
    const report = reportById(param(req, 'report') ?? '');
    if (!report) throw badRequest('report must name a report (GET /api/reports lists them)', 'report');
    const measureParam = param(req, 'measure');
    const measure = report.measures.find((m) => m === measureParam || measureName(m) === measureParam);
    if (!measure) throw badRequest(`measure must be one of ${report.measures.join(', ')}`, 'measure');
    onlyKnown(req, EVIDENCE_PARAMS);
    const query = await checkedPeriod(deps, reportQuery(req, report, deps.timezone, deps.context));
    const cell: Partial<Record<Dimension, string>> = {};
    for (const dim of DIMENSIONS) {
      const value = param(req, `cell.${dim}`);
      if (value !== undefined) cell[dim] = value;
    }
    const limit = limitOf(req, PAGE, 1000);
    const afterText = param(req, 'after');
    const after = afterText ? positionOf(afterText, 'after') : undefined;
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
        ? nextPage(req, '/api/events', 'after', { at: last.at, id: last.id })
        : null;
    // The events of a cell are patient-level (each names its episode and keyed patient hash).
    await deps.audit.record(req, res, {
      status: 200,
      resourceIds: events.map((e) => e.id),
      resultCount: events.length,
    });
    res.json({
      report: report.id,
      measure: measureName(measure),
      cell: Object.fromEntries(Object.entries(cell).map(([k, v]) => [k, v === NONE ? null : v])),
      // Without the keyed patient hash: a report's reader follows the episode (role inspect), not the patient.
      events: events.map(({ patient_hash: _patient, ...e }) => ({
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
