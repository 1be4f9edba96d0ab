// The collector's own Prometheus metrics (`GET /metrics`): requests, reports accepted and rejected
// by reason, write batches, store latency. One registry per collector, so tests and several
// collectors in one process never share counters.
import client from 'prom-client';
import type { BatcherObserver } from '../ingest/write-batcher.js';

export class CollectorMetrics {
  readonly registry = new client.Registry();
  readonly requests = new client.Counter({
    name: 'tidewatch_http_requests_total',
    help: 'HTTP requests answered, by route and status code',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });
  readonly requestSeconds = new client.Histogram({
    name: 'tidewatch_http_request_duration_seconds',
    help: 'Time from request to response, by route',
    labelNames: ['route'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly accepted = new client.Counter({
    name: 'tidewatch_reports_accepted_total',
    help: 'Reports and events acknowledged after commit, by wire protocol and kind',
    labelNames: ['protocol', 'kind'] as const,
    registers: [this.registry],
  });
  readonly rejected = new client.Counter({
    name: 'tidewatch_reports_rejected_total',
    help: 'Ingest requests refused with a 4xx or 5xx, by error code',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly discardedTest = new client.Counter({
    name: 'tidewatch_test_reports_discarded_total',
    help: 'Reports and events marked is_test: validated, answered 200, not stored',
    registers: [this.registry],
  });
  readonly flagged = new client.Counter({
    name: 'tidewatch_reports_flagged_total',
    help: 'Reports and events stored with an odd value flagged, by flag',
    labelNames: ['flag'] as const,
    registers: [this.registry],
  });
  readonly seriesDropped = new client.Counter({
    name: 'tidewatch_series_dropped_total',
    help: 'Agent metric series dropped by the per-cluster caps on metric names and label sets',
    registers: [this.registry],
  });
  readonly rateLimited = new client.Counter({
    name: 'tidewatch_rate_limited_total',
    help: 'Ingest requests refused with 429 by a rate limit, by limit (address, cluster, bytes)',
    labelNames: ['limit'] as const,
    registers: [this.registry],
  });
  readonly connectionsRefused = new client.Counter({
    name: 'tidewatch_connections_refused_total',
    help: 'Connections closed unanswered, by cap (per_address, max_connections, pipelined)',
    labelNames: ['cap'] as const,
    registers: [this.registry],
  });
  readonly blocked = new client.Counter({
    name: 'tidewatch_blocked_rows_total',
    help: 'Rows answered 200 and dropped because their cluster was erased and is blocked',
    registers: [this.registry],
  });
  readonly retentionDeleted = new client.Counter({
    name: 'tidewatch_retention_deleted_rows_total',
    help: 'Rows deleted by retention, by table',
    labelNames: ['table'] as const,
    registers: [this.registry],
  });
  readonly retentionFailures = new client.Counter({
    name: 'tidewatch_retention_failures_total',
    help: 'Retention passes that failed (each is tried again the next day; the log says why)',
    registers: [this.registry],
  });
  readonly deduplicated = new client.Counter({
    name: 'tidewatch_rows_deduplicated_total',
    help: 'Rows not stored because an identical one (a retry) already was',
    registers: [this.registry],
  });
  readonly batchRows = new client.Histogram({
    name: 'tidewatch_write_batch_rows',
    help: 'Rows per write transaction (group commit)',
    buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2000],
    registers: [this.registry],
  });
  readonly batchRequests = new client.Histogram({
    name: 'tidewatch_write_batch_requests',
    help: 'Requests answered per write transaction (group commit)',
    buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000],
    registers: [this.registry],
  });
  readonly storeSeconds = new client.Histogram({
    name: 'tidewatch_store_write_seconds',
    help: 'Time to commit one write transaction',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [this.registry],
  });
  readonly storeErrors = new client.Counter({
    name: 'tidewatch_store_errors_total',
    help: 'Write transactions the store failed to commit',
    registers: [this.registry],
  });

  constructor() {
    // Standard process_* and nodejs_* names, so existing Node.js dashboards work unchanged.
    client.collectDefaultMetrics({ register: this.registry });
  }

  batcherObserver(): BatcherObserver {
    return {
      committed: ({ rows, requests, seconds, result, submitted }) => {
        this.batchRows.observe(rows);
        this.batchRequests.observe(requests);
        this.storeSeconds.observe(seconds);
        const inserted = result.reportsInserted + result.eventsInserted + result.agentReportsInserted;
        this.blocked.inc(result.blocked);
        this.deduplicated.inc(Math.max(0, submitted - inserted - result.blocked));
      },
      failed: () => this.storeErrors.inc(),
    };
  }
}
