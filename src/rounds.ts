/**
 * A background job run in rounds: one every `intervalMs`, the first after `firstDelayMs`, never two at
 * once. A poke asks for a round now, or for another right after the one under way. What a round does
 * (and how it logs its failures) is the subclass's; `stopping` tells it to wind up.
 */
export abstract class Rounds {
  #timer: NodeJS.Timeout | undefined;
  #first: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #stopped = false;

  constructor(private readonly timing: { intervalMs: number; firstDelayMs?: number }) {}

  /** One round of the job; it winds up early once `stopping()` is true. */
  protected abstract round(stopping: () => boolean): Promise<void>;

  /** Rounds every `intervalMs`, the first after `firstDelayMs` (at once without one). */
  start(): void {
    this.#timer = setInterval(() => this.poke(), this.timing.intervalMs).unref();
    if (this.timing.firstDelayMs)
      this.#first = setTimeout(() => this.poke(), this.timing.firstDelayMs).unref();
    else this.poke();
  }

  /** Asks for a round now, or right after the one under way. */
  poke(): void {
    if (this.#stopped) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = this.#rounds().finally(() => {
      this.#running = undefined;
    });
  }

  /** Resolves once no round is under way. */
  async settled(): Promise<void> {
    while (this.#running) await this.#running;
  }

  /** No more rounds; the one under way is told to stop, and waited for. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    clearTimeout(this.#first);
    await this.settled();
  }

  async #rounds(): Promise<void> {
    do {
      this.#again = false;
      await this.round(() => this.#stopped);
    } while (this.#again && !this.#stopped);
  }
}
