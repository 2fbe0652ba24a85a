import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Reads a secret kept in a file under the data directory, creating it (mode 0600) with fresh random
 * bytes the first time. `created` says whether it was made just now.
 */
export function loadOrCreateSecretFile(
  dataDir: string,
  fileName: string,
  bytes = 32,
): { value: string; created: boolean; file: string } {
  const file = path.join(dataDir, fileName);
  const minimum = 32;
  let existing: string | undefined;
  try {
    existing = readFileSync(file, 'utf8').trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  if (existing && existing.length >= minimum) return { value: existing, created: false, file };
  if (existing) {
    throw new Error(
      `${file} holds a secret of ${existing.length} characters; at least ${minimum} are needed (delete the file to have one made)`,
    );
  }
  mkdirSync(dataDir, { recursive: true });
  const value = randomBytes(bytes).toString('base64url');
  // 'wx' fails if another instance made it in between (theirs is then used); an empty file, left by a
  // crash between creating and writing it, is replaced.
  try {
    writeFileSync(file, `${value}\n`, { mode: 0o600, flag: existing === '' ? 'w' : 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST')
      return loadOrCreateSecretFile(dataDir, fileName, bytes);
    throw error;
  }
  return { value, created: true, file };
}
