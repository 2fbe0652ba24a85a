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
   * service_id, consumer_org, disposition, outcome, error_code, data_quality, episode_id, count_key, flag.
   */
  rows: RawBuilder<unknown>;
}

/** The common columns of a row made from an event `e`. */
const columns = (key: RawBuilder<unknown> = sql`e.id::text`, flag: RawBuilder<unknown> = sql`true`) => sql`
  e.id as event_id, e.occurred_at, e.provider_id, e.service_id, e.consumer_org, e.disposition,
  e.attributes->>'outcome' as outcome,
  coalesce(e.attributes->'detailCodes'->>0, e.attributes->'issueCodes'->>0) as error_code,
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
    // booking it replaces was made in the same encounter as the new one.
    sql`e.type = 'booking.rebooked' and (e.attributes->>'how' = 'cancel-and-book' or exists (
      select 1 from everything b cross join lateral jsonb_array_elements_text(coalesce(e.attributes->'replaces', '[]'::jsonb)) r
      where b.episode_id = e.episode_id and b.encounter_id = e.encounter_id and b.type = 'booking.attempted'
        and b.attributes->>'outcome' = 'booked'
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
} satisfies Record<string, Measure>;

export type MeasureId = keyof typeof MEASURES;

/** Free slots offered whose breach is not known (no deadline): in neither rep-cons-10 nor -11. */
export const SLOTS_BREACH_UNKNOWN = slotRows(sql`true`, sql`slot->>'wouldBreach' is null`);
