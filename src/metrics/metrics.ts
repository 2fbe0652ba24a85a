import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { CapturePipeline } from '../capture/capture-pipeline.js';
import type { EpisodeStitcher } from '../derive/episode-stitcher.js';
import type { ObservedExchange } from '../proxy/exchange.js';
import { interactionKind } from './interaction-kind.js';

/** From a millisecond (what a proxy adds is measured in those) to the providers' slowest answers. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const BATCH_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30];

/** The collector's Prometheus metrics, on a registry of its own (tests build as many as they like). */
export class CollectorMetrics {
  readonly registry = new Registry();
  readonly #requests: Counter<'provider' | 'interaction' | 'status_class'>;
  readonly #duration: Histogram<'provider' | 'interaction' | 'status_class'>;
  readonly #upstream: Histogram<'provider'>;
  readonly #outcomes: Counter<'provider' | 'outcome'>;
  readonly #ingested: Counter<'type' | 'result'>;
  readonly #retained: Counter<'table'>;

  constructor(capture?: CapturePipeline, stitcher?: EpisodeStitcher) {
    collectDefaultMetrics({ register: this.registry, prefix: 'collector_' });
    const registers = [this.registry];
    this.#requests = new Counter({
      name: 'collector_proxy_requests_total',
      help: 'Requests proxied, by provider, interaction kind and status class',
      labelNames: ['provider', 'interaction', 'status_class'],
      registers,
    });
    this.#duration = new Histogram({
      name: 'collector_proxy_request_duration_seconds',
      help: 'Time from receiving a request to the end of its answer',
      labelNames: ['provider', 'interaction', 'status_class'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.#upstream = new Histogram({
      name: 'collector_upstream_duration_seconds',
      help: "Time from sending a request upstream to the end of the provider's answer",
      labelNames: ['provider'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.#ingested = new Counter({
      name: 'collector_ingest_events_total',
      help: 'Events posted to /api/events: stored (created), repeats of stored ones (duplicate), or refused',
      labelNames: ['type', 'result'],
      registers,
    });
    this.#outcomes = new Counter({
      name: 'collector_proxy_transport_outcomes_total',
      help: 'How forwarded exchanges ended: ok, timeout, reset, refused, client_aborted',
      labelNames: ['provider', 'outcome'],
      registers,
    });
    this.#retained = new Counter({
      name: 'collector_retention_deleted_total',
      help: 'Rows deleted by the retention job because they outlived their retention: exchanges, access_audit',
      labelNames: ['table'],
      registers,
    });
    if (capture) {
      new Gauge({
        name: 'collector_capture_queue_depth',
        help: 'Captured exchanges waiting in memory to be written',
        registers,
        collect() {
          this.set(capture.status().queueDepth);
        },
      });
      new Gauge({
        name: 'collector_capture_spool_bytes',
        help: 'Bytes in the capture spool, waiting for the store',
        registers,
        collect() {
          this.set(capture.status().spoolBytes);
        },
      });
      new Gauge({
        name: 'collector_capture_batch_write_seconds',
        help: 'How long the last batch write to the store took',
        registers,
        collect() {
          this.set(capture.status().lastBatchMs / 1000);
        },
      });
      new Gauge({
        name: 'collector_capture_redaction_on_worker',
        help: '1 while redaction and derivation run on their worker thread; 0 when they run on the proxy thread',
        registers,
        collect() {
          this.set(capture.status().redactingOnWorker ? 1 : 0);
        },
      });
      const batches = new Histogram({
        name: 'collector_capture_batch_write_duration_seconds',
        help: 'Batch writes to the store (one transaction each): how long each took',
        buckets: BATCH_BUCKETS,
        registers,
      });
      capture.onBatchWritten((seconds) => batches.observe(seconds));
      new Counter({
        name: 'collector_capture_exchanges_total',
        help: 'Exchanges by what the capture pipeline did with them since start: captured, written, spooled, replayed, dropped (lost: 0 in normal running)',
        labelNames: ['result'],
        registers,
        collect() {
          // The pipeline keeps its own totals; the counter is set to them as it is scraped.
          const totals: Record<string, number> = { ...capture.counters };
          this.reset();
          for (const [result, count] of Object.entries(totals)) this.inc({ result }, count);
        },
      });
    }
    if (stitcher) {
      new Counter({
        name: 'collector_episode_stitching_total',
        help: 'Episode stitching since start: events stitched, episodes opened and merged, events updated, oversized episodes, failed runs',
        labelNames: ['what'],
        registers,
        collect() {
          this.reset();
          for (const [what, count] of Object.entries(stitcher.totals)) this.inc({ what }, count);
        },
      });
      new Gauge({
        name: 'collector_episode_stitching_on_worker',
        help: '1 while episode stitching runs on its worker thread (PostgreSQL); 0 on the proxy thread (the embedded store, or the worker failed)',
        registers,
        collect() {
          this.set(stitcher.onWorker ? 1 : 0);
        },
      });
    }
  }

  /** Counts posted events by type and what became of them (`created`, `duplicate`, `refused`). */
  ingested(events: { type: string; result: 'created' | 'duplicate' | 'refused' }[]): void {
    for (const { type, result } of events) this.#ingested.inc({ type, result });
  }

  /** Counts rows the retention job deleted from a table. */
  retentionDeleted(table: 'exchanges' | 'access_audit', rows: number): void {
    this.#retained.inc({ table }, rows);
  }

  /** Counts one exchange once it is over (called after the consumer has its answer). */
  observe(exchange: ObservedExchange): void {
    const provider = exchange.route.provider.id;
    const labels = {
      provider,
      interaction: interactionKind(exchange.method, exchange.path),
      status_class: exchange.status ? `${Math.floor(exchange.status / 100)}xx` : 'none',
    };
    this.#requests.inc(labels);
    this.#duration.observe(labels, exchange.endMs / 1000);
    if (exchange.upstreamStartMs !== undefined)
      this.#upstream.observe({ provider }, (exchange.endMs - exchange.upstreamStartMs) / 1000);
    this.#outcomes.inc({ provider, outcome: exchange.outcome });
  }
}
