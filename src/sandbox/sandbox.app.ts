import express, { Router, type Express } from 'express';
import type { Clock } from '../clock.js';
import type { Dialect, ProviderConfig, SandboxConfig } from '../config/config.types.js';
import { Diary } from './diary.js';
import { barsRoutes } from './dialects/bars.routes.js';
import { gpconnectRoutes } from './dialects/gpconnect.routes.js';
import { stu3Routes } from './dialects/stu3.routes.js';
import { seededRandom } from './random.js';
import type { SandboxContext } from './sandbox-context.js';

/** Where each dialect lives under the sandbox's own base path. */
export const SANDBOX_DIALECT_PATHS: Record<Dialect, string> = {
  stu3: '/stu3',
  bars: '/bars',
  gpconnect: '/gpconnect',
};

/** A Slot Provider simulator for all three dialects, over one diary. */
export interface Sandbox {
  router: Router;
  diary: Diary;
}

/** Builds the sandbox from its settings; the diary is made from the seed, starting today (by the clock). */
export function createSandbox(settings: SandboxConfig, clock: Clock): Sandbox {
  const diary = new Diary({
    seed: settings.seed,
    days: settings.days,
    now: clock(),
    prebookedShare: settings.prebookedShare,
  });
  const ctx: SandboxContext = {
    diary,
    clock,
    random: seededRandom(settings.seed ^ 0x5eed),
    faults: settings.faults,
    stu3SlotConflictStatus: settings.stu3SlotConflictStatus,
  };
  const router = Router();
  router.get('/', (req, res) => {
    const base = `${req.protocol}://${req.get('host') ?? 'localhost'}${req.baseUrl}`;
    res.json({
      sandbox: 'booking-event-collector Slot Provider simulator',
      seed: settings.seed,
      dialects: Object.fromEntries(
        Object.entries(SANDBOX_DIALECT_PATHS).map(([dialect, path]) => [
          dialect,
          {
            baseUrl: `${base}${path}`,
            services: diary
              .services(dialect as Dialect)
              .map((s) => ({ dosServiceId: s.id, name: s.name, kind: s.kind, odsCode: s.odsCode })),
          },
        ]),
      ),
    });
  });
  router.use(SANDBOX_DIALECT_PATHS.stu3, stu3Routes(ctx));
  router.use(SANDBOX_DIALECT_PATHS.bars, barsRoutes(ctx));
  router.use(SANDBOX_DIALECT_PATHS.gpconnect, gpconnectRoutes(ctx));
  return { router, diary };
}

/** The sandbox as a standalone HTTP app (`npm run sandbox`), dialects at `/stu3`, `/bars`, `/gpconnect`. */
export function createSandboxApp(settings: SandboxConfig, clock: Clock): { app: Express; diary: Diary } {
  const { router, diary } = createSandbox(settings, clock);
  const app = express();
  app.disable('x-powered-by');
  app.use(router);
  return { app, diary };
}

/** The mounted sandbox as one provider per dialect, so the collector has somewhere to send traffic. */
export function sandboxProviders(baseUrl: string, diary: Diary): ProviderConfig[] {
  return (Object.keys(SANDBOX_DIALECT_PATHS) as Dialect[]).map((dialect) => ({
    id: `sandbox-${dialect}`,
    name: `Sandbox ${dialect} Slot Provider`,
    baseUrl: `${baseUrl}${SANDBOX_DIALECT_PATHS[dialect]}`,
    dialect,
    odsCode: diary.services(dialect)[0]!.odsCode,
    region: 'E40000003',
    dosServiceIds: diary.services(dialect).map((s) => s.id),
    timeouts: { connectMs: 2000, responseMs: 30000 },
    captureFullBodies: false,
  }));
}
