import type { DerivationTables } from '../derive/tables.js';
import type { NewEventRow } from '../store/tables/event.table.js';
import type { ExchangeRow, NewExchangeRow } from '../store/tables/exchange.table.js';
import { capturedOf, eventsOfStored, type CapturedExchange } from './captured.js';

/*
 * The capture spool's lines: this version's (a row's JSON, a tab, its events' JSON) and, read back only,
 * the earlier versions'. The file they live in is capture-spool.ts.
 */

const BODIES = ['request_body', 'response_body'] as const;

const TAB = 0x09;
export const NEWLINE = 0x0a;
const TAB_BYTE = Buffer.from([TAB]);
const NEWLINE_BYTE = Buffer.from([NEWLINE]);

/**
 * Captured exchanges as spool lines, as the buffers to write (nothing is copied to join them): each line
 * its row's JSON, a tab, its events' JSON. JSON text never holds a raw tab or line break, so a line
 * splits without being parsed, and replays as it was written.
 */
export function spoolLines(rows: CapturedExchange[]): { parts: Buffer[]; bytes: number } {
  const parts: Buffer[] = [];
  let bytes = 0;
  for (const captured of rows) {
    parts.push(captured.exchange, TAB_BYTE, captured.events, NEWLINE_BYTE);
    bytes += captured.exchange.length + captured.events.length + 2;
  }
  return { parts, bytes };
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
export function spooledLine(line: Buffer, tables: DerivationTables): CapturedExchange {
  const tab = line.indexOf(TAB);
  if (tab >= 0) {
    const exchange = line.subarray(0, tab);
    const events = line.subarray(tab + 1);
    // Parsed only when the row does not begin with its id (never, from this version).
    const id =
      LEADING_ID.exec(exchange.toString('utf8', 0, 128))?.[1] ??
      (JSON.parse(exchange.toString()) as { id: string }).id;
    // A line an earlier version's crash cut short in its events (this version truncates such a line at
    // start instead) is refused here when it does not end as an array does; one that happens to is
    // refused by the store, row by row, and counted there.
    if (events[0] !== 0x5b || events[events.length - 1] !== 0x5d) throw new Error('not a spool line');
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
