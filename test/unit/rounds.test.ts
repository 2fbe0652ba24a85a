import { Rounds } from '../../src/rounds.js';

/** Rounds whose round is the function given. */
class FnRounds extends Rounds {
  constructor(
    private readonly fn: (stopping: () => boolean) => Promise<void>,
    timing: { intervalMs: number },
  ) {
    super(timing);
  }

  protected round(stopping: () => boolean): Promise<void> {
    return this.fn(stopping);
  }
}

/** A round that waits until released, counting how many began and the most at once. */
function gatedRounds() {
  let began = 0;
  let running = 0;
  let most = 0;
  const gates: (() => void)[] = [];
  const rounds = new FnRounds(
    async () => {
      began += 1;
      running += 1;
      most = Math.max(most, running);
      await new Promise<void>((resolve) => gates.push(resolve));
      running -= 1;
    },
    { intervalMs: 3_600_000 },
  );
  const release = async () => {
    while (gates.length === 0) await new Promise((resolve) => setImmediate(resolve));
    gates.shift()!();
  };
  return { rounds, release, began: () => began, most: () => most };
}

describe('Rounds', () => {
  it('runs one round at a time, and one more after a round that was poked during it', async () => {
    const { rounds, release, began, most } = gatedRounds();
    rounds.poke();
    rounds.poke();
    rounds.poke();
    expect(began()).toBe(1);
    await release();
    await release();
    await rounds.settled();
    expect(began()).toBe(2);
    expect(most()).toBe(1);
  });

  it('tells the round under way to stop, waits for it, and starts no more', async () => {
    let told = false;
    let began = 0;
    let finish!: () => void;
    const rounds = new FnRounds(
      async (stopping) => {
        began += 1;
        await new Promise<void>((resolve) => (finish = resolve));
        told = stopping();
      },
      { intervalMs: 3_600_000 },
    );
    rounds.poke();
    const stopped = rounds.stop();
    finish();
    await stopped;
    expect(told).toBe(true);
    rounds.poke();
    await rounds.settled();
    expect(began).toBe(1);
  });
});
