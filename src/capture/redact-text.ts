import { isValidNhsNumber } from '../fhir/nhs-number.js';
import {
  CLOSE_ARRAY,
  CLOSE_OBJECT,
  COLON,
  COMMA,
  GIVE_UP,
  isDigit,
  JsonTextReader,
  OPEN_ARRAY,
  OPEN_OBJECT,
  QUOTE,
} from './json-text.js';
import { HASH_PREFIX, NHS_SYSTEMS, redactUrl, type Redacted, type RedactionRules } from './redact.js';
import { DECIDING, K, keyKind, NHS_SYSTEM_LIST, PATIENT } from './redaction-keys.js';

/** A member of an object kept, replaced by new text, or removed. */
type Fate = null | string | false;

/**
 * Redaction straight over JSON text, by the same rules as `redactFhir` (which stays the reference and
 * the fallback): one validating pass that copies every value needing no change as its original text
 * and rebuilds only the objects and arrays on the way to a change. A slot searchset is mostly
 * unchanged text, so this costs a fraction of parse, walk and stringify, and keeps numbers and
 * formatting exactly as sent.
 *
 * Returns `undefined` whenever the text is anything but plain, valid JSON it can judge with
 * certainty: invalid JSON, escaped or numeric keys, `__proto__`, a key repeated within an object,
 * a non-string `display`/`id`/`value`, nesting deep enough to exhaust the stack. The caller then
 * uses `redactFhir` (whose JSON.parse is the judge of validity). A test holds the two to the same
 * result over the fixtures and generated documents.
 */
export function redactJsonText(text: string, rules: RedactionRules): Redacted<string> | undefined {
  try {
    return new TextRedactor(text, rules).run();
  } catch (error) {
    if (error === GIVE_UP || error instanceof RangeError) return undefined;
    throw error;
  }
}

class TextRedactor extends JsonTextReader {
  #nextQuery = -1;
  #nextPatient = -1;
  /** Member spans of the objects being read: key start, value start, value end (a shared stack). */
  readonly #spans: number[] = [];
  /** Where each member's key ends (after its closing quote). */
  readonly #keyEnds: number[] = [];
  readonly #fates: Fate[] = [];
  /** Members on the stack (each has three spans and a fate). */
  #members = 0;
  /** Patient hashes with the position they were found at: sorted, they come in the reference's order. */
  readonly #hashes: [number, string][] = [];

  constructor(
    text: string,
    private readonly rules: RedactionRules,
  ) {
    super(text);
  }

  run(): Redacted<string> {
    this.space();
    const out = this.#value(false);
    this.space();
    if (this.pos !== this.text.length) throw GIVE_UP;
    const seen = new Set<string>();
    for (const [, hash] of this.#hashes.sort((a, b) => a[0] - b[0])) seen.add(hash);
    return { value: out ?? this.text, patientHashes: [...seen] };
  }

  /** `hash:<keyed hash>` for an NHS number or patient id found at `at`. */
  #hashed(at: number, value: string): string {
    const hashed = this.rules.hash(value);
    this.#hashes.push([at, hashed]);
    return `${HASH_PREFIX}${hashed}`;
  }

  /** A value with redaction applied: its new text, or null when its text is kept. */
  #value(contained: boolean): string | null {
    const c = this.text.charCodeAt(this.pos);
    if (c === OPEN_OBJECT) return this.#object(contained);
    if (c === OPEN_ARRAY) return this.#array(contained);
    this.primitive();
    return null;
  }

  #array(contained: boolean): string | null {
    const text = this.text;
    const start = this.pos;
    this.pos += 1;
    this.space();
    if (text.charCodeAt(this.pos) === CLOSE_ARRAY) {
      this.pos += 1;
      return null;
    }
    let edits: (number | string)[] | null = null;
    for (;;) {
      const itemStart = this.pos;
      const out = this.#value(contained);
      if (out !== null) (edits ??= []).push(itemStart, this.pos, out);
      this.space();
      const c = text.charCodeAt(this.pos);
      this.pos += 1;
      if (c === CLOSE_ARRAY) break;
      if (c !== COMMA) throw GIVE_UP;
      this.space();
    }
    if (edits === null) return null;
    let out = '';
    let last = start;
    for (let i = 0; i < edits.length; i += 3) {
      out += text.slice(last, edits[i] as number) + (edits[i + 2] as string);
      last = edits[i + 1] as number;
    }
    return out + text.slice(last, this.pos);
  }

  /** An object (`contained`: an item of a `contained` list, whose Patient ids are local). */
  #object(contained: boolean): string | null {
    const text = this.text;
    const rules = this.rules;
    this.pos += 1;
    this.space();
    if (text.charCodeAt(this.pos) === CLOSE_OBJECT) {
      this.pos += 1;
      return null;
    }
    const base = this.#members;
    let changed = false;
    let isReference = false;
    let isNhsSystem = false;
    let isPatientType = false;
    let seen = 0;
    let display = -1;
    let displayHashes = 0;
    let displayHashesEnd = 0;
    let id = -1;
    let value = -1;
    for (;;) {
      if (text.charCodeAt(this.pos) !== QUOTE) throw GIVE_UP;
      const keyStart = this.pos;
      if (this.string()) throw GIVE_UP;
      const keyEnd = this.pos;
      const key = keyKind(text, keyStart + 1, keyEnd - 1);
      if (key === K.GiveUp) throw GIVE_UP;
      this.space();
      if (text.charCodeAt(this.pos) !== COLON) throw GIVE_UP;
      this.pos += 1;
      this.space();
      const valueStart = this.pos;
      const first = text.charCodeAt(valueStart);
      const isString = first === QUOTE;
      let fate: Fate = null;
      if (key === K.Other) {
        if (first === OPEN_OBJECT) fate = this.#object(false);
        else if (first === OPEN_ARRAY) fate = this.#array(false);
        else this.primitive();
      } else if (key === K.Removed || (key === K.Name && !isString)) {
        this.skip();
        fate = false;
      } else if (
        key === K.Display ||
        ((key === K.Id || key === K.Value) && isString) ||
        (key === K.Value && (first === 0x2d || isDigit(first)))
      ) {
        // Decided once the whole object is read (by the reference, a display, the resource type, the
        // system). A display goes whatever it holds: one that is an object or array is walked now and
        // the hashes found in it are forgotten if it goes.
        if ((seen & key) !== 0) throw GIVE_UP;
        seen |= key;
        const index = this.#members;
        if (key === K.Display) {
          display = index;
          displayHashes = this.#hashes.length;
          if (first === OPEN_OBJECT || first === OPEN_ARRAY) fate = this.#value(false);
          else this.primitive();
          displayHashesEnd = this.#hashes.length;
        } else {
          if (key === K.Id) id = index;
          else value = index;
          this.primitive(); // a string, or (for a value) a number
        }
      } else {
        if ((key & DECIDING) !== 0) {
          if ((seen & key) !== 0) throw GIVE_UP;
          seen |= key;
        }
        if (!isString) {
          fate = this.#value(key === K.Contained);
        } else {
          // Most strings are judged in place, with no copy made: only the rare ones that matter are decoded.
          const escaped = this.string();
          const end = this.pos;
          switch (key) {
            case K.System:
              isNhsSystem = escaped
                ? NHS_SYSTEMS.has(this.decoded(valueStart, end))
                : this.#oneOf(NHS_SYSTEM_LIST, valueStart + 1, end - 1);
              break;
            case K.ResourceType:
              isPatientType = escaped
                ? this.decoded(valueStart, end) === 'Patient'
                : this.#oneOf(PATIENT, valueStart + 1, end - 1);
              break;
            case K.Diagnostics: {
              // Free text that is kept (a provider's diagnostics): NHS numbers in it are hashed.
              let hashed = false;
              const replaced = this.decoded(valueStart, end).replace(
                /\b\d{3}[ -]?\d{3}[ -]?\d{4}\b/g,
                (match) => {
                  if (!isValidNhsNumber(match)) return match;
                  hashed = true;
                  return this.#hashed(valueStart, match);
                },
              );
              if (hashed) fate = JSON.stringify(replaced);
              break;
            }
            case K.BirthDate: {
              const date = this.decoded(valueStart, end);
              fate = rules.birthDateAsYear && /^\d{4}/.test(date) ? JSON.stringify(date.slice(0, 4)) : false;
              break;
            }
            case K.Reference:
            case K.Url:
              if (key === K.Reference) isReference = true;
              if (escaped || this.#mayNamePatient(valueStart, end)) {
                const url = this.decoded(valueStart, end);
                if (url.includes('?') || /(^|\/)Patient\//.test(url)) {
                  const redacted = redactUrl(url, rules);
                  for (const hashed of redacted.patientHashes) this.#hashes.push([valueStart, hashed]);
                  fate = JSON.stringify(redacted.value);
                }
              }
          }
        }
      }
      this.#keyEnds[this.#members] = keyEnd;
      this.#push(keyStart, valueStart, this.pos, fate);
      if (fate !== null) changed = true;
      this.space();
      const c = text.charCodeAt(this.pos);
      this.pos += 1;
      if (c === CLOSE_OBJECT) break;
      if (c !== COMMA) throw GIVE_UP;
      this.space();
    }
    // A Reference's display names its target: for a patient or a practitioner, a person.
    if (display >= 0 && isReference) {
      this.#fates[display] = false;
      this.#hashes.splice(displayHashes, displayHashesEnd - displayHashes);
      changed = true;
    }
    // A contained resource's id is local (`#P1`); any other Patient id names a person.
    if (id >= 0 && isPatientType && !contained) {
      const at = this.#spans[id * 3 + 1]!;
      this.#fates[id] = JSON.stringify(this.#hashed(at, this.decoded(at, this.#spans[id * 3 + 2]!)));
      changed = true;
    }
    if (value >= 0 && isNhsSystem) {
      const at = this.#spans[value * 3 + 1]!;
      const end = this.#spans[value * 3 + 2]!;
      // A number's text is the number as JavaScript writes it only when it is a plain integer.
      const number = text.charCodeAt(at) !== QUOTE ? text.slice(at, end) : undefined;
      if (number !== undefined && String(Number(number)) !== number) throw GIVE_UP;
      this.#fates[value] = JSON.stringify(this.#hashed(at, number ?? this.decoded(at, end)));
      changed = true;
    }
    const end = this.#members;
    this.#members = base;
    // JSON.parse keeps a repeated key's last value in its first place: left to the reference.
    if (end - base > 1 && this.#repeatedKey(base, end)) throw GIVE_UP;
    if (!changed) return null;
    const kept: string[] = [];
    for (let m = base; m < end; m += 1) {
      const fate = this.#fates[m];
      if (fate === false) continue;
      const valueStart = this.#spans[m * 3 + 1]!;
      kept.push(
        text.slice(this.#spans[m * 3], valueStart) + (fate ?? text.slice(valueStart, this.#spans[m * 3 + 2])),
      );
    }
    return `{${kept.join(',')}}`;
  }

  /** Whether two members in [base, end) have the same (unescaped) key. */
  #repeatedKey(base: number, end: number): boolean {
    const text = this.text;
    const spans = this.#spans;
    const keyEnds = this.#keyEnds;
    if (end - base > 32) {
      // Many members: a set, so a hostile object of thousands of keys costs linear time.
      const keys = new Set<string>();
      for (let m = base; m < end; m += 1) keys.add(text.slice(spans[m * 3], keyEnds[m]));
      return keys.size !== end - base;
    }
    for (let i = base; i < end; i += 1) {
      const a = spans[i * 3]!;
      const length = keyEnds[i]! - a;
      for (let j = i + 1; j < end; j += 1) {
        const b = spans[j * 3]!;
        if (keyEnds[j]! - b !== length) continue;
        let k = 1; // both start with a quote
        while (k < length && text.charCodeAt(a + k) === text.charCodeAt(b + k)) k += 1;
        if (k === length) return true;
      }
    }
    return false;
  }

  #push(keyStart: number, valueStart: number, valueEnd: number, fate: Fate): void {
    const m = this.#members;
    this.#spans[m * 3] = keyStart;
    this.#spans[m * 3 + 1] = valueStart;
    this.#spans[m * 3 + 2] = valueEnd;
    this.#fates[m] = fate;
    this.#members = m + 1;
  }

  /** Whether the unescaped text[start, end) is one of `words`. */
  #oneOf(words: readonly string[], start: number, end: number): boolean {
    for (const word of words)
      if (word.length === end - start && this.text.startsWith(word, start)) return true;
    return false;
  }

  /**
   * Whether the string literal text[start, end) has a `?` or a `Patient/` in it (a URL that may carry
   * an NHS number or name a patient). The next of each is remembered, so the whole text is searched
   * once, however many URLs it holds.
   */
  #mayNamePatient(start: number, end: number): boolean {
    if (this.#nextQuery < start) {
      const at = this.text.indexOf('?', start);
      this.#nextQuery = at < 0 ? this.text.length : at;
    }
    if (this.#nextPatient < start) {
      const at = this.text.indexOf('Patient/', start);
      this.#nextPatient = at < 0 ? this.text.length : at;
    }
    return this.#nextQuery < end || this.#nextPatient < end;
  }
}
