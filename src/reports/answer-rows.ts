import { figuresOf, measureName, type Dimension, type ReportDefinition } from './catalogue.js';
import { NO_CONTEXT, WEEKDAYS, type Filter, type ReportQuery } from './report-query.js';

/*
 * An answer's rows as users see them: rates, small-number suppression, and the figures per region that
 * come from configuration.
 */

/** One cell of an answer: its dimensions, then each measure's count (null when suppressed), and the rate. */
export type AnswerRow = Record<string, string | number | null | string[] | Record<string, string>>;

export interface ReportAnswer {
  report: string;
  version: string;
  title: string;
  period: { from: string; to: string; timezone: string };
  filters: Partial<Record<Filter, string>>;
  groupBy: Dimension[];
  measures: string[];
  /** The figures shown beside the measures (rates, shares, per-region and per-weekday figures, latencies). */
  figures: string[];
  rows: AnswerRow[];
  totals: AnswerRow;
  dataQuality: Record<string, number | null>;
  suppress?: number;
}

/** Withholds counts from 1 to k-1, and rates built on them (and the links that would show them). */
export function suppressed(row: AnswerRow, query: ReportQuery): AnswerRow {
  const k = query.suppress;
  if (!k || k < 2) return row;
  const withheld: string[] = [];
  for (const m of query.report.measures) {
    const name = measureName(m);
    const value = row[name];
    if (typeof value === 'number' && value > 0 && value < k) {
      row[name] = null;
      withheld.push(name);
    }
  }
  // Measures bound by an exact sum (exchanges = responses + transport errors) are withheld together:
  // the others would give the withheld one away.
  for (const group of query.report.linked ?? []) {
    const names = group.map(measureName);
    if (!names.some((n) => withheld.includes(n))) continue;
    for (const name of names)
      if (!withheld.includes(name) && typeof row[name] === 'number') {
        row[name] = null;
        withheld.push(name);
      }
  }
  if (withheld.length > 0) {
    withholdFigures(row, query.report);
    row.suppressed = withheld;
    if (row.evidence && typeof row.evidence === 'object' && !Array.isArray(row.evidence))
      for (const name of withheld) delete row.evidence[name];
  }
  return row;
}

/**
 * Totals under suppression: a total with any cell withheld is withheld too (else the cells shown and
 * the total give the hidden one away); data-quality counts from 1 to k-1 likewise.
 */
export function suppressedTotals(totals: AnswerRow, rows: AnswerRow[], query: ReportQuery): AnswerRow {
  suppressed(totals, query);
  if (!query.suppress || query.suppress < 2) return totals;
  const withheld = new Set((totals.suppressed as string[] | undefined) ?? []);
  for (const row of rows)
    for (const name of (row.suppressed as string[] | undefined) ?? []) withheld.add(name);
  for (const name of withheld) totals[name] = null;
  if (withheld.size > 0) {
    totals.suppressed = [...withheld];
    withholdFigures(totals, query.report);
  }
  return totals;
}

/**
 * A row with counts withheld withholds every figure computed from counts (rates, per 1000, per day,
 * latencies of few exchanges); figures from configuration or the calendar stay.
 */
function withholdFigures(row: AnswerRow, report: ReportDefinition): void {
  const kept = new Set(['population', 'servicesConnected', 'weekdays']);
  for (const figure of figuresOf(report)) if (!kept.has(figure) && figure in row) row[figure] = null;
}

const ratio = (n: unknown, d: unknown) =>
  typeof n === 'number' && typeof d === 'number' && d > 0 ? Math.round((n / d) * 10_000) / 10_000 : null;

/** A row with its rates; a share's denominator is the measure's total over every cell. */
export function withRate(row: AnswerRow, report: ReportDefinition, totals: AnswerRow = row): AnswerRow {
  for (const rate of report.rates ?? [])
    row[rate.name] = ratio(
      row[measureName(rate.numerator)],
      (rate.ofTotal ? totals : row)[measureName(rate.denominator)],
    );
  return row;
}

export function suppressedQuality(
  quality: Record<string, number>,
  k: number | undefined,
): Record<string, number | null> {
  if (!k || k < 2) return quality;
  return Object.fromEntries(Object.entries(quality).map(([flag, n]) => [flag, n > 0 && n < k ? null : n]));
}

/**
 * Figures per region from configuration: its inhabitants and bookings per 1000 of them
 * (bookings-per-1000), or the services configured for its providers (units-connected-vs-active).
 * Totals cover the regions the table or configuration knows.
 */
export function perRegion(rows: AnswerRow[], totals: AnswerRow, query: ReportQuery): void {
  const context = query.context ?? NO_CONTEXT;
  if (query.report.perRegion === 'population') {
    let people = 0;
    let counted = 0;
    for (const row of rows) {
      const known = typeof row.region === 'string' ? context.population.get(row.region) : undefined;
      row.population = known?.population ?? null;
      row.per1000 =
        known && typeof row.bookings === 'number'
          ? Math.round((row.bookings / known.population) * 1000 * 1_000_000) / 1_000_000
          : null;
      if (known && typeof row.bookings === 'number') {
        people += known.population;
        counted += row.bookings;
      }
    }
    totals.population = people > 0 ? people : null;
    totals.per1000 = people > 0 ? Math.round((counted / people) * 1000 * 1_000_000) / 1_000_000 : null;
    return;
  }
  // By region alone, every region with services connected has a row, active or not.
  if (query.groupBy.length === 0 || (query.groupBy.length === 1 && query.groupBy[0] === 'region'))
    for (const region of Object.keys(context.connected))
      if (!rows.some((row) => row.region === region))
        rows.push({ region, servicesBooked: 0, servicesSearched: 0 });
  const regionText = (row: AnswerRow) => (typeof row.region === 'string' ? row.region : '');
  rows.sort((a, b) => regionText(a).localeCompare(regionText(b)));
  for (const row of rows)
    row.servicesConnected = typeof row.region === 'string' ? (context.connected[row.region] ?? 0) : null;
  totals.servicesConnected = Object.values(context.connected).reduce((sum, n) => sum + n, 0);
}

/**
 * Figures per weekday: how many such days the period has, and the events per such day (activity-by-
 * weekday). By weekday alone, every weekday the period has gets a row, with or without events.
 */
export function perWeekday(
  rows: AnswerRow[],
  totals: AnswerRow,
  query: ReportQuery,
  days: Map<number, number>,
): void {
  const perDay = (n: unknown, d: number) =>
    typeof n === 'number' && d > 0 ? Math.round((n / d) * 10_000) / 10_000 : null;
  if (query.groupBy.every((d) => d === 'weekday'))
    for (const [dow] of [...days.entries()].sort(([a], [b]) => a - b)) {
      const name = WEEKDAYS[dow - 1]!;
      if (!rows.some((row) => row.weekday === name)) rows.push({ weekday: name, attempts: 0 });
    }
  const order = (row: AnswerRow) => WEEKDAYS.indexOf(typeof row.weekday === 'string' ? row.weekday : '');
  rows.sort((a, b) => order(a) - order(b));
  for (const row of rows) {
    const d = days.get(order(row) + 1) ?? 0;
    row.weekdays = d;
    row.perDay = perDay(row.attempts, d);
  }
  const all = [...days.values()].reduce((sum, n) => sum + n, 0);
  totals.weekdays = all;
  totals.perDay = perDay(totals.attempts, all);
}

/**
 * A share of the total, once any cell is withheld, is withheld in every row: a shown count over its
 * share gives the total back, and the total less the shown cells the withheld one.
 */
export function withheldShares(rows: AnswerRow[], totals: AnswerRow, report: ReportDefinition): void {
  const shares = (report.rates ?? []).filter((r) => r.ofTotal).map((r) => r.name);
  if (shares.length === 0 || !rows.some((row) => Array.isArray(row.suppressed))) return;
  for (const row of [...rows, totals]) for (const name of shares) if (name in row) row[name] = null;
}
