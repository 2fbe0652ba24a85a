import { v7 as uuidv7 } from 'uuid';

/** A new time-ordered id (UUIDv7): sorts by creation time, so indexes on it stay append-mostly. */
export function newId(): string {
  return uuidv7();
}
