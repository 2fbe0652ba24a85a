import { sql, type RawBuilder } from 'kysely';

/*
 * Every measure of every report (../shared/domain/reports.md) as the rows that make it: one row per
 * contributing event (or per slot an event offered), with the event's id, time, dimensions and data-
 * quality flags, and the key it is counted by. A report's numbers are counts over these rows, grouped; a
 * cell's drill-down lists the events behind the same rows. One definition serves both, so every number
 * can be traced to its events.
 */

/** How a measure's rows are counted. */
export type Aggregate =
  /** Distinct keys. */
  | 'distinct'
  /** Distinct keys with at least one row flagged (a slot within the deadline of at least one search). */
  | 'distinct-any'
  /** Distinct keys with every row flagged (a slot beyond the deadline of every search). */
  | 'distinct-all';

export interface Measure {
  /** The measure's name in answers (reports.md: camelCase per report). */
  name: string;
  description: string;
  aggregate: Aggregate;
  /**
   * Whether each row is its own event counted once (the key is the event's id): then every event falls in
   * exactly one cell, and a total is the sum of the cells. Slots are not: one slot can be offered in two
   * months.
   */
  additive: boolean;
  /**
   * The rows, from `ev` (the period's current events, filtered) and `everything` (all current events,
   * for looking across an episode beyond the period): columns event_id, occurred_at, provider_id,
   * service_id, consumer_org, disposition, outcome, error_code, activity, practice, upstream_ms, data_quality,
   * episode_id, count_key, flag.
   */
  rows: RawBuilder<unknown>;
}

/** The kind of interaction (activity) each event type is, as the operational statistics count them. */
export const ACTIVITIES: Record<string, string> = {
  'slot.searched': 'slot-search',
  'booking.attempted': 'book',
  'booking.cancelled': 'cancel',
  'appointment.updated': 'update',
  'appointment.read': 'read-appointment',
  'appointments.listed': 'list-appointments',
  'referral.made': 'referral',
  'capability.read': 'capability',
};
const activity = sql`(case e.type ${sql.join(
  Object.entries(ACTIVITIES).map(([type, kind]) => sql`when ${sql.lit(type)} then ${sql.lit(kind)}`),
  sql` `,
)} end)`;

/** The common columns of a row made from an event `e`. */
const columns = (key: RawBuilder<unknown> = sql`e.id::text`, flag: RawBuilder<unknown> = sql`true`) => sql`
  e.id as event_id, e.occurred_at, e.provider_id, e.service_id, e.consumer_org, e.disposition,
  e.attributes->>'outcome' as outcome,
  coalesce(e.attributes->'detailCodes'->>0, e.attributes->'issueCodes'->>0) as error_code,
  ${activity} as activity, e.attributes->>'practice' as practice, (e.attributes->>'upstreamMs')::float8 as upstream_ms,
  e.data_quality, e.episode_id, ${key} as count_key, ${flag} as flag`;

const succeeded = sql`coalesce((e.attributes->>'succeeded')::boolean, false)`;

const bookingsWhere = sql`e.type = 'booking.attempted' and e.attributes->>'outcome' = 'booked'`;
const referralsWhere = sql`e.type = 'referral.made' and ${succeeded}`;
const acceptedCancellation = sql`e.type = 'booking.cancelled' and ${succeeded}`;

/*
 * What a referral's episode holds: read from the episode's own counts (kept by episode resolution) when
 * it has them, else looked up across the episode's events (an episode resolved before the counts were
 * kept). Both look at the whole episode, not only the period: its booking may come a minute after.
 */
const episodeCount = (name: string) => sql`(p.attributes->>${name})::int`;
const episodeBooked = sql`coalesce(${episodeCount('bookings')} > 0, exists (select 1 from everything b
  where b.episode_id = e.episode_id and b.type = 'booking.attempted' and b.attributes->>'outcome' = 'booked'))`;
/** Searches in the referral's episode (a failed one too: it presented no slot), and those that offered one. */
const episodeSearched = sql`coalesce(${episodeCount('searches')} > 0, exists (select 1 from everything s
  where s.episode_id = e.episode_id and s.type = 'slot.searched'))`;
const episodeOffered = sql`coalesce(${episodeCount('searchesOffering')} > 0, exists (select 1 from everything s
  where s.episode_id = e.episode_id and s.type = 'slot.searched' and coalesce((s.attributes->>'offered')::int, 0) > 0))`;
/** A slot the episode's searches offered that would not breach (or whose breach is not known). */
const episodeSlotInTime = sql`coalesce(${episodeCount('slotsInTime')} > 0, exists (select 1 from everything s
  cross join lateral jsonb_array_elements(coalesce(s.attributes->'slots', '[]'::jsonb)) slot
  where s.episode_id = e.episode_id and s.type = 'slot.searched'
    and coalesce((slot->>'wouldBreach')::boolean, false) = false))`;

/** Referrals whose episode has no booking (an unstitched referral has none it can know of). */
const notBooked = sql`${referralsWhere} and (e.episode_id is null or not ${episodeBooked})`;

const simple = (name: string, description: string, where: RawBuilder<unknown>): Measure => ({
  name,
  description,
  aggregate: 'distinct',
  additive: true,
  rows: sql`select ${columns()} from ev e left join episodes p on p.id = e.episode_id where ${where}`,
});

/** The free slots answered searches offered, one row per slot (`flag`: whether it would breach). */
const slotRows = (flag: RawBuilder<unknown>, extra: RawBuilder<unknown> = sql`true`) => sql`
  select ${columns(sql`slot->>'key'`, flag)}
  from ev e cross join lateral jsonb_array_elements(coalesce(e.attributes->'slots', '[]'::jsonb)) slot
  where e.type = 'slot.searched' and ${succeeded} and ${extra}`;

const activityEvent = sql`e.type in (${sql.join(Object.keys(ACTIVITIES).map((t) => sql.lit(t)))})`;
/** What a provider's answer was judged (conformance.ts): an exchange's first event carries it. */
const judged = sql`e.source_kind = 'exchange' and e.ordinal = 0 and e.attributes ? 'conformance'`;
const conformance = (path: string) => sql`e.attributes->'conformance'${sql.raw(path)}`;
const failedCheck = (check: string) =>
  sql`${judged} and (${conformance(`->'checks'->>'${check}'`)})::boolean = false`;
const errorClass = (name: string) => sql`${judged} and ${conformance(`->>'errorClass'`)} = ${sql.lit(name)}`;

export const MEASURES = {
  bookings: simple('bookings', 'booking attempts with outcome booked', bookingsWhere),
  referrals: simple(
    'referrals',
    'referrals made (accepted on the wire, or posted to the ingest API)',
    referralsWhere,
  ),
  slotsOffered: {
    name: 'slotsOffered',
    description: 'distinct free slots offered by answered searches',
    additive: false,
    aggregate: 'distinct',
    rows: slotRows(sql`true`),
  },
  slotsWithinDeadline: {
    name: 'slotsWithinDeadline',
    description:
      'distinct slots offered to searches with the disposition that were within the deadline of at least one such search',
    additive: false,
    aggregate: 'distinct-any',
    rows: slotRows(sql`(slot->>'wouldBreach')::boolean = false`, sql`slot->>'wouldBreach' is not null`),
  },
  slotsBeyondDeadline: {
    name: 'slotsBeyondDeadline',
    description:
      'distinct slots offered to searches with the disposition that were beyond the deadline of every such search',
    additive: false,
    aggregate: 'distinct-all',
    rows: slotRows(sql`(slot->>'wouldBreach')::boolean = true`, sql`slot->>'wouldBreach' is not null`),
  },
  referralsNotBooked: simple('referralsNotBooked', 'referrals whose episode has no booking', notBooked),
  referralsNotBookedNoSlots: simple(
    'referralsNotBooked',
    'referrals whose episode has no booking and whose searches all offered no free slot',
    sql`${notBooked} and ${episodeSearched} and not ${episodeOffered}`,
  ),
  noSearch: simple(
    'noSearch',
    'referrals whose episode has no booking and no search at all',
    sql`${notBooked} and (e.episode_id is null or not ${episodeSearched})`,
  ),
  referralsNotBookedSlotsOffered: simple(
    'referralsNotBooked',
    'referrals whose episode has no booking and at least one search offered a free slot',
    sql`${notBooked} and ${episodeOffered}`,
  ),
  referralsNotBookedAllBreach: simple(
    'referralsNotBooked',
    'referrals whose episode has no booking, where slots were offered and every one would breach',
    sql`${notBooked} and ${episodeOffered} and not ${episodeSlotInTime}`,
  ),
  slotUnavailable: simple(
    'slotUnavailable',
    'booking attempts with outcome slot_unavailable',
    sql`e.type = 'booking.attempted' and e.attributes->>'outcome' = 'slot_unavailable'`,
  ),
  topBookableRejected: simple(
    'topBookableRejected',
    'directory selections where the first-ranked service was bookable and another was chosen',
    sql`e.type = 'service.selected' and coalesce((e.attributes->>'topBookableRejected')::boolean, false)`,
  ),
  selections: simple('selections', 'directory selections (ingest API)', sql`e.type = 'service.selected'`),
  failedAttempts: simple(
    'failedAttempts',
    'booking attempts with any outcome other than booked',
    sql`e.type = 'booking.attempted' and e.attributes->>'outcome' <> 'booked'`,
  ),
  cancelledSameEncounter: simple(
    'cancelledSameEncounter',
    'accepted cancellations in the same encounter as their booking, not part of a re-booking',
    sql`${acceptedCancellation} and (e.attributes->>'sameEncounter')::boolean = true
        and not coalesce((e.attributes->>'partOfRebooking')::boolean, false)`,
  ),
  rebookings: simple(
    'rebookings',
    'bookings that replace an earlier booking in the same encounter',
    // A cancel-and-book pairing is made within one encounter; an explicit `replaces` counts when the
    // booking it replaces was made in the same encounter as the new one, or was cancelled in it (a
    // patient who calls back to re-book: a cancellation and a new booking in one encounter, as when
    // STU3 does it without `replaces`).
    sql`e.type = 'booking.rebooked' and (e.attributes->>'how' = 'cancel-and-book' or exists (
      select 1 from everything b cross join lateral jsonb_array_elements_text(coalesce(e.attributes->'replaces', '[]'::jsonb)) r
      where b.episode_id = e.episode_id and b.encounter_id = e.encounter_id
        and ((b.type = 'booking.attempted' and b.attributes->>'outcome' = 'booked')
          or (b.type = 'booking.cancelled' and coalesce((b.attributes->>'succeeded')::boolean, false)))
        and regexp_replace(r, '^(.*/)?Appointment/([^/]+).*$', '\\2') = b.attributes->>'appointmentId'))`,
  ),
  cancelledLater: simple(
    'cancelledLater',
    'accepted cancellations in a later encounter than their booking',
    sql`${acceptedCancellation} and (e.attributes->>'sameEncounter')::boolean = false`,
  ),
  cancellations: simple('cancellations', 'accepted cancellations', acceptedCancellation),
  servicesBooked: {
    name: 'servicesBooked',
    description: 'distinct services with at least one booking',
    aggregate: 'distinct',
    additive: false,
    rows: sql`select ${columns(sql`e.service_id`)} from ev e where ${bookingsWhere} and e.service_id is not null`,
  },
  servicesSearched: {
    name: 'servicesSearched',
    description: 'distinct services with at least one answered search',
    aggregate: 'distinct',
    additive: false,
    rows: sql`select ${columns(sql`e.service_id`)} from ev e
      where e.type = 'slot.searched' and ${succeeded} and e.service_id is not null`,
  },
  attempts: simple('attempts', 'events of each kind of interaction (activity)', activityEvent),
  successes: simple(
    'successes',
    'interactions that succeeded (a booking: booked; a referral: accepted)',
    sql`${activityEvent} and case when e.type = 'booking.attempted' then e.attributes->>'outcome' = 'booked'
      else ${succeeded} end`,
  ),
  exchanges: simple(
    'exchanges',
    'exchanges with a provider the collector judged (an interaction it knows)',
    judged,
  ),
  responses: simple(
    'responses',
    'exchanges the provider answered (not a timeout, reset or refusal)',
    sql`${judged} and ${conformance(`->>'conforms'`)} is not null`,
  ),
  conforming: simple(
    'conforming',
    'answers that pass every check of the standard that applies to them',
    sql`${judged} and (${conformance(`->>'conforms'`)})::boolean`,
  ),
  wrongStatus: simple(
    'wrongStatus',
    "answers whose status is not the standard's for the interaction (201 on an STU3 / GP Connect create, else 200; a 4xx or 5xx on failure)",
    failedCheck('status'),
  ),
  missingOperationOutcome: simple(
    'missingOperationOutcome',
    'error answers (4xx, 5xx) without an OperationOutcome',
    failedCheck('operationOutcome'),
  ),
  missingLocation: simple(
    'missingLocation',
    'creates answered 201 without a Location naming the Appointment',
    failedCheck('location'),
  ),
  instantsWithoutOffset: simple(
    'instantsWithoutOffset',
    'answers with a date-time that has no offset',
    failedCheck('instantOffsets'),
  ),
  notSearchset: simple(
    'notSearchset',
    'answered slot searches whose Bundle is not of type searchset',
    failedCheck('searchsetType'),
  ),
  clientErrors: simple('clientErrors', 'exchanges the provider answered with a 4xx', errorClass('client')),
  serverErrors: simple('serverErrors', 'exchanges the provider answered with a 5xx', errorClass('server')),
  transportErrors: simple(
    'transportErrors',
    'exchanges the provider never answered (timeout, reset, refused)',
    errorClass('transport'),
  ),
  errors: simple(
    'errors',
    'exchanges that failed: a 4xx or 5xx, or no answer',
    sql`${judged} and ${conformance(`->>'errorClass'`)} <> 'none'`,
  ),
} satisfies Record<string, Measure>;

export type MeasureId = keyof typeof MEASURES;

/** Free slots offered whose breach is not known (no deadline): in neither rep-cons-10 nor -11. */
export const SLOTS_BREACH_UNKNOWN = slotRows(sql`true`, sql`slot->>'wouldBreach' is null`);
