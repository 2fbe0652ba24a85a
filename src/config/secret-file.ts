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
  try {
    const value = readFileSync(file, 'utf8').trim();
    if (value.length > 0) return { value, created: false, file };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  mkdirSync(dataDir, { recursive: true });
  const value = randomBytes(bytes).toString('base64url');
  // 'wx' fails if another instance created it in between; then theirs is the one to use.
  try {
    writeFileSync(file, `${value}\n`, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      return { value: readFileSync(file, 'utf8').trim(), created: false, file };
    }
    throw error;
  }
  return { value, created: true, file };
}
