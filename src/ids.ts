import { randomFillSync } from 'node:crypto';

/** Random bytes drawn from the OS 4 KB at a time (256 ids), not 16 bytes per id. */
const pool = Buffer.alloc(4096);
let poolAt = pool.length;
let lastMs = -1;
let sequence = 0;

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/**
 * A new time-ordered id (UUIDv7, RFC 9562): 48 bits of Unix milliseconds, then 74 random bits. Ids
 * made in the same millisecond count up in the 12 bits after the version (RFC 9562 6.2, method 1),
 * so they sort in the order they were made too. Indexes on them stay append-mostly.
 */
export function newId(): string {
  if (poolAt + 16 > pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  const bytes = pool.subarray(poolAt, poolAt + 16);
  poolAt += 16;
  let ms = Date.now();
  if (ms > lastMs) {
    lastMs = ms;
    sequence = ((bytes[6]! & 0x0f) << 8) | bytes[7]!; // a random start: 12 bits
    sequence &= 0x7ff; // leaving room to count up within the millisecond
  } else {
    sequence += 1;
    if (sequence > 0xfff) {
      // 2,048+ ids in one millisecond: borrow the next one (the clock catches up at once).
      lastMs += 1;
      sequence = 0;
    }
    ms = lastMs;
  }
  bytes[0] = Math.floor(ms / 2 ** 40) & 0xff;
  bytes[1] = Math.floor(ms / 2 ** 32) & 0xff;
  bytes[2] = (ms >>> 24) & 0xff;
  bytes[3] = (ms >>> 16) & 0xff;
  bytes[4] = (ms >>> 8) & 0xff;
  bytes[5] = ms & 0xff;
  bytes[6] = 0x70 | (sequence >>> 8);
  bytes[7] = sequence & 0xff;
  bytes[8] = 0x80 | (bytes[8]! & 0x3f);
  const h = (i: number) => HEX[bytes[i]!]!;
  return `${h(0)}${h(1)}${h(2)}${h(3)}-${h(4)}${h(5)}-${h(6)}${h(7)}-${h(8)}${h(9)}-${h(10)}${h(11)}${h(12)}${h(13)}${h(14)}${h(15)}`;
}
