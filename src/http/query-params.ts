import type { Request } from 'express';
import { badRequest } from '../fhir/operation-outcome.js';
import type { Bound } from '../reports/report-query.js';

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})$/;
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** A time as PostgreSQL prints a timestamptz (`2026-10-10 09:00:00.123456+00`) or as ISO 8601 in UTC. */
const STORED_TIME = /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d{1,6})?([+-]\d{2}(:?\d{2})?|Z)$/;

/** A single query parameter (a repeated one is refused: which would it be?). */
export function param(req: Request, name: string): string | undefined {
  const value = req.query[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw badRequest(`${name} is given more than once`, name);
  return value;
}

/** Refuses a parameter the path does not know (a filter that is not one would silently match everything). */
export function onlyKnown(req: Request, known: ReadonlySet<string>): void {
  for (const name of Object.keys(req.query))
    if (!known.has(name)) throw badRequest(`unknown parameter "${name}"`, name);
}

/** Whether a text begins with a real calendar day (not 30 February, not the year 0): it reads back as written. */
function realDay(value: string): boolean {
  const day = new Date(`${value.slice(0, 10)}T00:00:00Z`);
  return (
    !Number.isNaN(day.getTime()) &&
    day.toISOString().slice(0, 10) === value.slice(0, 10) &&
    day.getUTCFullYear() >= 1
  );
}

/** A period bound as given: a real calendar day, or an instant with its offset; else 400 naming `name`. */
export function boundOf(value: string, name: string): Bound {
  const real = realDay(value);
  if (DATE.test(value) && real) return { date: value };
  if (INSTANT.test(value) && real && !Number.isNaN(Date.parse(value))) return { instant: value };
  throw badRequest(
    `${name} must be a date (2026-10-01) or an instant with offset (2026-10-01T00:00:00Z)`,
    name,
  );
}

/** `limit`: a whole number from 1 to `max`, `fallback` when absent. */
export function limitOf(req: Request, fallback: number, max: number): number {
  const text = param(req, 'limit') ?? String(fallback);
  const limit = Number(text);
  if (!/^\d+$/.test(text) || limit < 1 || limit > max)
    throw badRequest(`limit must be a whole number from 1 to ${max}`, 'limit');
  return limit;
}

/** A keyset position in a newest- or oldest-first list: the database's own text of a time, and an id. */
export interface Position {
  at: string;
  id: string;
}

/** A position as an opaque cursor (the time's text is kept whole: no precision lost between pages). */
export function cursorOf(position: Position): string {
  return Buffer.from(`${position.at}|${position.id}`).toString('base64url');
}

/** A cursor read back; 400 naming `name` when it is not one this API gave. */
export function positionOf(cursor: string, name: string): Position {
  const [at, id] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  if (!at || !id || !UUID.test(id) || !STORED_TIME.test(at) || !realDay(at))
    throw badRequest(`${name} is not a cursor this API gave`, name);
  return { at, id };
}

/** The URL of the next page: this request's own parameters with the cursor set. */
export function nextPage(req: Request, path: string, name: string, position: Position): string {
  const params = new URLSearchParams(req.query as Record<string, string>);
  params.set(name, cursorOf(position));
  return `${path}?${params.toString()}`;
}
