import { closeSync, ftruncateSync, mkdirSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { open, rm, writeFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { DerivationTables } from '../derive/tables.js';
import type { CapturedExchange } from './captured.js';
import { NEWLINE, spooledLine, spoolLines } from './spool-lines.js';

/**
 * How much of the spool one replay step reads (whole lines of it; more when one line is longer): small
 * enough that splitting it and handing it to the store keeps the proxy's thread busy only briefly.
 */
const REPLAY_CHUNK_BYTES = 2 * 1024 * 1024;

/** Buffers per `writev` call, within every platform's IOV_MAX. */
const MAX_IOV = 1024;

/** Writes every byte of `parts` at the end of the file, however the system splits the writes. */
async function writeAll(handle: FileHandle, parts: Buffer[]): Promise<void> {
  let rest = parts;
  while (rest.length > 0) {
    const group = rest.slice(0, MAX_IOV);
    let { bytesWritten } = await handle.writev(group);
    if (bytesWritten === 0 && group.some((part) => part.length > 0)) throw new Error('nothing written');
    let whole = 0;
    while (whole < group.length && bytesWritten >= group[whole]!.length)
      bytesWritten -= group[whole++]!.length;
    rest =
      whole < group.length
        ? [group[whole]!.subarray(bytesWritten), ...group.slice(whole + 1), ...rest.slice(group.length)]
        : rest.slice(group.length);
  }
}

/** Reads `length` bytes from `position` (fewer only at the end of the file). */
async function readAt(handle: FileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.allocUnsafe(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await handle.read(buffer, filled, length - filled, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return buffer.subarray(0, filled);
}

/** How far into the file its last line break ends (0: none), read backwards a block at a time. */
function endOfLastLine(fd: number, size: number): number {
  const block = Buffer.alloc(64 * 1024);
  for (let end = size; end > 0;) {
    const start = Math.max(0, end - block.length);
    readSync(fd, block, 0, end - start, start);
    const newline = block.subarray(0, end - start).lastIndexOf(NEWLINE);
    if (newline >= 0) return start + newline + 1;
    end = start;
  }
  return 0;
}

/** What one replay step read: the rows, lines lost to a crash, and how many bytes that was. */
export interface SpoolChunk {
  rows: CapturedExchange[];
  torn: number;
  bytes: number;
}

/** What `open` found of an earlier run's spool. */
export interface SpoolFound {
  /** Bytes still to replay. */
  bytes: number;
  /** A line a crash cut short at the end of the file, removed (it is lost). */
  torn: number;
}

/**
 * The capture spool: an append-only file of redacted rows (JSON lines) for when the store is down or
 * behind, and an offset file beside it saying how much of it is already in the store. The files are
 * written and read asynchronously (on libuv's threads, never blocking the proxy's), one operation at a
 * time in the order asked, so no append falls inside another or inside a read. The file holds whole lines
 * only: an append that fails is cut back off, and a line a crash cut short is cut off at `open`.
 */
export class CaptureSpool {
  readonly file: string;
  /** The last append failed (disk full): rows are being lost. */
  broken = false;
  /** The file's size, as far as appends have finished. */
  #size = 0;
  /** Bytes already in the store (the offset file's value). */
  #offset = 0;
  /** Bytes of appends asked for and not yet finished. */
  #queued = 0;
  /** The file, open for appending and for replay's reads (opened when first needed). */
  #handle: FileHandle | undefined;
  #operations: Promise<unknown> = Promise.resolve();

  /** `tables` derive the events of lines spooled by a version that spooled none. */
  constructor(
    file: string,
    private readonly tables: DerivationTables,
  ) {
    this.file = file;
    mkdirSync(path.dirname(file), { recursive: true });
  }

  /** Bytes not yet replayed, appends still being written included. */
  get bytes(): number {
    return this.#queued + Math.max(0, this.#size - this.#offset);
  }

  get #offsetFile(): string {
    return `${this.file}.offset`;
  }

  /**
   * Picks up a spool left by an earlier run (at start, before any traffic: synchronously), cutting off a
   * line a crash cut short at its end.
   */
  open(): SpoolFound {
    let size = 0;
    try {
      const st = statSync(this.file);
      if (st.isFile()) size = st.size;
    } catch {
      // No spool.
    }
    let torn = 0;
    if (size > 0) {
      const fd = openSync(this.file, 'r+');
      try {
        const whole = endOfLastLine(fd, size);
        if (whole < size) {
          ftruncateSync(fd, whole);
          size = whole;
          torn = 1;
        }
      } finally {
        closeSync(fd);
      }
    }
    let offset = 0;
    try {
      const value = Number(readFileSync(this.#offsetFile, 'utf8').trim());
      if (Number.isInteger(value) && value >= 0) offset = value;
    } catch {
      // Nothing replayed yet.
    }
    this.#size = size;
    this.#offset = Math.min(offset, size);
    return { bytes: this.bytes, torn };
  }

  /** Runs file operations one at a time, in the order asked. */
  #serially<T>(operation: () => Promise<T>): Promise<T> {
    const result = this.#operations.then(operation);
    this.#operations = result.catch(() => undefined);
    return result;
  }

  /** Appends rows at the end of the file. False (and `broken`) when the disk refuses them. */
  append(rows: CapturedExchange[]): Promise<boolean> {
    const { parts, bytes } = spoolLines(rows);
    this.#queued += bytes;
    return this.#serially(async () => {
      try {
        await writeAll(await this.#opened(), parts);
        this.#size += bytes;
        this.broken = false;
        return true;
      } catch {
        // Cut off what part of the lines did reach the disk, so the file still holds whole lines only.
        await this.#handle?.truncate(this.#size).catch(() => undefined);
        this.broken = true;
        return false;
      } finally {
        this.#queued -= bytes;
      }
    });
  }

  /**
   * The next whole lines to replay (about 2 MB), or undefined when everything is in the store (the files
   * are then removed).
   */
  read(): Promise<SpoolChunk | undefined> {
    return this.#serially(async () => {
      const left = this.#size - this.#offset;
      if (left <= 0) {
        await this.#remove();
        return undefined;
      }
      // Whole lines only: a line longer than a chunk is read whole, however long.
      const handle = await this.#opened();
      let length = Math.min(REPLAY_CHUNK_BYTES, left);
      let buffer = await readAt(handle, this.#offset, length);
      while (buffer.lastIndexOf(NEWLINE) < 0 && length < left) {
        length = Math.min(length * 2, left);
        buffer = await readAt(handle, this.#offset, length);
      }
      const end = buffer.lastIndexOf(NEWLINE) + 1;
      // No line break up to the end: the file was cut or removed by something other than this class,
      // and what it held past the offset is lost.
      if (end === 0) return { rows: [], torn: 1, bytes: left };
      return this.#lines(buffer.subarray(0, end));
    });
  }

  #lines(buffer: Buffer): SpoolChunk {
    const rows: CapturedExchange[] = [];
    let torn = 0;
    for (let start = 0; start < buffer.length;) {
      const stop = buffer.indexOf(NEWLINE, start);
      const line = buffer.subarray(start, stop);
      start = stop + 1;
      if (line.length === 0) continue;
      try {
        rows.push(spooledLine(line, this.tables));
      } catch {
        torn += 1; // a line an earlier version left cut short by a crash
      }
    }
    return { rows, torn, bytes: buffer.length };
  }

  /** Records that a chunk read by `read` is in the store. */
  done(chunk: SpoolChunk): Promise<void> {
    return this.#serially(async () => {
      this.#offset += chunk.bytes;
      await writeFile(this.#offsetFile, String(this.#offset), { mode: 0o600 });
    });
  }

  /** Closes the file (a later append opens it again). */
  close(): Promise<void> {
    return this.#serially(() => this.#closeHandle());
  }

  async #opened(): Promise<FileHandle> {
    this.#handle ??= await open(this.file, 'a+', 0o600);
    return this.#handle;
  }

  async #closeHandle(): Promise<void> {
    const handle = this.#handle;
    this.#handle = undefined;
    await handle?.close();
  }

  /** Everything is in the store: the spool and its offset go. */
  async #remove(): Promise<void> {
    await this.#closeHandle();
    try {
      await rm(this.file, { force: true });
      await rm(this.#offsetFile, { force: true });
    } catch {
      // Not a file we can remove (something else at its path): nothing in it to replay either.
    }
    this.#size = 0;
    this.#offset = 0;
  }
}
