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

/**
 * Parses a FHIR search date value (`2026-11-22`, `2026-11-22T10:00:00+00:00`, `...Z`) to the moment it
 * names; a bare date means its London midnight. Undefined when it is not a date.
 */
export function parseFhirDate(value: string): Date | undefined {
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) {
    return londonWallClock(new Date(`${value}T00:00:00Z`), 0, 0);
  }
  // FHIR instants need an offset; a '+' decoded from an unencoded query arrives as a space.
  const normalised = value.replace(/ (\d{2}:\d{2})$/, '+$1');
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(normalised))
    return undefined;
  const parsed = new Date(normalised);
  return Number.isNaN(parsed.getTime()) ? undefined : parsed;
}
