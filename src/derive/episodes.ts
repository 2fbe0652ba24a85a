import { referencedId } from './correlation-keys.js';
import { isObject } from '../fhir/json.js';
import { eventId } from './derive.js';
import { encounters } from './encounters.js';
import { byTime, inherited, referralFor, str, windowTo, withDeadline } from './episode-deadlines.js';
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
  /** Its own service, else the one the episode gives it (`attributes.serviceFrom` says whence). */
  service_id: string | null;
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

/** Of each source, the events of the newest rule version (older ones wait to be reprocessed away). */
function current(events: EpisodeEvent[]): EpisodeEvent[] {
  const newest = new Map<string, string>();
  for (const e of events) {
    const seen = newest.get(e.source_id);
    if (seen === undefined || e.rule_version > seen) newest.set(e.source_id, e.rule_version);
  }
  return events.filter((e) => newest.get(e.source_id) === e.rule_version);
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
      service_id: e.service_id,
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
  // Appointments an explicit re-booking replaces, each with the encounters the re-bookings came in:
  // a cancellation is part of one only in the same encounter (rep-cons-08).
  const replacedIn = new Map<string, Set<string | undefined>>();
  for (const e of events.filter((x) => x.type === 'booking.rebooked'))
    for (const r of Array.isArray(e.attributes.replaces) ? (e.attributes.replaces as unknown[]) : []) {
      const id = typeof r === 'string' ? referencedId(r) : null;
      if (!id) continue;
      const calls = replacedIn.get(id) ?? new Set<string | undefined>();
      calls.add(encounterOf.get(e.id));
      replacedIn.set(id, calls);
    }
  const replacedInCall = (appointment: string | null, call: string | undefined) =>
    appointment !== null && (replacedIn.get(appointment)?.has(call) ?? false);
  const explicit = new Set(events.filter((e) => e.type === 'booking.rebooked').map((e) => e.source_id));
  const paired = new Map<string, EpisodeEvent>();
  const taken = new Set<string>();
  for (const cancel of cancellations) {
    const appointment = str(cancel.attributes.appointmentId);
    const call = encounterOf.get(cancel.id);
    if (replacedInCall(appointment, call)) continue;
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
    const rebooking = paired.has(cancel.id) || replacedInCall(appointment, encounterOf.get(cancel.id));
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
  resolveServices(events, resolved, referrals, searches);
  const made: EpisodeEvent[] = [...paired].map(([cancelId, booking]) => {
    const cancel = cancellations.find((c) => c.id === cancelId)!;
    const fields = resolved.get(booking.id)!;
    return {
      ...booking,
      id: eventId(booking.source_id, EPISODE_ORDINAL),
      ordinal: EPISODE_ORDINAL,
      type: 'booking.rebooked',
      service_id: fields.service_id,
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
  // What the reports ask of an episode, kept on it: searches, those that offered a slot, and offered
  // slots that would not breach (or whose breach is unknown), as resolved above.
  const resolvedSearches = searches.map((search) => resolved.get(search.id)!.attributes);
  const offering = resolvedSearches.filter((a) => Number(a.offered ?? 0) > 0).length;
  const slotsInTime = resolvedSearches
    .flatMap((a) => (Array.isArray(a.slots) ? (a.slots as unknown[]) : []))
    .filter((slot) => isObject(slot) && slot.wouldBreach !== true).length;
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
        searches: searches.length,
        searchesOffering: offering,
        slotsInTime,
      },
    },
  };
}

/** Events of a booking journey at one service: they take the episode's service when they name none. */
const AT_A_SERVICE = new Set([
  'slot.searched',
  'booking.attempted',
  'booking.cancelled',
  'booking.rebooked',
  'appointment.read',
]);

/**
 * Services (reports.md: rep-prov-02 is by provider and service). STU3 and GP Connect bookings name no
 * service on the wire (only BaRS routes by one), nor do GP Connect searches: such an event takes the
 * service of the episode's referral to its provider (the last before it, else the first after), else
 * that of the last search before it at that provider that named one; `attributes.serviceFrom` says
 * which, so the next resolution tells the event's own service from one it was given.
 */
function resolveServices(
  events: EpisodeEvent[],
  resolved: Map<string, EventResolution>,
  referrals: EpisodeEvent[],
  searches: EpisodeEvent[],
): void {
  const own = (e: EpisodeEvent) => (e.attributes.serviceFrom === undefined ? e.service_id : null);
  for (const e of events) {
    if (!AT_A_SERVICE.has(e.type) || e.provider_id === null) continue;
    const fields = resolved.get(e.id)!;
    const { serviceFrom: _old, ...attributes } = fields.attributes;
    let service = own(e);
    let from: 'referral' | 'search' | null = null;
    if (service === null) {
      const atProvider = referrals.filter((r) => r.provider_id === e.provider_id && r.service_id !== null);
      const search = searches
        .filter((s) => s.provider_id === e.provider_id && own(s) !== null && byTime(s, e) < 0)
        .pop();
      const referral = referralFor(e, atProvider);
      if (referral) [service, from] = [referral.service_id, 'referral'];
      else if (search) [service, from] = [own(search), 'search'];
    }
    resolved.set(e.id, {
      ...fields,
      service_id: service,
      attributes: from ? { ...attributes, serviceFrom: from } : attributes,
    });
  }
}
