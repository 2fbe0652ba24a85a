import { isObject } from '../fhir/json.js';
import { fhirDatePeriod } from '../fhir/fhir-time.js';

/** A free slot a search offered. */
export interface OfferedSlot {
  /** Distinct slot: provider + Slot id, else identifier, else schedule + start (reports.md, terms). */
  key: string;
  /** Its start, as an ISO instant in UTC. */
  start: string;
  /** Whether it starts after the search's deadline; absent while no deadline is known. */
  wouldBreach?: boolean;
}

const INSTANT =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:Z|([+-])(\d{2}):(\d{2}))$/;

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function daysInMonth(year: number, month: number): number {
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1]!;
}

const twoDigits = (n: number): string => (n < 10 ? `0${n}` : `${n}`);

/**
 * A Slot's start as an ISO instant in UTC (`Date#toISOString`'s form), or undefined when it is not a
 * real moment. An instant with seconds and an offset is read by one expression and written from its
 * own digits (a searchset has hundreds, and `toISOString` cost more than all the rest of reading a
 * slot); one whose offset carries it into another day goes through Date, and anything else FHIR allows
 * the general way.
 */
export function slotStart(value: string): string | undefined {
  const m = INSTANT.exec(value);
  if (!m) return fhirDatePeriod(value)?.start.toISOString();
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  const hour = Number(m[4]);
  const minute = Number(m[5]);
  // Not a real moment (30 February, 25 o'clock, an offset of +24:00): refused as the general reader
  // would; nor a year before 100, which Date would read as 19xx.
  if (
    year < 100 ||
    month < 1 ||
    month > 12 ||
    day < 1 ||
    day > daysInMonth(year, month) ||
    hour > 23 ||
    minute > 59 ||
    Number(m[6]) > 59 ||
    (m[8] !== undefined && (Number(m[9]) > 23 || Number(m[10]) > 59))
  )
    return undefined;
  const millis = m[7] ? m[7].slice(0, 3).padEnd(3, '0') : '000';
  const offset = m[8] ? (m[8] === '-' ? -1 : 1) * (Number(m[9]) * 60 + Number(m[10])) : 0;
  const utcMinutes = hour * 60 + minute - offset;
  if (utcMinutes >= 0 && utcMinutes < 24 * 60)
    return `${m[1]}-${m[2]}-${m[3]}T${twoDigits(Math.floor(utcMinutes / 60))}:${twoDigits(utcMinutes % 60)}:${m[6]}.${millis}Z`;
  const local = Date.UTC(year, month - 1, day, hour, minute, Number(m[6]), Number(millis));
  return new Date(local - offset * 60_000).toISOString();
}

/** What a slot search response offered, and what the search asked for. */
export interface SlotSearchFacts {
  slots: OfferedSlot[];
  earliestStart: string | null;
  /** The window the search asked for: its lower and upper bounds, as ISO instants (UTC). */
  window: { from: string | null; to: string | null };
  /** The service searched, as the query named it. */
  service: string | null;
  /** No free slot offered. */
  empty: boolean;
  /** A searchset carrying an OperationOutcome entry (a 200 that explains itself), its codes and text. */
  outcome: { issueCodes: string[]; diagnostics?: string } | null;
  /** Slots left out because their start was missing or not a date. */
  unreadableSlots: number;
}

function params(query: string | null | undefined): [string, string][] {
  if (!query) return [];
  return query.split('&').flatMap((pair) => {
    const eq = pair.indexOf('=');
    if (eq < 0) return [];
    const decode = (s: string) => {
      try {
        return decodeURIComponent(s.replace(/\+/g, ' '));
      } catch {
        return s;
      }
    };
    return [[decode(pair.slice(0, eq)), decode(pair.slice(eq + 1))] as [string, string]];
  });
}

const SERVICE_PARAMS = new Set([
  'schedule.actor:healthcareservice',
  'service',
  'healthcareservice',
  'schedule.actor',
]);

/** The window a search asked for, from `start=ge…`/`gt…` and `start=le…`/`lt…` (and GP Connect's `end=le…`). */
function searchWindow(query: string | null | undefined): SlotSearchFacts['window'] {
  let from: Date | null = null;
  let to: Date | null = null;
  for (const [name, raw] of params(query)) {
    const key = name.toLowerCase();
    if (key !== 'start' && key !== 'end') continue;
    const match = /^(ge|gt|le|lt|eq)?(.+)$/.exec(raw.trim());
    if (!match) continue;
    const period = fhirDatePeriod(match[2]!);
    if (!period) continue;
    const prefix = match[1] ?? 'eq';
    if (key === 'start' && (prefix === 'ge' || prefix === 'gt' || prefix === 'eq')) {
      const bound = prefix === 'gt' ? period.end : period.start;
      if (!from || bound > from) from = bound;
    }
    if (prefix === 'le' || prefix === 'lt' || (key === 'start' && prefix === 'eq')) {
      // `le` takes in the whole period named; the bound is its last moment.
      const bound = prefix === 'lt' ? period.start : new Date(period.end.getTime() - 1);
      if (!to || bound < to) to = bound;
    }
  }
  return { from: from?.toISOString() ?? null, to: to?.toISOString() ?? null };
}

function searchedService(query: string | null | undefined): string | null {
  for (const [name, value] of params(query)) {
    if (!SERVICE_PARAMS.has(name.toLowerCase())) continue;
    // A bare id, `HealthcareService/id` or `system|id`.
    return value.replace(/^.*[|/]/, '') || null;
  }
  return null;
}

function slotKey(provider: string, slot: Record<string, unknown>, start: string): string {
  if (typeof slot.id === 'string' && slot.id !== '') return `${provider}|Slot/${slot.id}`;
  const identifiers = Array.isArray(slot.identifier) ? (slot.identifier as unknown[]) : [];
  for (const identifier of identifiers)
    if (isObject(identifier) && typeof identifier.value === 'string')
      return `${provider}|${typeof identifier.system === 'string' ? identifier.system : ''}|${identifier.value}`;
  const schedule =
    isObject(slot.schedule) && typeof slot.schedule.reference === 'string' ? slot.schedule.reference : '';
  return `${provider}|${schedule}|${start}`;
}

/**
 * The facts of one slot search: the free slots offered (each with its key and start, once each), the
 * earliest start, the window and service asked for, whether it came back empty, and an OperationOutcome
 * entry when the searchset carries one. Pure; tolerant of any JSON.
 */
export function slotSearchFacts(input: {
  provider: string;
  query?: string | null;
  body: unknown;
}): SlotSearchFacts {
  const slots = new Map<string, OfferedSlot>();
  let unreadableSlots = 0;
  let outcome: SlotSearchFacts['outcome'] = null;
  const entries =
    isObject(input.body) && Array.isArray(input.body.entry) ? (input.body.entry as unknown[]) : [];
  for (const entry of entries) {
    if (!isObject(entry) || !isObject(entry.resource)) continue;
    const resource = entry.resource;
    if (resource.resourceType === 'OperationOutcome') {
      const issues = Array.isArray(resource.issue) ? (resource.issue as unknown[]).filter(isObject) : [];
      const diagnostics = issues.flatMap((i) => (typeof i.diagnostics === 'string' ? [i.diagnostics] : []));
      outcome = {
        issueCodes: issues.flatMap((i) => (typeof i.code === 'string' ? [i.code] : [])),
        ...(diagnostics.length > 0 ? { diagnostics: diagnostics.join('; ') } : {}),
      };
      continue;
    }
    if (resource.resourceType !== 'Slot' || resource.status !== 'free') continue;
    const iso = typeof resource.start === 'string' ? slotStart(resource.start) : undefined;
    if (!iso) {
      unreadableSlots += 1;
      continue;
    }
    const key = slotKey(input.provider, resource, iso);
    if (!slots.has(key)) slots.set(key, { key, start: iso });
  }
  const offered = [...slots.values()];
  // Usually already in order of start: sorted only when not.
  if (offered.some((slot, i) => i > 0 && slot.start < offered[i - 1]!.start))
    offered.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  return {
    slots: offered,
    earliestStart: offered[0]?.start ?? null,
    window: searchWindow(input.query),
    service: searchedService(input.query),
    empty: offered.length === 0,
    outcome,
    unreadableSlots,
  };
}

/** The slots marked against a deadline: a slot would breach when it starts after it. */
export function withBreach(facts: SlotSearchFacts, deadline: Date | null): SlotSearchFacts {
  if (!deadline) return facts;
  // Starts are ISO instants in UTC with milliseconds, as the deadline's: they compare as strings.
  const limit = deadline.toISOString();
  return { ...facts, slots: facts.slots.map((slot) => ({ ...slot, wouldBreach: slot.start > limit })) };
}
