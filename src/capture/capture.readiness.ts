import type { ReadinessCheck } from '../health/readiness.js';
import type { CapturePipeline } from './capture-pipeline.js';

/**
 * The capture pipeline on /readyz: its queue, spool and counters. Not ready only while exchanges are
 * being lost (the spool refused rows the store could not take, and since then neither has the spool
 * taken rows nor the store answered): a spool that is merely growing is the pipeline doing its job.
 */
export function captureReadiness(capture: CapturePipeline): ReadinessCheck {
  return {
    name: 'capture',
    run() {
      const status = capture.status();
      return Promise.resolve({ ok: !status.losingCaptures, detail: { ...status } });
    },
  };
}
