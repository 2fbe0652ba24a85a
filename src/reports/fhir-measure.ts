import type {
  CodeableConcept,
  Measure,
  MeasureGroup,
  MeasureReport,
  MeasureReportGroup,
  MeasureReportGroupPopulation,
  MeasureReportGroupStratifierStratum,
} from 'fhir/r4.js';
import { newId } from '../ids.js';
import { figuresOf, measureName, type ReportDefinition } from './catalogue.js';
import { MEASURES } from './measures.js';
import type { AnswerRow, ReportAnswer } from './answer-rows.js';

/*
 * The FHIR R4 view of the reports: a `Measure` describing each report (GET /api/fhir/Measure), and an
 * answer as a `MeasureReport` (type summary): a group per measure with its count as the
 * initial population, and for a report with a rate a `rate` group with numerator, denominator and the
 * score; `groupBy` as one stratifier whose strata carry a component per dimension.
 */

export const CANONICAL_BASE = 'https://booking-event-collector.nhs.example/fhir';
const MEASURE_CODES = `${CANONICAL_BASE}/CodeSystem/report-measure`;
const DIMENSION_CODES = `${CANONICAL_BASE}/CodeSystem/report-dimension`;
const POPULATION = 'http://terminology.hl7.org/CodeSystem/measure-population';
const SCORING = 'http://terminology.hl7.org/CodeSystem/measure-scoring';
const DATA_ABSENT = 'http://hl7.org/fhir/StructureDefinition/data-absent-reason';
/** Marks a count withheld by small-number suppression. */
export const SUPPRESSED_EXTENSION = `${CANONICAL_BASE}/StructureDefinition/suppressed`;

const code = (system: string, value: string, display?: string): CodeableConcept => ({
  coding: [{ system, code: value, ...(display ? { display } : {}) }],
  text: display ?? value,
});
const population = (kind: 'initial-population' | 'numerator' | 'denominator') => code(POPULATION, kind);

/** What each figure that is not a rate means (Measure.group.description). */
const FIGURES: Record<string, string> = {
  population: "the region's inhabitants (the configured population table)",
  per1000: 'bookings per 1000 inhabitants of the region',
  servicesConnected: "DoS services configured for the region's providers",
  weekdays: 'how many such weekdays the period has',
  perDay: 'events per such weekday in the period',
  p50Ms: 'median upstream latency, milliseconds',
  p95Ms: '95th percentile upstream latency, milliseconds',
  p99Ms: '99th percentile upstream latency, milliseconds',
};

/** `rep-cons-01` → `RepCons01` (Measure.name is a computer-friendly name). */
function computerName(id: string): string {
  return id
    .split('-')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');
}

/** The Measure resource that describes a report. */
export function measureResource(report: ReportDefinition): Measure {
  const groups: MeasureGroup[] = report.measures.map((m) => ({
    id: measureName(m),
    code: code(MEASURE_CODES, measureName(m)),
    description: MEASURES[m].description,
    population: [
      {
        code: population('initial-population'),
        criteria: { language: 'text/plain', expression: MEASURES[m].description },
      },
    ],
    stratifier: [
      { code: code(DIMENSION_CODES, 'groupBy'), description: `any of ${report.groupBy.join(', ')}` },
    ],
  }));
  for (const rate of report.rates ?? [])
    groups.push({
      id: rate.name,
      code: code(MEASURE_CODES, rate.name),
      description: `${measureName(rate.numerator)} / ${rate.ofTotal ? 'total ' : ''}${measureName(rate.denominator)}`,
      population: [
        {
          code: population('numerator'),
          criteria: { language: 'text/plain', expression: MEASURES[rate.numerator].description },
        },
        {
          code: population('denominator'),
          criteria: {
            language: 'text/plain',
            expression: `${rate.ofTotal ? 'all cells: ' : ''}${MEASURES[rate.denominator].description}`,
          },
        },
      ],
    });
  const rates = new Set((report.rates ?? []).map((r) => r.name));
  for (const figure of figuresOf(report).filter((f) => !rates.has(f)))
    groups.push({ id: figure, code: code(MEASURE_CODES, figure), description: FIGURES[figure] });
  return {
    resourceType: 'Measure',
    id: report.id,
    url: `${CANONICAL_BASE}/Measure/${report.id}`,
    version: report.version,
    name: computerName(report.id),
    title: report.title,
    status: 'active',
    description: report.title,
    scoring: report.rates ? code(SCORING, 'ratio') : code(SCORING, 'cohort'),
    group: groups,
  };
}

/** A count as a population: withheld counts have none, and say why. */
function counted(kind: Parameters<typeof population>[0], value: unknown): MeasureReportGroupPopulation {
  return typeof value === 'number'
    ? { code: population(kind), count: value }
    : { code: population(kind), extension: [{ url: SUPPRESSED_EXTENSION, valueBoolean: true }] };
}

/** The strata of one group: one per row, a component per dimension. */
function strata(
  answer: ReportAnswer,
  populations: (row: AnswerRow) => MeasureReportGroupPopulation[],
  score?: (row: AnswerRow) => number | null,
): MeasureReportGroupStratifierStratum[] {
  return answer.rows.map((row) => {
    const scored = score?.(row);
    return {
      component: answer.groupBy.map((dim) => ({
        code: code(DIMENSION_CODES, dim),
        // A cell without a value (no provider, say) says so, rather than naming one.
        value:
          row[dim] === null
            ? { extension: [{ url: DATA_ABSENT, valueCode: 'unknown' }] }
            : { text: String(row[dim] as string | number) },
      })),
      // An empty array is not valid FHIR JSON: a figure's strata have no population at all.
      ...(populations(row).length > 0 ? { population: populations(row) } : {}),
      ...(typeof scored === 'number' ? { measureScore: { value: scored } } : {}),
    };
  });
}

/** An answer as a MeasureReport (summary). */
export function measureReport(answer: ReportAnswer, report: ReportDefinition, now: Date): MeasureReport {
  const stratified = answer.groupBy.length > 0;
  const stratifier = (s: MeasureReportGroupStratifierStratum[]) =>
    stratified
      ? { stratifier: [{ code: [code(DIMENSION_CODES, answer.groupBy.join(','))], stratum: s }] }
      : {};
  const groups: MeasureReportGroup[] = report.measures.map((m) => {
    const name = measureName(m);
    return {
      id: name,
      code: code(MEASURE_CODES, name),
      population: [counted('initial-population', answer.totals[name])],
      ...stratifier(strata(answer, (row) => [counted('initial-population', row[name])])),
    };
  });
  const score = (name: string) => (row: AnswerRow) => (typeof row[name] === 'number' ? row[name] : null);
  for (const rate of report.rates ?? []) {
    const n = measureName(rate.numerator);
    const d = measureName(rate.denominator);
    const total = score(rate.name)(answer.totals);
    groups.push({
      id: rate.name,
      code: code(MEASURE_CODES, rate.name),
      population: [counted('numerator', answer.totals[n]), counted('denominator', answer.totals[d])],
      ...(total !== null ? { measureScore: { value: total } } : {}),
      ...stratifier(
        strata(
          answer,
          (row) => [
            counted('numerator', row[n]),
            counted('denominator', (rate.ofTotal ? answer.totals : row)[d]),
          ],
          score(rate.name),
        ),
      ),
    });
  }
  // The other figures (per region, per weekday, latencies): a score per stratum, no population.
  const rates = new Set((report.rates ?? []).map((r) => r.name));
  for (const figure of answer.figures.filter((f) => !rates.has(f))) {
    const total = score(figure)(answer.totals);
    groups.push({
      id: figure,
      code: code(MEASURE_CODES, figure),
      ...(total !== null ? { measureScore: { value: total } } : {}),
      ...stratifier(strata(answer, () => [], score(figure))),
    });
  }
  return {
    resourceType: 'MeasureReport',
    id: newId(),
    status: 'complete',
    type: 'summary',
    measure: `${CANONICAL_BASE}/Measure/${report.id}|${report.version}`,
    date: now.toISOString(),
    // A FHIR Period's end is inclusive: the last millisecond of the half-open period.
    period: { start: answer.period.from, end: new Date(Date.parse(answer.period.to) - 1).toISOString() },
    group: groups,
  };
}
