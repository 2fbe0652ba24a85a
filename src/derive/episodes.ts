import { isObject } from '../fhir/json.js';
import { isCallKey } from './correlation-keys.js';
import { eventId } from './derive.js';
import { deadlineOf, type DeadlineSource } from './dispositions.js';
import type { DerivationTables } from './tables.js';

/*
 * What an episode (one 111 case) says about its events that no single exchange can (reports.md, terms):
 * the encounters (calls) within it, the deadline a search or booking inherits from the episode's
 * referral, whether a booked slot breaches it, how long after its booking a cancellation came and in
 * which call, and re-bookings made of a cancellation and a new booking in one call. Pure: the same set
 * of events gives the same answer whatever order they arrived in.
 */

/** An event as the episode sees it (a stored event row, or one about to be). */
export interface EpisodeEvent {
  id: string;
  type: string;
  occurred_at: Date;
  source_kind: 'exchange' | 'ingest';
  source_id: string;
  ordinal: number;
  rule_version: string;
  provider_id: string | null;
  service_id: string | null;
  consumer_org: string | null;
  patient_hash: string | null;
  disposition: string | null;
  deadline: Date | null;
  deadline_source: string | null;
  correlation_keys: string[];
  attributes: Record<string, unknown>;
  data_quality: string[];
  encounter_id: string | null;
}

/** Fields of an event the episode decides. */
export interface EventResolution {
  encounter_id: string;
  disposition: string | null;
  deadline: Date | null;
  deadline_source: string | null;
  attributes: Record<string, unknown>;
  data_quality: string[];
}

export interface EpisodeResolution {
  /** Per event id (of those given, episode-made ones excepted): its resolved fields. */
  events: Map<string, EventResolution>;
  /** Events the episode makes (re-bookings of a cancellation and a booking in one call), complete. */
  made: EpisodeEvent[];
  episode: {
    opened_at: Date;
    last_activity_at: Date;
    patient_hash: string | null;
    disposition: string | null;
    deadline: Date | null;
    deadline_source: string | null;
    attributes: Record<string, unknown>;
  };
}

export interface EpisodeRules {
  /** Interactions for the same patient without a call key this close form one encounter (default 60 min). */
  encounterWindowMs: number;
}

/** Ordinals from here on are events an episode makes from its exchanges' events (not derived from one alone). */
export const EPISODE_ORDINAL = 100;

/** Flags a deadline decides: recomputed when the episode gives a search or booking its deadline. */
const DEADLINE_FLAGS = new Set(['deadline-inferred', 'disposition-unknown', 'bank-holidays-unknown']);

function byTime(a: EpisodeEvent, b: EpisodeEvent): number {
  const dt = a.occurred_at.getTime() - b.occurred_at.getTime();
  return dt !== 0 ? dt : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

function str(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

/** Union-find over indexes. */
class Groups {
  readonly #parent: number[];
  constructor(size: number) {
    this.#parent = Array.from({ length: size }, (_, i) => i);
  }
  find(i: number): number {
    while (this.#parent[i] !== i) {
      this.#parent[i] = this.#parent[this.#parent[i]!]!;
      i = this.#parent[i]!;
    }
    return i;
  }
  union(a: number, b: number): void {
    const ra = this.find(a);
    const rb = this.find(b);
    // The earlier event is the root, so a group is named after its first event.
    if (ra !== rb) this.#parent[Math.max(ra, rb)] = Math.min(ra, rb);
  }
}

/**
 * Encounters (reports.md): events sharing a call key are one call; an event without a call key joins
 * the call of the nearest event for the same patient within the window. Each encounter is named by the
 * id of its first event. `events` must be in time order.
 */
export function encounters(events: EpisodeEvent[], windowMs: number): string[] {
  const groups = new Groups(events.length);
  const byKey = new Map<string, number>();
  events.forEach((event, i) => {
    for (const key of event.correlation_keys) {
      if (!isCallKey(key)) continue;
      const first = byKey.get(key);
      if (first === undefined) byKey.set(key, i);
      else groups.union(first, i);
    }
  });
  // The same patient's events, in time order: the nearest to any of them is next to it in this list.
  const byPatient = new Map<string, number[]>();
  events.forEach((event, i) => {
    if (event.patient_hash)
      (
        byPatient.get(event.patient_hash) ?? byPatient.set(event.patient_hash, []).get(event.patient_hash)!
      ).push(i);
  });
  for (const list of byPatient.values())
    list.forEach((i, at) => {
      if (events[i]!.correlation_keys.some(isCallKey)) return;
      const t = events[i]!.occurred_at.getTime();
      const gap = (j: number | undefined) =>
        j === undefined ? Infinity : Math.abs(events[j]!.occurred_at.getTime() - t);
      const before = list[at - 1];
      const after = list[at + 1];
      // The nearer neighbour; on a tie, the earlier one.
      const nearest = gap(before) <= gap(after) ? before : after;
      if (nearest !== undefined && gap(nearest) <= windowMs) groups.union(i, nearest);
    });
  return events.map((_, i) => events[groups.find(i)]!.id);
}

/** Of each source, the events of the newest rule version (older ones wait to be reprocessed away). */
function current(events: EpisodeEvent[]): EpisodeEvent[] {
  const newest = new Map<string, string>();
  for (const e of events) {
    const seen = newest.get(e.source_id);
    if (seen === undefined || e.rule_version > seen) newest.set(e.source_id, e.rule_version);
  }
  return events.filter((e) => newest.get(e.source_id) === e.rule_version);
}

/** The referral a search or booking answers: the last one made before it, else the first after. */
function referralFor(event: EpisodeEvent, referrals: EpisodeEvent[]): EpisodeEvent | undefined {
  let before: EpisodeEvent | undefined;
  for (const r of referrals) if (byTime(r, event) <= 0) before = r;
  return before ?? referrals.find((r) => byTime(r, event) > 0);
}

interface Inherited {
  disposition: string | null;
  deadline: Date | null;
  source: DeadlineSource | null;
  flags: string[];
}

/** The deadline a search or booking has: its referral's, else the search window's upper bound (inferred). */
function inherited(
  referral: EpisodeEvent | undefined,
  windowTo: string | null,
  tables: DerivationTables,
): Inherited {
  const fromReferral = referral?.deadline ? referral : undefined;
  if (fromReferral)
    return {
      disposition: fromReferral.disposition,
      deadline: fromReferral.deadline,
      source: fromReferral.deadline_source as DeadlineSource,
      flags: fromReferral.data_quality.filter((f) => DEADLINE_FLAGS.has(f)),
    };
  const own = deadlineOf(
    { disposition: referral?.disposition ?? null, windowTo: windowTo ? new Date(windowTo) : null },
    tables.dispositions,
    tables.bankHolidays,
  );
  return {
    disposition: referral?.disposition ?? null,
    deadline: own.deadline,
    source: own.source,
    flags: own.flags,
  };
}

function withFlags(flags: string[], deadlineFlags: string[]): string[] {
  return [...new Set([...flags.filter((f) => !DEADLINE_FLAGS.has(f)), ...deadlineFlags])];
}

/** A search's or booking's resolution with the deadline it inherits (and the flags that go with it). */
function withDeadline(
  current: EventResolution,
  event: EpisodeEvent,
  deadline: Inherited,
  attributes: Record<string, unknown>,
): EventResolution {
  return {
    ...current,
    disposition: deadline.disposition,
    deadline: deadline.deadline,
    deadline_source: deadline.source,
    data_quality: withFlags(event.data_quality, deadline.flags),
    attributes,
  };
}

function windowTo(event: EpisodeEvent): string | null {
  const window = event.attributes.window;
  return isObject(window) ? str(window.to) : null;
}

/**
 * Resolves one episode: `events` are all its events (any order, any rule version; events it made
 * earlier are ignored and made afresh).
 */
export function resolveEpisode(
  given: EpisodeEvent[],
  tables: DerivationTables,
  rules: EpisodeRules,
): EpisodeResolution {
  const events = current(given.filter((e) => e.ordinal < EPISODE_ORDINAL)).sort(byTime);
  const encounterOf = new Map<string, string>();
  encounters(events, rules.encounterWindowMs).forEach((encounter, i) =>
    encounterOf.set(events[i]!.id, encounter),
  );
  const resolved = new Map<string, EventResolution>();
  for (const e of events)
    resolved.set(e.id, {
      encounter_id: encounterOf.get(e.id)!,
      disposition: e.disposition,
      deadline: e.deadline,
      deadline_source: e.deadline_source,
      attributes: e.attributes,
      data_quality: e.data_quality,
    });
  const referrals = events.filter((e) => e.type === 'referral.made');

  // Searches: the referral's deadline, and each slot offered marked against it.
  const searches = events.filter((e) => e.type === 'slot.searched');
  for (const search of searches) {
    const deadline = inherited(referralFor(search, referrals), windowTo(search), tables);
    const limit = deadline.deadline?.toISOString();
    const slots = Array.isArray(search.attributes.slots) ? (search.attributes.slots as unknown[]) : [];
    resolved.set(
      search.id,
      withDeadline(resolved.get(search.id)!, search, deadline, {
        ...search.attributes,
        slots: slots.map((slot) => {
          if (!isObject(slot)) return slot;
          const { wouldBreach: _old, ...rest } = slot;
          return limit && typeof slot.start === 'string'
            ? { ...rest, wouldBreach: slot.start > limit }
            : rest;
        }),
      }),
    );
  }

  // Bookings: the referral's deadline, else the window of the last search before it at that provider.
  const bookings = events.filter((e) => e.type === 'booking.attempted');
  for (const booking of bookings) {
    const lastSearch = searches
      .filter((s) => s.provider_id === booking.provider_id && byTime(s, booking) < 0)
      .pop();
    const deadline = inherited(
      referralFor(booking, referrals),
      lastSearch ? windowTo(lastSearch) : null,
      tables,
    );
    const start = str(booking.attributes.slotStart);
    const { wouldBreach: _old, ...attributes } = booking.attributes;
    resolved.set(
      booking.id,
      withDeadline(
        resolved.get(booking.id)!,
        booking,
        deadline,
        start && deadline.deadline
          ? { ...attributes, wouldBreach: start > deadline.deadline.toISOString() }
          : attributes,
      ),
    );
  }

  // Cancellations: the booking they undo (same provider and appointment), how long after it, in which call.
  const booked = bookings.filter((b) => b.attributes.outcome === 'booked' && str(b.attributes.appointmentId));
  // Only cancellations the provider accepted (a refused one, 409 or 412, cancelled nothing).
  const cancellations = events.filter(
    (e) => e.type === 'booking.cancelled' && e.attributes.succeeded === true,
  );
  const bookingOf = new Map<string, EpisodeEvent | undefined>();
  for (const cancel of cancellations) {
    const appointment = str(cancel.attributes.appointmentId);
    const booking = booked
      .filter(
        (b) =>
          b.provider_id === cancel.provider_id &&
          b.attributes.appointmentId === appointment &&
          byTime(b, cancel) < 0,
      )
      .pop();
    bookingOf.set(cancel.id, booking);
  }

  // Re-bookings: an Appointment saying which one it replaces (derived with the booking), or a
  // cancellation and a new booking in one call, in either order, paired nearest first.
  const replaced = new Set(
    events
      .filter((e) => e.type === 'booking.rebooked')
      .flatMap((e) => (Array.isArray(e.attributes.replaces) ? (e.attributes.replaces as unknown[]) : []))
      .map((r) => String(r).split('/').pop()),
  );
  const explicit = new Set(events.filter((e) => e.type === 'booking.rebooked').map((e) => e.source_id));
  const paired = new Map<string, EpisodeEvent>();
  const taken = new Set<string>();
  for (const cancel of cancellations) {
    const appointment = str(cancel.attributes.appointmentId);
    if (appointment && replaced.has(appointment)) continue;
    const call = encounterOf.get(cancel.id);
    let best: EpisodeEvent | undefined;
    for (const b of booked) {
      if (taken.has(b.id) || explicit.has(b.source_id) || encounterOf.get(b.id) !== call) continue;
      if (b.attributes.appointmentId === appointment) continue; // the booking it cancels
      const distance = Math.abs(b.occurred_at.getTime() - cancel.occurred_at.getTime());
      if (!best || distance < Math.abs(best.occurred_at.getTime() - cancel.occurred_at.getTime())) best = b;
    }
    if (best) {
      paired.set(cancel.id, best);
      taken.add(best.id);
    }
  }
  for (const cancel of cancellations) {
    const booking = bookingOf.get(cancel.id);
    const appointment = str(cancel.attributes.appointmentId);
    const rebooking = paired.has(cancel.id) || (appointment !== null && replaced.has(appointment));
    resolved.set(cancel.id, {
      ...resolved.get(cancel.id)!,
      attributes: {
        ...cancel.attributes,
        bookedAt: booking ? booking.occurred_at.toISOString() : null,
        sinceBookingSeconds: booking
          ? Math.round((cancel.occurred_at.getTime() - booking.occurred_at.getTime()) / 1000)
          : null,
        // Whether it came in the call that booked it (rep-cons-07) or a later one (rep-cons-09).
        sameEncounter: booking ? encounterOf.get(booking.id) === encounterOf.get(cancel.id) : null,
        partOfRebooking: rebooking,
      },
    });
  }
  const made: EpisodeEvent[] = [...paired].map(([cancelId, booking]) => {
    const cancel = cancellations.find((c) => c.id === cancelId)!;
    const fields = resolved.get(booking.id)!;
    return {
      ...booking,
      id: eventId(booking.source_id, EPISODE_ORDINAL),
      ordinal: EPISODE_ORDINAL,
      type: 'booking.rebooked',
      disposition: fields.disposition,
      deadline: fields.deadline,
      deadline_source: fields.deadline_source,
      encounter_id: fields.encounter_id,
      data_quality: fields.data_quality,
      attributes: {
        appointmentId: booking.attributes.appointmentId,
        replaces: [cancel.attributes.appointmentId ?? null],
        how: 'cancel-and-book',
        cancellation: cancel.id,
      },
    };
  });

  const first = events[0];
  const latestReferral = referrals[referrals.length - 1];
  return {
    events: resolved,
    made,
    episode: {
      opened_at: first?.occurred_at ?? new Date(0),
      last_activity_at: events[events.length - 1]?.occurred_at ?? new Date(0),
      patient_hash: events.find((e) => e.patient_hash)?.patient_hash ?? null,
      disposition: latestReferral?.disposition ?? null,
      deadline: latestReferral?.deadline ?? null,
      deadline_source: latestReferral?.deadline_source ?? null,
      attributes: {
        events: events.length,
        encounters: new Set(encounterOf.values()).size,
        referrals: referrals.length,
        bookings: booked.length,
        cancellations: cancellations.length,
        rebookings: made.length + explicit.size,
      },
    },
  };
}
