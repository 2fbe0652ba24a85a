/** The time source. Injected everywhere time matters, so tests and derivation can fix "now". */
export type Clock = () => Date;

/** The real clock. */
export const systemClock: Clock = () => new Date();
