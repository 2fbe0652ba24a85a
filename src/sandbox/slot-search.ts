import type { Dialect } from '../config/config.types.js';
import { fhirDatePeriod } from '../fhir/fhir-time.js';
import { failure } from './outcomes.js';
import type { SlotStatus } from './diary.js';

/** What a slot search asks for, whichever spelling the consumer used. */
export interface SlotSearch {
  serviceIds?: string[];
  /** Bounds on the slot's start (`start=`). */
  from?: Date;
  to?: Date;
  /** Upper bound on the slot's end (`end=le…`, GP Connect). */
  endTo?: Date;
  statuses: SlotStatus[];
  /** Normalised `_include` targets: `slot:schedule`, `schedule:actor:healthcareservice`, ... */
  includes: Set<string>;
}

/**
 * The service-id parameter in all its spellings (domain notes): `schedule.actor:healthcareservice`,
 * `Schedule.actor:HealthcareService`, `service`, and with `.` and `:` swapped.
 */
const SERVICE_KEYS = new Set([
  'schedule.actor:healthcareservice',
  'schedule:actor:healthcareservice',
  'schedule.actor.healthcareservice',
  'schedule.actor:healthcareservice.identifier',
  'service',
  'healthcareservice',
]);

/** `_include=Slot.schedule` and `_include=Slot:schedule` mean the same; so do their `:iterate` forms. */
export function normaliseInclude(value: string): string {
  return value.toLowerCase().replace(/\./g, ':');
}

/** The id in `HealthcareService/123`, `https://fhir.nhs.uk/Id/dos-service-id|123` or `123`. */
function idOf(value: string): string {
  return value.split(/[|/]/).pop()!.trim();
}

type Prefix = 'ge' | 'gt' | 'le' | 'lt' | 'eq';

/** A search date bound with its FHIR prefix, as the range of instants it admits. */
function parseBound(dialect: Dialect, name: string, raw: string): { from?: Date; to?: Date } {
  const match = /^(ge|gt|le|lt|eq)?(.+)$/.exec(raw.trim());
  const period = match ? fhirDatePeriod(match[2]!) : undefined;
  if (!match || !period) {
    throw failure(dialect, 'invalid-parameter', {
      diagnostics: `Search parameter ${name} has a value that is not a FHIR date: ${raw}`,
      expression: name,
    });
  }
  const last = new Date(period.end.getTime() - 1);
  switch ((match[1] as Prefix | undefined) ?? 'eq') {
    case 'ge':
      return { from: period.start };
    case 'gt':
      return { from: period.end };
    case 'le':
      return { to: last };
    case 'lt':
      return { to: new Date(period.start.getTime() - 1) };
    case 'eq':
      return { from: period.start, to: last };
  }
}

/**
 * Reads a slot search from its query parameters (or the parameters of a `$find-slots` call). Unknown
 * parameters are ignored, as lenient FHIR servers do; a malformed date is a 400 (GP Connect: 422)
 * naming the parameter. GP Connect insists on a window of at most 14 days.
 */
export function parseSlotSearch(dialect: Dialect, params: URLSearchParams): SlotSearch {
  const serviceIds: string[] = [];
  const statuses = new Set<SlotStatus>();
  const includes = new Set<string>();
  let from: Date | undefined;
  let to: Date | undefined;
  let endFrom: Date | undefined;
  let endTo: Date | undefined;
  for (const [rawKey, value] of params) {
    const key = rawKey.toLowerCase();
    if (SERVICE_KEYS.has(key)) {
      serviceIds.push(...value.split(',').map(idOf).filter(Boolean));
    } else if (key === 'start') {
      const bound = parseBound(dialect, rawKey, value);
      from = bound.from ?? from;
      to = bound.to ?? to;
    } else if (key === 'end') {
      const bound = parseBound(dialect, rawKey, value);
      endFrom = bound.from ?? endFrom;
      endTo = bound.to ?? endTo;
    } else if (key === 'status') {
      for (const s of value.split(',')) {
        if (
          s !== 'free' &&
          s !== 'busy' &&
          s !== 'busy-unavailable' &&
          s !== 'busy-tentative' &&
          s !== 'entered-in-error'
        ) {
          throw failure(dialect, 'invalid-parameter', {
            diagnostics: `status ${s} is not a Slot status`,
            expression: 'status',
          });
        }
        if (s === 'free' || s === 'busy') statuses.add(s);
      }
    } else if (key.startsWith('_include')) {
      includes.add(normaliseInclude(value));
    }
  }
  // A lower bound on the end is a lower bound on the start one slot earlier; slots are under a day long.
  if (endFrom && !from) from = new Date(endFrom.getTime() - 86_400_000);
  if (dialect === 'gpconnect') {
    const upper = endTo ?? to;
    if (!from || !upper) {
      throw failure(dialect, 'invalid-parameter', {
        diagnostics: 'GP Connect slot searches need both start=ge and end=le',
        expression: from ? 'end' : 'start',
      });
    }
    if (upper.getTime() - from.getTime() > 14 * 86_400_000) {
      throw failure(dialect, 'invalid-parameter', {
        diagnostics: 'The search window is longer than 14 days',
        expression: 'end',
      });
    }
  }
  return {
    ...(serviceIds.length > 0 ? { serviceIds } : {}),
    ...(from ? { from } : {}),
    ...(to ? { to } : {}),
    ...(endTo ? { endTo } : {}),
    statuses: statuses.size > 0 ? [...statuses] : ['free', 'busy'],
    includes,
  };
}
