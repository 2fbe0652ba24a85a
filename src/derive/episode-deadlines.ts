import { deadlineOf, type DeadlineSource } from './dispositions.js';
import type { EpisodeEvent, EventResolution } from './episodes.js';
import type { DerivationTables } from './tables.js';
import { isObject } from '../fhir/json.js';

/*
 * The deadline a search or booking takes from its episode (reports.md, terms: deadline): the referral's,
 * else the search window's upper bound, and the flags that go with it.
 */

/** Flags a deadline decides: recomputed when the episode gives a search or booking its deadline. */
const DEADLINE_FLAGS = new Set(['deadline-inferred', 'disposition-unknown', 'bank-holidays-unknown']);

/** Events in the order they happened (then by id). */
export function byTime(a: EpisodeEvent, b: EpisodeEvent): number {
  const dt = a.occurred_at.getTime() - b.occurred_at.getTime();
  return dt !== 0 ? dt : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

export function str(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

/** The referral a search or booking answers: the last one made before it, else the first after. */
export function referralFor(event: EpisodeEvent, referrals: EpisodeEvent[]): EpisodeEvent | undefined {
  let before: EpisodeEvent | undefined;
  for (const r of referrals) if (byTime(r, event) <= 0) before = r;
  return before ?? referrals.find((r) => byTime(r, event) > 0);
}

export interface Inherited {
  disposition: string | null;
  deadline: Date | null;
  source: DeadlineSource | null;
  flags: string[];
}

/** The deadline a search or booking has: its referral's, else the search window's upper bound (inferred). */
export function inherited(
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
export function withDeadline(
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

export function windowTo(event: EpisodeEvent): string | null {
  const window = event.attributes.window;
  return isObject(window) ? str(window.to) : null;
}
