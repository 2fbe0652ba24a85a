/**
 * FHIR instants as providers write them: with an explicit offset. UK providers (GP Connect notably) send
 * local time with the Europe/London offset of that moment, +00:00 in winter and +01:00 in summer.
 */

const offsetFormat = new Intl.DateTimeFormat('en-GB', {
  timeZone: 'Europe/London',
  timeZoneName: 'longOffset',
});

/** Minutes east of UTC in Europe/London at the given moment (0 or 60). */
export function londonOffsetMinutes(at: Date): number {
  const name = offsetFormat.formatToParts(at).find((p) => p.type === 'timeZoneName')?.value ?? 'GMT';
  const match = /GMT([+-])(\d{2}):(\d{2})/.exec(name);
  if (!match) return 0;
  const minutes = Number(match[2]) * 60 + Number(match[3]);
  return match[1] === '-' ? -minutes : minutes;
}

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

/** `2026-07-01T10:00:00+01:00`: the London wall-clock time with its offset; `millis` adds `.000`. */
export function londonInstant(at: Date, millis = false): string {
  const offset = londonOffsetMinutes(at);
  const local = new Date(at.getTime() + offset * 60_000);
  const sign = offset < 0 ? '-' : '+';
  const abs = Math.abs(offset);
  return (
    `${local.getUTCFullYear()}-${pad(local.getUTCMonth() + 1)}-${pad(local.getUTCDate())}` +
    `T${pad(local.getUTCHours())}:${pad(local.getUTCMinutes())}:${pad(local.getUTCSeconds())}` +
    (millis ? `.${pad(local.getUTCMilliseconds(), 3)}` : '') +
    `${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`
  );
}

/** The UTC instant of a London wall-clock time on a given calendar day (`day` at 00:00 UTC). */
export function londonWallClock(day: Date, hour: number, minute: number): Date {
  const guess = new Date(Date.UTC(day.getUTCFullYear(), day.getUTCMonth(), day.getUTCDate(), hour, minute));
  return new Date(guess.getTime() - londonOffsetMinutes(guess) * 60_000);
}

/** Whether year, month and day name a real calendar day (not 31 February). */
function realDay(year: number, month: number, day: number): boolean {
  const d = new Date(Date.UTC(year, month - 1, day));
  return d.getUTCFullYear() === year && d.getUTCMonth() === month - 1 && d.getUTCDate() === day;
}

/**
 * The period a FHIR search date value names: a bare date (`2026-11-22`) is that whole London day, an
 * instant (`2026-11-22T10:00:00+00:00`, `...Z`) is that moment. `end` is exclusive. Undefined when the
 * value is not a real date, or is an instant without an offset (FHIR requires one).
 */
export function fhirDatePeriod(value: string): { start: Date; end: Date } | undefined {
  const day = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (day) {
    const [y, m, d] = [Number(day[1]), Number(day[2]), Number(day[3])];
    if (!realDay(y, m, d)) return undefined;
    const date = new Date(Date.UTC(y, m - 1, d));
    return {
      start: londonWallClock(date, 0, 0),
      end: londonWallClock(new Date(date.getTime() + 86_400_000), 0, 0),
    };
  }
  // A '+' in an unencoded query string arrives decoded as a space.
  const normalised = value.replace(/ (\d{2}:\d{2})$/, '+$1');
  const instant = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.exec(
    normalised,
  );
  if (!instant) return undefined;
  const [y, m, d, h, min, sec] = [1, 2, 3, 4, 5, 6].map((i) => Number(instant[i] ?? 0)) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (!realDay(y, m, d) || h > 23 || min > 59 || sec > 59) return undefined;
  const at = new Date(normalised);
  return Number.isNaN(at.getTime()) ? undefined : { start: at, end: new Date(at.getTime() + 1) };
}

/** The moment a FHIR date value starts: an instant itself, or a bare date's London midnight. */
export function parseFhirDate(value: string): Date | undefined {
  return fhirDatePeriod(value)?.start;
}
