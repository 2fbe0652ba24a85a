import { sql } from 'kysely';
import type { Store } from '../store/store.js';
import { pendingMigrations } from '../store/migrate.js';
import { withDeadline } from '../deadline.js';

/** The result of one readiness check, shown on `/readyz`. */
export interface CheckResult {
  ok: boolean;
  detail?: Record<string, unknown>;
}

/** Something `/readyz` asks before saying the collector can take traffic. */
export interface ReadinessCheck {
  name: string;
  run(): Promise<CheckResult>;
}

/** The store answers a trivial query within `timeoutMs`. */
export function storeReachable(store: Store, timeoutMs = 2000): ReadinessCheck {
  return {
    name: 'store',
    async run() {
      try {
        await withDeadline(sql`select 1`.execute(store.db), timeoutMs, 'the store');
        return { ok: true, detail: { engine: store.engine } };
      } catch (error) {
        return { ok: false, detail: { engine: store.engine, error: (error as Error).message } };
      }
    },
  };
}

/** Every migration this build knows has been applied. */
export function migrationsCurrent(store: Store, timeoutMs = 2000): ReadinessCheck {
  return {
    name: 'migrations',
    async run() {
      try {
        const pending = await withDeadline(pendingMigrations(store.db), timeoutMs, 'the migration check');
        return { ok: pending.length === 0, detail: { pending } };
      } catch (error) {
        return { ok: false, detail: { error: (error as Error).message } };
      }
    },
  };
}

/** Runs all checks at once; ready only when every one passes. */
export async function checkReadiness(
  checks: readonly ReadinessCheck[],
): Promise<{ ready: boolean; checks: Record<string, CheckResult> }> {
  const results = await Promise.all(checks.map(async (c) => [c.name, await c.run()] as const));
  return { ready: results.every(([, r]) => r.ok), checks: Object.fromEntries(results) };
}
