import type { ReportAnswer } from './answer-rows.js';

/** A CSV field: quoted when it holds a comma, quote or line break (RFC 4180). */
function field(value: unknown): string {
  let text: string;
  if (typeof value === 'string') text = value;
  else if (typeof value === 'number' || typeof value === 'boolean') text = String(value);
  else if (Array.isArray(value)) text = value.map((v) => field(v)).join(';');
  else return ''; // null, or an object (evidence links are JSON only)
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/**
 * An answer as CSV: a header row, then one row per cell: the dimensions, each measure, the figures beside
 * them (rates, shares, per region or weekday, latencies), and (with suppression) which counts were
 * withheld. Totals and data quality are JSON only.
 */
export function reportCsv(answer: ReportAnswer): string {
  const columns = [
    ...answer.groupBy,
    ...answer.measures,
    ...answer.figures,
    ...(answer.suppress ? ['suppressed'] : []),
  ];
  const lines = [columns.map(field).join(',')];
  for (const row of answer.rows) lines.push(columns.map((c) => field(row[c])).join(','));
  return `${lines.join('\r\n')}\r\n`;
}
