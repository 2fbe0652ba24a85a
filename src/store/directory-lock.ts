import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';

/** Whether a process with this pid is running (on this machine). */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes the lock file `file` for this process, so that one embedded store directory is opened by one
 * owner at a time: PGlite is a single-user database, and two processes (or two opens in one process)
 * on one directory each see only their own writes and the last to close wins. A lock left by a process
 * that no longer runs is taken over. Returns the release function.
 */
export function lockDirectory(file: string, what: string): () => void {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
      return () => {
        try {
          unlinkSync(file);
        } catch {
          // Already gone: nothing to release.
        }
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = Number(readFileSync(file, 'utf8').trim());
    if (Number.isInteger(holder) && holder > 0 && isRunning(holder)) {
      const who = holder === process.pid ? 'this process already' : `process ${holder}`;
      throw new Error(
        `${what} is in use by ${who} (lock ${file}); stop it first, or use PostgreSQL (DATABASE_URL) to run several`,
      );
    }
    unlinkSync(file); // stale: its process has gone
  }
  throw new Error(`${what}: could not take the lock ${file}`);
}
