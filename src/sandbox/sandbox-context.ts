import type { Clock } from '../clock.js';
import type { Diary } from './diary.js';
import type { FaultRule } from './faults.js';
import type { Random } from './random.js';

/** What every sandbox handler works with. */
export interface SandboxContext {
  diary: Diary;
  clock: Clock;
  random: Random;
  faults: readonly FaultRule[];
  /** STU3 slot taken: 422 per the API spec (default) or 409 per its error table. */
  stu3SlotConflictStatus: 409 | 422;
}
