/** The p-th percentile (nearest rank) of some numbers. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** Prints a Markdown table (pasteable into the README). */
export function printTable(header: string[], rows: (string | number)[][]): void {
  const lines = [header, header.map(() => '---'), ...rows.map((r) => r.map(String))];
  process.stdout.write(`\n${lines.map((cells) => `| ${cells.join(' | ')} |`).join('\n')}\n\n`);
}
