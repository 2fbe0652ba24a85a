import { readFileSync } from 'node:fs';
import { londonOffsetMinutes, londonWallClock } from '../fhir/fhir-time.js';

/** One row of the disposition table: a Pathways Dx code and its time frame. */
export interface Disposition {
  code: string;
  description: string;
  /** A time frame in minutes (0: immediately), or … */
  minutes?: number;
  /** … one in working days (to the end of that working day, London time). */
  workingDays?: number;
  category: string;
  bookable: boolean;
  confidence: string;
}

/** The disposition table, looked up case-insensitively (`DX02`, `Dx02` and `dx02` are one code). */
export class DispositionTable {
  readonly #rows = new Map<string, Disposition>();

  constructor(rows: Disposition[]) {
    for (const row of rows) this.#rows.set(row.code.toLowerCase(), row);
  }

  get size(): number {
    return this.#rows.size;
  }

  get(code: string | null | undefined): Disposition | undefined {
    return code ? this.#rows.get(code.trim().toLowerCase()) : undefined;
  }
}

/** A table that cannot be read: every bad line, with its number. */
export class TableError extends Error {}

export function csvLines(text: string): { line: number; cells: string[] }[] {
  return text
    .split(/\r?\n/)
    .map((raw, i) => ({ line: i + 1, raw }))
    .filter(({ raw }) => raw.trim() !== '' && !raw.startsWith('#'))
    .map(({ line, raw }) => ({ line, cells: raw.split(',').map((c) => c.trim()) }));
}

/**
 * Reads a disposition table (CSV: code, description, minutes, working_days, category, bookable,
 * confidence). A row has at most one time frame: minutes (0 for "immediately") or working days; a
 * non-urgent disposition has none. Throws a TableError naming every bad line.
 */
export function parseDispositionTable(text: string, source = 'dispositions'): DispositionTable {
  const [header, ...rows] = csvLines(text);
  const expected = ['code', 'description', 'minutes', 'working_days', 'category', 'bookable', 'confidence'];
  if (!header || header.cells.join(',') !== expected.join(','))
    throw new TableError(`${source}: the first line must be "${expected.join(',')}"`);
  const problems: string[] = [];
  const out: Disposition[] = [];
  const seen = new Set<string>();
  for (const { line, cells } of rows) {
    if (cells.length !== expected.length) {
      problems.push(`line ${line}: ${cells.length} cells; expected ${expected.length}`);
      continue;
    }
    const [code, description, minutes, workingDays, category, bookable, confidence] = cells as [
      string,
      string,
      string,
      string,
      string,
      string,
      string,
    ];
    if (!/^dx\d+$/i.test(code)) problems.push(`line ${line}: code "${code}" is not a Dx code`);
    if (seen.has(code.toLowerCase())) problems.push(`line ${line}: code "${code}" appears twice`);
    seen.add(code.toLowerCase());
    const whole = (v: string) => /^\d+$/.test(v);
    if (minutes !== '' && workingDays !== '')
      problems.push(`line ${line}: give at most one of minutes and working_days`);
    else if (minutes !== '' && !whole(minutes))
      problems.push(`line ${line}: minutes "${minutes}" is not a whole number`);
    else if (workingDays !== '' && !(whole(workingDays) && Number(workingDays) > 0))
      problems.push(`line ${line}: working_days "${workingDays}" is not a positive whole number`);
    if (bookable !== 'yes' && bookable !== 'no') problems.push(`line ${line}: bookable must be yes or no`);
    out.push({
      code,
      description,
      ...(minutes !== '' ? { minutes: Number(minutes) } : {}),
      ...(workingDays !== '' ? { workingDays: Number(workingDays) } : {}),
      category,
      bookable: bookable === 'yes',
      confidence,
    });
  }
  if (problems.length > 0) throw new TableError(`${source} is invalid:\n  - ${problems.join('\n  - ')}`);
  return new DispositionTable(out);
}

export function loadDispositionTable(file: string): DispositionTable {
  return parseDispositionTable(readFileSync(file, 'utf8'), file);
}

/** Bank holidays as London calendar days (`YYYY-MM-DD`). */
export type BankHolidays = ReadonlySet<string>;

/** Reads a bank-holiday table (CSV: date, name). */
export function parseBankHolidays(text: string, source = 'bank holidays'): BankHolidays {
  const [header, ...rows] = csvLines(text);
  if (!header || header.cells[0] !== 'date')
    throw new TableError(`${source}: the first line must be "date,name"`);
  const days = new Set<string>();
  const problems: string[] = [];
  for (const { line, cells } of rows) {
    const day = cells[0] ?? '';
    if (!/^\d{4}-\d{2}-\d{2}$/.test(day) || Number.isNaN(Date.parse(`${day}T00:00:00Z`)))
      problems.push(`line ${line}: "${day}" is not a date (YYYY-MM-DD)`);
    else days.add(day);
  }
  if (problems.length > 0) throw new TableError(`${source} is invalid:\n  - ${problems.join('\n  - ')}`);
  return days;
}

export function loadBankHolidays(file: string): BankHolidays {
  return parseBankHolidays(readFileSync(file, 'utf8'), file);
}

/** The London calendar day of an instant, as a UTC midnight Date. */
function londonDay(at: Date): Date {
  const local = new Date(at.getTime() + londonOffsetMinutes(at) * 60_000);
  return new Date(Date.UTC(local.getUTCFullYear(), local.getUTCMonth(), local.getUTCDate()));
}

const DAY_MS = 86_400_000;

function isWorkingDay(day: Date, holidays: BankHolidays): boolean {
  const weekday = day.getUTCDay();
  return weekday !== 0 && weekday !== 6 && !holidays.has(day.toISOString().slice(0, 10));
}

/**
 * The end (London midnight that closes it) of the Nth working day after the day of `from`: "within 3
 * working days" of a Friday disposition ends with the following Wednesday; bank holidays and weekends
 * do not count.
 */
export function afterWorkingDays(from: Date, days: number, holidays: BankHolidays): Date {
  let day = londonDay(from);
  let left = days;
  while (left > 0) {
    day = new Date(day.getTime() + DAY_MS);
    if (isWorkingDay(day, holidays)) left -= 1;
  }
  return new Date(londonWallClock(new Date(day.getTime() + DAY_MS), 0, 0).getTime() - 1);
}

const lastYears = new WeakMap<BankHolidays, number>();

/** The last year a bank-holiday table covers. */
function lastYear(holidays: BankHolidays): number {
  let year = lastYears.get(holidays);
  if (year === undefined) {
    year = Math.max(0, ...[...holidays].map((day) => Number(day.slice(0, 4))));
    lastYears.set(holidays, year);
  }
  return year;
}

/** Where a deadline came from (reports.md: deadline precedence). */
export type DeadlineSource = 'referral' | 'disposition' | 'search-window';

export interface Deadline {
  deadline: Date | null;
  source: DeadlineSource | null;
  /** `deadline-inferred` when only the search window gave it; `disposition-unknown` when a code was not in the table. */
  flags: ('deadline-inferred' | 'disposition-unknown' | 'bank-holidays-unknown')[];
}

/**
 * A search's or booking's deadline: the referral's `occurrencePeriod.end`; else the disposition time
 * plus the disposition's time frame; else the search window's upper bound, marked inferred.
 */
export function deadlineOf(
  known: {
    occurrenceEnd?: Date | null;
    disposition?: string | null;
    dispositionAt?: Date | null;
    windowTo?: Date | null;
  },
  table: DispositionTable,
  holidays: BankHolidays,
): Deadline {
  const flags: Deadline['flags'] = [];
  if (known.occurrenceEnd) return { deadline: known.occurrenceEnd, source: 'referral', flags };
  if (known.disposition) {
    const row = table.get(known.disposition);
    if (!row) flags.push('disposition-unknown');
    else if (known.dispositionAt && (row.minutes !== undefined || row.workingDays !== undefined)) {
      const deadline =
        row.minutes !== undefined
          ? new Date(known.dispositionAt.getTime() + row.minutes * 60_000)
          : afterWorkingDays(known.dispositionAt, row.workingDays!, holidays);
      // Working days counted past the bank-holiday table's last year: holidays there were not known.
      if (row.workingDays !== undefined && deadline.getUTCFullYear() > lastYear(holidays))
        flags.push('bank-holidays-unknown');
      return { deadline, source: 'disposition', flags };
    }
  }
  if (known.windowTo)
    return { deadline: known.windowTo, source: 'search-window', flags: [...flags, 'deadline-inferred'] };
  return { deadline: null, source: null, flags };
}
