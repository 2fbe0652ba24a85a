import type { ReadinessCheck } from '../health/readiness.js';
import type { CapturePipeline } from './capture-pipeline.js';

/**
 * The capture pipeline on /readyz: its queue, spool and counters. Not ready only when exchanges are
 * being lost (the store is down and the spool cannot be written): a spool that is merely growing is
 * the pipeline doing its job.
 */
export function captureReadiness(capture: CapturePipeline): ReadinessCheck {
  return {
    name: 'capture',
    run() {
      const status = capture.status();
      return Promise.resolve({ ok: status.spoolWritable, detail: { ...status } });
    },
  };
}
