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
import { measureName, type ReportDefinition } from './catalogue.js';
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
  if (report.rate) {
    const { numerator, denominator } = report.rate;
    groups.push({
      id: 'rate',
      code: code(MEASURE_CODES, 'rate'),
      description: `${measureName(numerator)} / ${measureName(denominator)}`,
      population: [
        {
          code: population('numerator'),
          criteria: { language: 'text/plain', expression: MEASURES[numerator].description },
        },
        {
          code: population('denominator'),
          criteria: { language: 'text/plain', expression: MEASURES[denominator].description },
        },
      ],
    });
  }
  return {
    resourceType: 'Measure',
    id: report.id,
    url: `${CANONICAL_BASE}/Measure/${report.id}`,
    version: report.version,
    name: computerName(report.id),
    title: report.title,
    status: 'active',
    description: report.title,
    scoring: report.rate ? code(SCORING, 'ratio') : code(SCORING, 'cohort'),
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
      population: populations(row),
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
  if (report.rate) {
    const n = measureName(report.rate.numerator);
    const d = measureName(report.rate.denominator);
    const rate = (row: AnswerRow) => (typeof row.rate === 'number' ? row.rate : null);
    const total = rate(answer.totals);
    groups.push({
      id: 'rate',
      code: code(MEASURE_CODES, 'rate'),
      population: [counted('numerator', answer.totals[n]), counted('denominator', answer.totals[d])],
      ...(total !== null ? { measureScore: { value: total } } : {}),
      ...stratifier(
        strata(answer, (row) => [counted('numerator', row[n]), counted('denominator', row[d])], rate),
      ),
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
