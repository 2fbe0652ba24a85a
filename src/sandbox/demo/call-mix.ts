import type { Dialect } from '../../config/config.types.js';
import type { BankHolidays, Disposition, DispositionTable } from '../../derive/dispositions.js';
import { londonInstant, londonWallClock } from '../../fhir/fhir-time.js';
import { SANDBOX_SERVICES, type SandboxService } from '../catalogue.js';
import type { Random } from '../random.js';
import type { DemoCall } from './dialect-client.js';

/*
 * What kind of call comes in next: a seeded mix of dialects (the sandbox's services in each), and of
 * Pathways dispositions from the bundled table that such a service takes, each with its time frame
 * (minutes, or working days past weekends and bank holidays), so searches ask for the window it gives.
 */

/** Share of calls per dialect: most 111 traffic is STU3 or BaRS; GP Connect books GP practices. */
const DIALECT_MIX: [Dialect, number][] = [
  ['stu3', 0.4],
  ['bars', 0.35],
  ['gpconnect', 0.25],
];

/** The dispositions a kind of service takes (codes of the bundled table, every one with a time frame). */
const DISPOSITIONS_FOR: Record<SandboxService['kind'], string[]> = {
  'emergency-department': ['Dx02', 'Dx03', 'Dx89', 'Dx92', 'Dx94'],
  'urgent-treatment-centre': ['Dx03', 'Dx89', 'Dx05', 'Dx06', 'Dx07', 'Dx08', 'Dx11', 'Dx12', 'Dx13', 'Dx14'],
  'gp-practice': ['Dx05', 'Dx06', 'Dx08', 'Dx11', 'Dx12', 'Dx13', 'Dx15', 'Dx117', 'Dx75', 'Dx81', 'Dx115'],
};

const DAY_MS = 86_400_000;

/**
 * The end of the working day N working days after the day of `at` (London calendar days; weekends and
 * bank holidays are not working days): "within 3 working days" of a Friday ends with Wednesday.
 */
export function endOfWorkingDays(at: Date, days: number, holidays: BankHolidays): Date {
  let day = new Date(`${londonInstant(at).slice(0, 10)}T00:00:00Z`);
  for (let left = days; left > 0;) {
    day = new Date(day.getTime() + DAY_MS);
    const weekend = day.getUTCDay() === 0 || day.getUTCDay() === 6;
    if (!weekend && !holidays.has(day.toISOString().slice(0, 10))) left -= 1;
  }
  return new Date(londonWallClock(new Date(day.getTime() + DAY_MS), 0, 0).getTime() - 1);
}

/** When a patient given this disposition at `at` must be seen by. */
function mustBeSeenBy(at: Date, row: Disposition, holidays: BankHolidays): Date {
  if (row.minutes !== undefined) return new Date(at.getTime() + row.minutes * 60_000);
  return endOfWorkingDays(at, row.workingDays!, holidays);
}

/** A valid NHS number (Modulus 11) from the generator, in the 9xx test range. */
export function nhsNumber(next: Random): string {
  for (;;) {
    const digits = [9, ...Array.from({ length: 8 }, () => Math.floor(next() * 10))];
    const sum = digits.reduce((s, d, i) => s + d * (10 - i), 0);
    const check = 11 - (sum % 11);
    if (check === 10) continue;
    return [...digits, check === 11 ? 0 : check].join('');
  }
}

export const hex = (next: Random, n: number): string =>
  Array.from({ length: n }, () => Math.floor(next() * 16).toString(16)).join('');

/** A version 4 UUID from the generator. */
export const uuid = (next: Random): string =>
  `${hex(next, 8)}-${hex(next, 4)}-4${hex(next, 3)}-8${hex(next, 3)}-${hex(next, 12)}`;

function pick<T>(next: Random, list: readonly T[]): T {
  return list[Math.floor(next() * list.length)]!;
}

/** Draws each call's dialect, service, disposition and people from the seeded generator. */
export class CallMix {
  readonly #rows = new Map<string, Disposition>();

  constructor(
    private readonly next: Random,
    dispositions: DispositionTable,
    private readonly holidays: BankHolidays,
  ) {
    for (const code of new Set(Object.values(DISPOSITIONS_FOR).flat())) {
      const row = dispositions.get(code);
      if (!row || (row.minutes === undefined && row.workingDays === undefined))
        throw new Error(`the disposition table has no time frame for ${code}`);
      this.#rows.set(code, row);
    }
  }

  /** The table's description of a disposition the mix uses. */
  describe(code: string): string {
    return this.#rows.get(code)?.description ?? code;
  }

  /** The next call: its dialect and what the handler knows about it. */
  draw(prefix: string, now: Date): { dialect: Dialect; call: DemoCall } {
    const roll = this.next();
    let sum = 0;
    const dialect = DIALECT_MIX.find(([, share]) => roll < (sum += share))?.[0] ?? 'stu3';
    const service = pick(
      this.next,
      SANDBOX_SERVICES.filter((s) => s.dialect === dialect),
    );
    const code = pick(this.next, DISPOSITIONS_FOR[service.kind]);
    // The disposition was reached a minute or two before the handler looked for a service.
    const at = new Date(now.getTime() - (1 + Math.floor(this.next() * 3)) * 60_000);
    return {
      dialect,
      call: {
        key: `${prefix}-${hex(this.next, 6)}`,
        patient: nhsNumber(this.next),
        documentId: uuid(this.next),
        caseId: `case-${hex(this.next, 10)}`,
        serviceRequestId: uuid(this.next),
        service: service.id,
        disposition: {
          code,
          // Some systems write DX02: the collector matches codes without case.
          spelled: this.next() < 0.2 ? code.toUpperCase() : code,
          at,
          deadline: mustBeSeenBy(at, this.#rows.get(code)!, this.holidays),
        },
        now,
      },
    };
  }
}
