import type { Dialect } from '../../config/config.types.js';
import type { OfferedSlot } from './dialect-client.js';

/** What the simulated calls did, counted as reports.md counts it. */
export interface GroundTruth {
  calls: number;
  seed: number;
  /** Calls per dialect. */
  dialects: Record<Dialect, number>;
  /** Per national metric (report id), the totals of its measures. */
  counts: Record<string, Record<string, number>>;
  /**
   * Per report, its cells by some dimensions (`by`, comma-separated): each combination of their values
   * (joined by `|`) and the measures there (the report's rows with those values added up). Cells where
   * every measure is 0 are left out.
   */
  cells: Record<string, { by: string; rows: Record<string, Record<string, number>> }>;
}

/** How a referral ended without a booking (rep-cons-02, -03, -12). */
export type NotBooked = 'no-search' | 'no-slots' | 'slots-offered' | 'all-breach';

type Cells = Map<string, Record<string, number>>;

function add(cells: Cells, value: string, measure: string, n = 1): void {
  const row = cells.get(value) ?? {};
  row[measure] = (row[measure] ?? 0) + n;
  cells.set(value, row);
}

/** Keeps count of what the calls did, as they do it. */
export class TruthKeeper {
  readonly #n = {
    bookings: 0,
    referrals: 0,
    selections: 0,
    topBookableRejected: 0,
    slotUnavailable: 0,
    failedAttempts: 0,
    cancellations: 0,
    cancelledSameEncounter: 0,
    rebookings: 0,
    cancelledLater: 0,
  };
  readonly #notBooked: Record<NotBooked | 'all', number> = {
    all: 0,
    'no-search': 0,
    'no-slots': 0,
    'slots-offered': 0,
    'all-breach': 0,
  };
  readonly #dialects: Record<Dialect, number> = { stu3: 0, bars: 0, gpconnect: 0 };
  readonly #offered = new Set<string>();
  /** Per disposition, each slot offered: whether some search found it in time, whether every one late. */
  readonly #breach = new Map<string, Map<string, { within: boolean; beyond: boolean }>>();
  readonly #failed: Cells = new Map();
  readonly #byService: Cells = new Map();
  readonly #byDisposition: Cells = new Map();

  call(dialect: Dialect): void {
    this.#dialects[dialect] += 1;
  }

  referral(provider: string, service: string): void {
    this.#n.referrals += 1;
    add(this.#byService, `${provider}|${service}`, 'referrals');
  }

  selection(topBookableRejected: boolean): void {
    this.#n.selections += 1;
    if (topBookableRejected) this.#n.topBookableRejected += 1;
  }

  /** An answered search offered these slots to a call with this disposition and deadline. */
  offered(disposition: string, deadline: Date, slots: OfferedSlot[]): void {
    const perSlot = this.#breach.get(disposition) ?? new Map<string, { within: boolean; beyond: boolean }>();
    this.#breach.set(disposition, perSlot);
    for (const slot of slots) {
      this.#offered.add(slot.id);
      const late = Date.parse(slot.start) > deadline.getTime();
      const seen = perSlot.get(slot.id) ?? { within: false, beyond: true };
      perSlot.set(slot.id, { within: seen.within || !late, beyond: seen.beyond && late });
    }
  }

  booked(provider: string, service: string, disposition: string): void {
    this.#n.bookings += 1;
    add(this.#byService, `${provider}|${service}`, 'bookings');
    add(this.#byDisposition, disposition, 'bookings');
  }

  /** A booking attempt that failed, by its outcome (reports.md, terms: booking attempt). */
  failed(outcome: string): void {
    this.#n.failedAttempts += 1;
    if (outcome === 'slot_unavailable') this.#n.slotUnavailable += 1;
    add(this.#failed, outcome, 'failedAttempts');
  }

  /** An accepted cancellation: in the booking's call, in a later call, or as part of a re-booking. */
  cancelled(when: 'same-call' | 'later-call' | 'rebooking'): void {
    this.#n.cancellations += 1;
    if (when === 'same-call') this.#n.cancelledSameEncounter += 1;
    if (when === 'later-call') this.#n.cancelledLater += 1;
  }

  rebooked(): void {
    this.#n.rebookings += 1;
  }

  notBooked(how: NotBooked): void {
    this.#notBooked.all += 1;
    this.#notBooked[how] += 1;
    // Slots all beyond the deadline are slots offered too (rep-cons-12 is part of rep-cons-03).
    if (how === 'all-breach') this.#notBooked['slots-offered'] += 1;
  }

  /** The truth, per report id. */
  truth(calls: number, seed: number): GroundTruth {
    const n = this.#n;
    const nb = this.#notBooked;
    const slotsPer = (test: (s: { within: boolean; beyond: boolean }) => boolean) =>
      new Map([...this.#breach].map(([code, perSlot]) => [code, [...perSlot.values()].filter(test).length]));
    const within = slotsPer((s) => s.within);
    const beyond = slotsPer((s) => s.beyond);
    const sum = (per: Map<string, number>) => [...per.values()].reduce((a, b) => a + b, 0);
    const perDisposition = (measure: string, slots: Map<string, number>): Cells => {
      const cells: Cells = new Map();
      for (const [code, row] of this.#byDisposition) add(cells, code, 'bookings', row.bookings ?? 0);
      for (const [code, count] of slots) if (count > 0) add(cells, code, measure, count);
      return cells;
    };
    /** Every cell with each measure (0 when nothing counted in it), in order of value. */
    const rows = (cells: Cells, measures: string[]) =>
      Object.fromEntries(
        [...cells]
          .sort(([a], [b]) => (a < b ? -1 : 1))
          .map(([value, row]) => [value, Object.fromEntries(measures.map((m) => [m, row[m] ?? 0]))]),
      );
    return {
      calls,
      seed,
      dialects: { ...this.#dialects },
      counts: {
        'rep-prov-01': { bookings: n.bookings },
        'rep-cons-01': { bookings: n.bookings, referrals: n.referrals },
        // The same numbers in the provider's view, by provider and service: their totals add up to these.
        'rep-prov-02': { bookings: n.bookings, referrals: n.referrals },
        'rep-cons-05': { topBookableRejected: n.topBookableRejected, selections: n.selections },
        'rep-prov-03': { bookings: n.bookings, slotsOffered: this.#offered.size },
        'rep-prov-04': { referralsNotBooked: nb.all, referrals: n.referrals },
        'rep-cons-10': { bookings: n.bookings, slotsWithinDeadline: sum(within) },
        'rep-cons-11': { bookings: n.bookings, slotsBeyondDeadline: sum(beyond) },
        'rep-cons-02': { referralsNotBooked: nb['no-slots'], noSearch: nb['no-search'] },
        'rep-cons-03': { referralsNotBooked: nb['slots-offered'] },
        'rep-cons-12': { referralsNotBooked: nb['all-breach'] },
        'rep-cons-04': { slotUnavailable: n.slotUnavailable },
        'rep-cons-06': { failedAttempts: n.failedAttempts },
        'rep-cons-07': { cancelledSameEncounter: n.cancelledSameEncounter },
        'rep-cons-08': { rebookings: n.rebookings },
        'rep-cons-09': { cancelledLater: n.cancelledLater },
        'rep-prov-05': { cancellations: n.cancellations },
      },
      cells: {
        'rep-cons-06': { by: 'outcome', rows: rows(this.#failed, ['failedAttempts']) },
        'rep-prov-02': { by: 'provider,service', rows: rows(this.#byService, ['bookings', 'referrals']) },
        'rep-cons-10': {
          by: 'disposition',
          rows: rows(perDisposition('slotsWithinDeadline', within), ['bookings', 'slotsWithinDeadline']),
        },
        'rep-cons-11': {
          by: 'disposition',
          rows: rows(perDisposition('slotsBeyondDeadline', beyond), ['bookings', 'slotsBeyondDeadline']),
        },
      },
    };
  }
}
