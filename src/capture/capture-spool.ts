import {
  appendFileSync,
  closeSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import type { DerivationTables } from '../derive/tables.js';
import type { NewEventRow } from '../store/tables/event.table.js';
import type { ExchangeRow, NewExchangeRow } from '../store/tables/exchange.table.js';
import { capturedOf, eventsOfStored, type CapturedExchange } from './captured.js';

/** How much of the spool one replay step reads (whole lines of it). */
const REPLAY_CHUNK_BYTES = 8 * 1024 * 1024;

const BODIES = ['request_body', 'response_body'] as const;

const TAB = 0x09;
const NEWLINE = 0x0a;
const TAB_BYTE = Buffer.from([TAB]);
const NEWLINE_BYTE = Buffer.from([NEWLINE]);

/**
 * Captured exchanges as spool lines: each its row's JSON, a tab, its events' JSON. JSON text never
 * holds a raw tab or line break, so a line splits without being parsed, and replays as it was written.
 */
function spoolLines(rows: CapturedExchange[]): Buffer {
  const parts: Buffer[] = [];
  for (const captured of rows) parts.push(captured.exchange, TAB_BYTE, captured.events, NEWLINE_BYTE);
  return Buffer.concat(parts);
}

/** A value an earlier version spooled as JSON text (headers, attributes), as the value itself. */
function unwrapped(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return value;
  }
}

/** The row's id, first in every row this version writes. */
const LEADING_ID = /^\{"id":"([^"\\]*)"/;

/**
 * A spool line read back. Lines of earlier versions are read too: `{"exchange": row, "events": [...]}`
 * (bodies in base64, jsonb values perhaps as JSON text), and a bare row from before bodies were
 * compressed, its bodies plain text (`utf8`) or base64 (`base64`), stored as they are (`utf8`,
 * `binary`) and without events, which are derived from it here (a one-off, on this thread).
 */
function spooledLine(line: Buffer, tables: DerivationTables): CapturedExchange {
  const tab = line.indexOf(TAB);
  if (tab >= 0) {
    const exchange = line.subarray(0, tab);
    const events = line.subarray(tab + 1);
    // Parsed only when the row does not begin with its id (never, from this version).
    const id =
      LEADING_ID.exec(exchange.toString('utf8', 0, 128))?.[1] ??
      (JSON.parse(exchange.toString()) as { id: string }).id;
    // A line a crash cut short ends inside its events (the row before the tab is whole): refused here.
    if (!Array.isArray(JSON.parse(events.toString()))) throw new Error('not a spool line');
    return { id, exchange, events };
  }
  return olderLine(line.toString(), tables);
}

/** A line of an earlier version's spool. */
function olderLine(line: string, tables: DerivationTables): CapturedExchange {
  const parsed = JSON.parse(line) as Record<string, unknown>;
  if ('exchange' in parsed) {
    const row = parsed.exchange as Record<string, unknown>;
    for (const key of BODIES) if (typeof row[key] === 'string') row[key] = Buffer.from(row[key], 'base64');
    row.request_headers = unwrapped(row.request_headers);
    row.response_headers = unwrapped(row.response_headers);
    const events = (Array.isArray(parsed.events) ? (parsed.events as Record<string, unknown>[]) : []).map(
      (event) => ({ ...event, attributes: unwrapped(event.attributes) }),
    );
    return capturedOf(row as unknown as NewExchangeRow, events as unknown as NewEventRow[]);
  }
  const row = parsed;
  for (const side of ['request', 'response'] as const) {
    const body = row[`${side}_body`];
    const encoding = row[`${side}_body_encoding`];
    if (typeof body !== 'string') continue;
    if (encoding === 'base64') {
      row[`${side}_body`] = Buffer.from(body, 'base64');
      row[`${side}_body_encoding`] = 'binary';
    } else {
      row[`${side}_body`] = Buffer.from(body, 'utf8');
      row[`${side}_body_encoding`] = 'utf8';
    }
  }
  return capturedOf(row as unknown as NewExchangeRow, eventsOfStored(row as unknown as ExchangeRow, tables));
}

/** What one replay step read: the rows, lines lost to a crash, and how many bytes that was. */
export interface SpoolChunk {
  rows: CapturedExchange[];
  torn: number;
  bytes: number;
}

/**
 * The capture spool: an append-only file of redacted rows (JSON lines) for when the store is down or
 * behind, and an offset file beside it saying how much of it is already in the store. Every operation
 * is a synchronous file operation, so on one thread no append can fall inside another or inside a read;
 * appends happen only while the store is down or behind. Lines are the JSON the store is given.
 */
export class CaptureSpool {
  readonly file: string;
  /** Bytes not yet replayed. */
  bytes = 0;
  /** The last append failed (disk full): rows are being lost. */
  broken = false;

  /** `tables` derive the events of lines spooled by a version that spooled none. */
  constructor(
    file: string,
    private readonly tables: DerivationTables,
  ) {
    this.file = file;
    mkdirSync(path.dirname(file), { recursive: true });
  }

  get #offsetFile(): string {
    return `${this.file}.offset`;
  }

  /** Bytes already in the store, from the offset file. */
  #offset(): number {
    try {
      const value = Number(readFileSync(this.#offsetFile, 'utf8').trim());
      return Number.isInteger(value) && value >= 0 ? value : 0;
    } catch {
      return 0;
    }
  }

  #size(): number {
    try {
      const st = statSync(this.file);
      return st.isFile() ? st.size : 0;
    } catch {
      return 0;
    }
  }

  /** Picks up a spool left by an earlier run, sealing off a line a crash cut short; returns its bytes. */
  open(): number {
    const size = this.#size();
    if (size > 0) {
      const fd = openSync(this.file, 'r');
      const last = Buffer.alloc(1);
      try {
        readSync(fd, last, 0, 1, size - 1);
      } finally {
        closeSync(fd);
      }
      if (last[0] !== 0x0a) appendFileSync(this.file, '\n');
    }
    this.bytes = Math.max(0, this.#size() - this.#offset());
    return this.bytes;
  }

  /** Appends rows as one synchronous write. False (and `broken`) when the disk refuses it. */
  append(rows: CapturedExchange[]): boolean {
    const lines = spoolLines(rows);
    try {
      appendFileSync(this.file, lines, { mode: 0o600 });
    } catch {
      this.broken = true;
      return false;
    }
    this.bytes += lines.length;
    this.broken = false;
    return true;
  }

  /**
   * The next whole lines to replay (at most 8 MB), or undefined when everything is in the store (the
   * files are then removed). A line cut by the chunk's end is read next time.
   */
  read(): SpoolChunk | undefined {
    const offset = this.#offset();
    const size = this.#size();
    const length = Math.min(REPLAY_CHUNK_BYTES, Math.max(0, size - offset));
    const buffer = Buffer.alloc(length);
    if (length > 0) {
      const fd = openSync(this.file, 'r');
      try {
        readSync(fd, buffer, 0, length, offset);
      } finally {
        closeSync(fd);
      }
    }
    const end = buffer.lastIndexOf(NEWLINE) + 1;
    if (end === 0) {
      if (offset >= size) {
        try {
          rmSync(this.file, { force: true });
          rmSync(this.#offsetFile, { force: true });
        } catch {
          // Not a file we can remove (something else at its path): nothing in it to replay either.
        }
        this.bytes = 0;
      }
      return undefined;
    }
    const rows: CapturedExchange[] = [];
    let torn = 0;
    for (let start = 0; start < end;) {
      const stop = buffer.indexOf(NEWLINE, start);
      const line = buffer.subarray(start, stop);
      start = stop + 1;
      if (line.length === 0) continue;
      try {
        rows.push(spooledLine(line, this.tables));
      } catch {
        torn += 1; // a line cut short by a crash in the middle of an append
      }
    }
    return { rows, torn, bytes: end };
  }

  /** Records that a chunk read by `read` is in the store. */
  done(chunk: SpoolChunk): void {
    const offset = this.#offset() + chunk.bytes;
    writeFileSync(this.#offsetFile, String(offset), { mode: 0o600 });
    this.bytes = Math.max(0, this.#size() - offset);
  }
}
