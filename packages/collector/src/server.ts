// Assembles the HTTP service from its plugins. Knows nothing about flags or processes: tests build
// it directly, the CLI through startCollector.

import Fastify, { type FastifyInstance, LogController } from 'fastify';
import { InflightBytes } from './abuse/inflight-bytes.js';
import { installRateLimits } from './abuse/rate-limits.js';
import { auditRoute } from './admin/audit.js';
import { blockRoutes } from './admin/block-route.js';
import { eraseRoute } from './admin/erase-route.js';
import { importRoute } from './admin/import-route.js';
import { internalRoute } from './admin/internal-route.js';
import type { CollectorConfig } from './config.js';
import { CollectorError } from './errors.js';
import { refusedConnectionsReporter } from './http/connections.js';
import {
  clientErrorHandler,
  frameworkErrorHandler,
  installErrorHandling,
  installNotFound,
  schemaErrorFormatter,
} from './http/error-handler.js';
import { loggerOptions } from './http/logging.js';
import { installOpenApi } from './http/openapi.js';
import { hardenRawServer } from './http/raw-server.js';
import { installSecurityHeaders } from './http/security-headers.js';
import { tlsFiles } from './http/tls-files.js';
import { requireUsableParameters } from './http/usable-parameters.js';
import { nativeRoute } from './ingest/native-route.js';
import { DEFAULT_SERIES_CAPS } from './ingest/native-rows.js';
import { IngestPipeline } from './ingest/pipeline.js';
import { risingwaveRoutes } from './ingest/risingwave-routes.js';
import { WriteBatcher } from './ingest/write-batcher.js';
import { dashboardRoutes } from './ops/dashboard.js';
import { healthRoutes } from './ops/health.js';
import { CollectorMetrics } from './ops/metrics.js';
import { LicenseSubjectPolicy } from './privacy/license-subject.js';
import { RetentionJob } from './privacy/retention.js';
import { activeRoute } from './query/active-route.js';
import { agentEventsRoute } from './query/agent-events-route.js';
import { breakdownRoute } from './query/breakdown-route.js';
import { clusterHistoryRoute } from './query/cluster-history-route.js';
import { clusterListRoute } from './query/cluster-list-route.js';
import { clusterRoute } from './query/cluster-route.js';
import { eventCountsRoute } from './query/event-counts-route.js';
import { eventsRoute } from './query/events-route.js';
import { metricsRoute } from './query/metrics-route.js';
import { overviewRoute } from './query/overview-route.js';
import { shapeRoutes } from './query/shape-routes.js';
import { versionsRoute } from './query/versions-route.js';
import type { Store } from './store/store.js';

export interface Collector {
  app: FastifyInstance;
  store: Store;
  batcher: WriteBatcher;
  metrics: CollectorMetrics;
}

/** What a process provides besides configuration (tests capture the log). */
export interface ServerRuntime {
  logStream?: NodeJS.WritableStream;
  /** The certificate and key, when the caller already read and checked them (startCollector). */
  tls?: { cert: Buffer; key: Buffer };
  /** Called once the server accepts connections (startCollector), before its last start-up steps. */
  onListening?: () => void;
}

export async function buildServer(
  store: Store,
  config: CollectorConfig,
  runtime: ServerRuntime = {},
): Promise<Collector> {
  // Slow clients must not hold connections open: headers and the whole request each have a
  // deadline (answered with a JSON 408 by clientErrorHandler). Node checks the deadlines only every
  // connectionsCheckingInterval (30 s by default), so check at a quarter of the shorter one.
  const requestTimeout = Math.max(config.requestTimeout, config.headersTimeout);
  const deadlines = {
    headersTimeout: config.headersTimeout,
    requestTimeout,
    connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(config.headersTimeout / 4))),
    // Node would answer an HTTP/1.1 request without Host with an empty 400; ours says why (below).
    requireHostHeader: false,
  };
  const tls =
    config.tlsCert && config.tlsKey
      ? {
          https: { ...(runtime.tls ?? tlsFiles(config.tlsCert, config.tlsKey)), ...deadlines },
        }
      : {};
  const app = Fastify({
    ...tls,
    logger: loggerOptions(config.logLevel, runtime.logStream),
    // No per-request log lines: at fleet scale they are noise, and they would carry client
    // addresses. Errors and admin actions are logged where they happen.
    logController: new LogController({ disableRequestLogging: true }),
    http: deadlines,
    requestTimeout,
    // The client address (rate limits) comes from X-Forwarded-For only behind configured proxies.
    // (A number is a hop count: fastify accepts it, its types do not say so.)
    trustProxy: config.trustProxy as boolean | string[],
    connectionTimeout: 60_000,
    keepAliveTimeout: 10_000,
    // Our own 503 once closing starts (below), in the documented error shape, not fastify's.
    return503OnClosing: false,
    clientErrorHandler,
    schemaErrorFormatter,
    // Tracking ids may be 128 characters; longer ones get our own 400, not a bare 414.
    routerOptions: { maxParamLength: 512 },
    frameworkErrors: frameworkErrorHandler(store),
  }) as unknown as FastifyInstance;
  // Request bodies outside ingest (admin routes) are JSON: a text/plain body was parsed as a string
  // and refused as "body must be object" (400) where no Content-Type was a 415; now both are 415.
  // The ingest routes take every body raw in their own scope (http/body.ts).
  app.removeContentTypeParser('text/plain');
  const metrics = new CollectorMetrics();
  hardenRawServer(
    app.server,
    config,
    refusedConnectionsReporter(app.log, metrics.connectionsRefused, config),
  );
  const batcherMetrics = metrics.batcherObserver();
  // A commit ends a store outage in the log (set once error handling is installed, below).
  let errors: ReturnType<typeof installErrorHandling> | undefined;
  const batcher = new WriteBatcher(store, {
    maxRows: config.maxBatchRows,
    // SQLite's writer thread merges whatever is queued into one commit, so two in flight keep it
    // busy. A server store waits on round trips: four transactions in flight gave PostgreSQL ~13%
    // more reports/s than two in bench:ingest; eight made batches too small.
    maxInFlight: store.kind === 'sqlite' ? 2 : 4,
    timeoutMs: config.storeTimeout,
    observer: {
      ...batcherMetrics,
      committed(batch) {
        batcherMetrics.committed(batch);
        errors?.outageOver('store_unavailable');
      },
    },
  });
  const license = config.storeLicenseSubject
    ? LicenseSubjectPolicy.clear()
    : await LicenseSubjectPolicy.hashed(store, config.licenseSalt);
  const pipeline = new IngestPipeline(
    batcher,
    metrics,
    store,
    license,
    DEFAULT_SERIES_CAPS,
    config.storeTimeout,
  );

  errors = installErrorHandling(app, (reason) => metrics.rejected.inc({ reason }));
  // From the moment shutdown starts, requests that still arrive (on kept-alive connections) are
  // refused with a clear 503 and the connection is closed; the ones already in flight finish.
  let closing = false;
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  // A callback hook, not an async one: it runs on every request, and costs nothing until then.
  app.addHook('onRequest', (request, reply, done) => {
    if (request.raw.httpVersion === '1.1' && request.headers.host === undefined) {
      return done(new CollectorError('missing_host', 'an HTTP/1.1 request needs a Host header'));
    }
    if (!closing) return done();
    void reply.header('connection', 'close');
    done(
      new CollectorError(
        'shutting_down',
        'the collector is shutting down: nothing was stored; send it again in a moment',
        503,
      ),
    );
  });
  requireUsableParameters(app);
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.requests.inc({ method: request.method, route, status: String(reply.statusCode) });
    metrics.requestSeconds.observe({ route }, reply.elapsedTime / 1000);
  });

  await installOpenApi(app);
  await installSecurityHeaders(app, config.corsOrigins);
  const limits = await installRateLimits(app, config, metrics);

  const inflight = new InflightBytes(config.maxInflightBytes, config.bodyLimit);
  const ingest = { pipeline, limits, inflight, bodyLimit: config.bodyLimit };
  await app.register(risingwaveRoutes, ingest);
  await app.register(nativeRoute, ingest);
  await app.register(clusterRoute, { store });
  await app.register(metricsRoute, { store });
  await app.register(activeRoute, { store });
  await app.register(breakdownRoute, { store });
  await app.register(eventsRoute, { store });
  await app.register(agentEventsRoute, { store });
  await app.register(eventCountsRoute, { store });
  await app.register(overviewRoute, { store });
  await app.register(versionsRoute, { store });
  await app.register(clusterListRoute, { store });
  await app.register(clusterHistoryRoute, { store });
  await app.register(shapeRoutes, { store });
  await app.register(eraseRoute, { store });
  await app.register(internalRoute, { store });
  await app.register(importRoute, {
    store,
    license,
    retentionMonths: config.retentionMonths,
    storeTimeout: config.storeTimeout,
  });
  await app.register(blockRoutes, { store });
  await app.register(auditRoute, { store });
  await app.register(healthRoutes, { store, metrics, batcher, storeTimeout: config.storeTimeout });
  await app.register(dashboardRoutes);
  await installNotFound(app);
  const retention = new RetentionJob(store, config.retentionMonths, app.log, metrics);
  app.addHook('onReady', async () => retention.start());
  app.addHook('onClose', async () => {
    await retention.stop();
    await batcher.flush();
  });
  return { app, store, batcher, metrics };
}
