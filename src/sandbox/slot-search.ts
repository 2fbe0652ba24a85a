import type { Dialect } from '../config/config.types.js';
import { parseFhirDate } from './fhir-time.js';
import { failure } from './outcomes.js';
import type { SlotStatus } from './diary.js';

/** What a slot search asks for, whichever spelling the consumer used. */
export interface SlotSearch {
  serviceIds?: string[];
  from?: Date;
  to?: Date;
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

interface DateBound {
  prefix: 'ge' | 'gt' | 'le' | 'lt' | 'eq';
  at: Date;
}

function parseBound(dialect: Dialect, name: string, raw: string): DateBound {
  const match = /^(ge|gt|le|lt|eq)?(.+)$/.exec(raw.trim())!;
  const at = parseFhirDate(match[2]!);
  if (!at) {
    throw failure(dialect, dialect === 'gpconnect' ? 'unprocessable' : 'invalid', {
      diagnostics: `Search parameter ${name} has a value that is not a FHIR date: ${raw}`,
      expression: name,
    });
  }
  return { prefix: (match[1] as DateBound['prefix'] | undefined) ?? 'eq', at };
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
  for (const [rawKey, value] of params) {
    const key = rawKey.toLowerCase();
    if (SERVICE_KEYS.has(key)) {
      serviceIds.push(...value.split(',').map(idOf).filter(Boolean));
    } else if (key === 'start' || key === 'end') {
      const bound = parseBound(dialect, rawKey, value);
      if (bound.prefix === 'ge' || bound.prefix === 'gt') from = bound.at;
      else if (bound.prefix === 'le' || bound.prefix === 'lt') to = bound.at;
      else {
        from = bound.at;
        to = new Date(bound.at.getTime() + 86_400_000 - 1);
      }
    } else if (key === 'status') {
      for (const s of value.split(',')) {
        if (s === 'free' || s === 'busy') statuses.add(s);
      }
    } else if (key.startsWith('_include')) {
      includes.add(normaliseInclude(value));
    }
  }
  if (dialect === 'gpconnect') {
    if (!from || !to) {
      throw failure(dialect, 'unprocessable', {
        diagnostics: 'GP Connect slot searches need both a start (ge) and an end (le) bound',
        expression: from ? 'end' : 'start',
      });
    }
    if (to.getTime() - from.getTime() > 14 * 86_400_000) {
      throw failure(dialect, 'unprocessable', {
        diagnostics: 'The search window is longer than 14 days',
        expression: 'end',
      });
    }
  }
  return {
    ...(serviceIds.length > 0 ? { serviceIds } : {}),
    ...(from ? { from } : {}),
    ...(to ? { to } : {}),
    statuses: statuses.size > 0 ? [...statuses] : ['free', 'busy'],
    includes,
  };
}
