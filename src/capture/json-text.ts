/**
 * Reading JSON text in place, as JSON.parse would judge it, without making values: the scanner under
 * the one-pass redactor. A reader moves `pos` over whitespace, strings, numbers, literals and whole
 * values, and throws GIVE_UP on anything that is not valid JSON.
 */

/** Thrown inside the scanner when it meets something it leaves to the reference redactor. */
export const GIVE_UP = new Error('left to the reference redactor');

export const QUOTE = 0x22;
export const BACKSLASH = 0x5c;
export const COMMA = 0x2c;
export const COLON = 0x3a;
export const OPEN_OBJECT = 0x7b;
export const CLOSE_OBJECT = 0x7d;
export const OPEN_ARRAY = 0x5b;
export const CLOSE_ARRAY = 0x5d;

export const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;

export class JsonTextReader {
  protected pos = 0;
  #nextBackslash = -1;
  #nextControl = -1;
  // Raw control characters are not allowed inside JSON strings.
  // eslint-disable-next-line no-control-regex
  readonly #controls = /[\u0000-\u001f]/g;

  constructor(protected readonly text: string) {}

  protected space(): void {
    const text = this.text;
    let pos = this.pos;
    for (;;) {
      const c = text.charCodeAt(pos);
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
      pos += 1;
    }
    this.pos = pos;
  }

  /** The string literal text[start, end), decoded. */
  protected decoded(start: number, end: number): string {
    const raw = this.text.slice(start + 1, end - 1);
    return raw.includes('\\') ? (JSON.parse(this.text.slice(start, end)) as string) : raw;
  }

  /** Validates any value without redacting it (a member that is removed whole). */
  protected skip(): void {
    const text = this.text;
    const c = text.charCodeAt(this.pos);
    if (c !== OPEN_OBJECT && c !== OPEN_ARRAY) {
      this.primitive();
      return;
    }
    const close = c === OPEN_OBJECT ? CLOSE_OBJECT : CLOSE_ARRAY;
    this.pos += 1;
    this.space();
    if (text.charCodeAt(this.pos) === close) {
      this.pos += 1;
      return;
    }
    for (;;) {
      if (c === OPEN_OBJECT) {
        if (text.charCodeAt(this.pos) !== QUOTE) throw GIVE_UP;
        this.string();
        this.space();
        if (text.charCodeAt(this.pos) !== COLON) throw GIVE_UP;
        this.pos += 1;
        this.space();
      }
      this.skip();
      this.space();
      const next = text.charCodeAt(this.pos);
      this.pos += 1;
      if (next === close) return;
      if (next !== COMMA) throw GIVE_UP;
      this.space();
    }
  }

  /** A string, number, true, false or null; anything else is not JSON. */
  protected primitive(): void {
    const text = this.text;
    const c = text.charCodeAt(this.pos);
    if (c === QUOTE) {
      this.string();
    } else if (c === 0x74 /* t */ && text.startsWith('true', this.pos)) {
      this.pos += 4;
    } else if (c === 0x66 /* f */ && text.startsWith('false', this.pos)) {
      this.pos += 5;
    } else if (c === 0x6e /* n */ && text.startsWith('null', this.pos)) {
      this.pos += 4;
    } else {
      this.number();
    }
  }

  /** -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
  protected number(): void {
    const text = this.text;
    let pos = this.pos;
    if (text.charCodeAt(pos) === 0x2d) pos += 1;
    const first = text.charCodeAt(pos);
    if (first === 0x30) pos += 1;
    else if (first >= 0x31 && first <= 0x39) while (isDigit(text.charCodeAt(pos))) pos += 1;
    else throw GIVE_UP;
    if (text.charCodeAt(pos) === 0x2e) {
      pos += 1;
      if (!isDigit(text.charCodeAt(pos))) throw GIVE_UP;
      while (isDigit(text.charCodeAt(pos))) pos += 1;
    }
    const e = text.charCodeAt(pos);
    if (e === 0x65 || e === 0x45) {
      pos += 1;
      const sign = text.charCodeAt(pos);
      if (sign === 0x2b || sign === 0x2d) pos += 1;
      if (!isDigit(text.charCodeAt(pos))) throw GIVE_UP;
      while (isDigit(text.charCodeAt(pos))) pos += 1;
    }
    this.pos = pos;
  }

  /**
   * Moves past the string literal at the position (a quote), checking it as JSON.parse would: no raw
   * control characters, only JSON's escapes. Returns whether it had any escape.
   */
  protected string(): boolean {
    const text = this.text;
    let from = this.pos + 1;
    let escaped = false;
    for (;;) {
      const quote = text.indexOf('"', from);
      if (quote < 0) throw GIVE_UP;
      if (this.#nextControl < from) {
        this.#controls.lastIndex = from;
        this.#nextControl = this.#controls.exec(text)?.index ?? text.length;
      }
      if (this.#nextControl < quote) throw GIVE_UP;
      if (this.#nextBackslash < from) {
        const at = text.indexOf('\\', from);
        this.#nextBackslash = at < 0 ? text.length : at;
      }
      if (this.#nextBackslash > quote) {
        this.pos = quote + 1;
        return escaped;
      }
      escaped = true;
      const at = this.#nextBackslash;
      const c = text.charCodeAt(at + 1);
      if (c === 0x75 /* u */) {
        if (!/^[0-9a-fA-F]{4}$/.test(text.slice(at + 2, at + 6))) throw GIVE_UP;
        from = at + 6;
      } else if (
        c === QUOTE ||
        c === BACKSLASH ||
        c === 0x2f ||
        c === 0x62 ||
        c === 0x66 ||
        c === 0x6e ||
        c === 0x72 ||
        c === 0x74
      ) {
        from = at + 2;
      } else {
        throw GIVE_UP;
      }
    }
  }
}
