import { NHS_SYSTEMS, REMOVED, URL_KEYS } from './redact.js';
import { isDigit } from './json-text.js';

/*
 * The keys redaction rules look at, told apart from the text of a key without making a string of it.
 */

/** What a key means to redaction (flags, so the keys rules depend on can be tracked in one number). */
export const K = {
  Other: 0,
  GiveUp: 1,
  System: 2,
  Reference: 4,
  ResourceType: 8,
  Removed: 16,
  Name: 32,
  Display: 64,
  Id: 128,
  Value: 256,
  Diagnostics: 512,
  BirthDate: 1024,
  Url: 2048,
  Contained: 4096,
} as const;

export const NHS_SYSTEM_LIST = [...NHS_SYSTEMS];
export const PATIENT = ['Patient'];

/** Keys that decide a sibling's fate: one object may hold each only once. */
export const DECIDING = K.System | K.Reference | K.ResourceType | K.Display | K.Id | K.Value;

const KEYWORDS: [string, number][] = [
  ...[...REMOVED].filter((key) => key !== 'name').map((key): [string, number] => [key, K.Removed]),
  ...[...URL_KEYS].filter((key) => key !== 'reference').map((key): [string, number] => [key, K.Url]),
  ['name', K.Name],
  ['display', K.Display],
  ['id', K.Id],
  ['value', K.Value],
  ['system', K.System],
  ['reference', K.Reference],
  ['resourceType', K.ResourceType],
  ['diagnostics', K.Diagnostics],
  ['birthDate', K.BirthDate],
  ['deceasedDateTime', K.BirthDate],
  ['contained', K.Contained],
  // JSON.parse makes `__proto__` an own key, which a walk cannot copy faithfully: left to the reference.
  ['__proto__', K.GiveUp],
];

/** The keywords by length and first character, so most keys are told apart without a string made. */
const BY_SHAPE: ([string, number][] | null)[] = Array.from({ length: 32 << 7 }, () => null);
for (const [word, kind] of KEYWORDS)
  (BY_SHAPE[(word.length << 7) | word.charCodeAt(0)] ??= []).push([word, kind]);

/** The kind of the (unescaped) key text[start, end). Keys that look like array indices are left to the reference: objects order them first. */
export function keyKind(text: string, start: number, end: number): number {
  const first = text.charCodeAt(start);
  if (isDigit(first)) return K.GiveUp;
  const length = end - start;
  if (length > 31 || first > 127) return K.Other;
  const candidates = BY_SHAPE[(length << 7) | first];
  if (!candidates) return K.Other;
  for (let i = 0; i < candidates.length; i += 1) {
    const [word, kind] = candidates[i]!;
    if (text.startsWith(word, start)) return kind;
  }
  return K.Other;
}
