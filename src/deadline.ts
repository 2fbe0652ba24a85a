/** A promise that did not settle within its deadline. */
export class DeadlineExceeded extends Error {
  constructor(what: string, ms: number) {
    super(`${what} did not answer within ${ms} ms`);
  }
}

/**
 * The promise's outcome, or a DeadlineExceeded after `ms` (the promise itself is left to settle
 * unheard). With `keepAlive` false the timer alone never keeps a process alive: for deadlines set over
 * and over while something may hang for ever (capture's writes), not for a stop waiting on its last step.
 */
export async function withDeadline<T>(
  promise: Promise<T>,
  ms: number,
  what: string,
  keepAlive = true,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new DeadlineExceeded(what, ms)), ms);
        if (!keepAlive) timer.unref();
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
