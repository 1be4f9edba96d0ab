// Assembles the HTTP service from its plugins. Knows nothing about flags or processes: tests build
// it directly, the CLI through startCollector.
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance, LogController } from 'fastify';
import { eraseRoute } from './admin/erase-route.js';
import { importRoute } from './admin/import-route.js';
import { internalRoute } from './admin/internal-route.js';
import { type CollectorConfig, DEFAULT_CONFIG } from './config.js';
import { clientErrorHandler, installErrorHandling } from './http/error-handler.js';
import { nativeRoute } from './ingest/native-route.js';
import { IngestPipeline } from './ingest/pipeline.js';
import { risingwaveRoutes } from './ingest/risingwave-routes.js';
import { WriteBatcher } from './ingest/write-batcher.js';
import { dashboardRoutes } from './ops/dashboard.js';
import { healthRoutes } from './ops/health.js';
import { CollectorMetrics } from './ops/metrics.js';
import { activeRoute } from './query/active-route.js';
import { breakdownRoute } from './query/breakdown-route.js';
import { clusterListRoute } from './query/cluster-list-route.js';
import { clusterRoute } from './query/cluster-route.js';
import { eventCountsRoute } from './query/event-counts-route.js';
import { eventsRoute } from './query/events-route.js';
import { metricsRoute } from './query/metrics-route.js';
import { overviewRoute } from './query/overview-route.js';
import { versionsRoute } from './query/versions-route.js';
import type { Store } from './store/store.js';

export interface Collector {
  app: FastifyInstance;
  store: Store;
  batcher: WriteBatcher;
  metrics: CollectorMetrics;
}

export async function buildServer(
  store: Store,
  config: Pick<CollectorConfig, 'bodyLimit' | 'maxBatchRows' | 'logLevel'> &
    Partial<Pick<CollectorConfig, 'headersTimeout' | 'requestTimeout'>>,
): Promise<Collector> {
  const headersTimeout = config.headersTimeout ?? DEFAULT_CONFIG.headersTimeout;
  const requestTimeout = Math.max(config.requestTimeout ?? DEFAULT_CONFIG.requestTimeout, headersTimeout);
  const app = Fastify({
    logger: { level: config.logLevel },
    // No per-request log lines: at fleet scale they are noise, and they would carry client
    // addresses. Errors and admin actions are logged where they happen.
    logController: new LogController({ disableRequestLogging: true }),
    // Slow clients must not hold connections open: headers and the whole request each have a
    // deadline (answered 408 by clientErrorHandler). Node checks the deadlines only every
    // connectionsCheckingInterval (30 s by default), so check at a quarter of the shorter one.
    http: {
      headersTimeout,
      requestTimeout,
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(headersTimeout / 4))),
    },
    requestTimeout,
    connectionTimeout: 60_000,
    keepAliveTimeout: 10_000,
    return503OnClosing: true,
    clientErrorHandler,
    // Tracking ids may be 128 characters; longer ones get our own 400, not a bare 414.
    routerOptions: { maxParamLength: 512 },
  });
  const metrics = new CollectorMetrics();
  const batcher = new WriteBatcher(store, {
    maxRows: config.maxBatchRows,
    observer: metrics.batcherObserver(),
  });
  const pipeline = new IngestPipeline(batcher, metrics, store);

  installErrorHandling(app, (reason) => metrics.rejected.inc({ reason }));
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.requests.inc({ method: request.method, route, status: String(reply.statusCode) });
    metrics.requestSeconds.observe({ route }, reply.elapsedTime / 1000);
  });

  await app.register(swagger, {
    openapi: {
      info: {
        title: 'Tidewatch collector',
        version: '0.1.0',
        description: 'Ingest (RisingWave v1/v2), query, admin and operations routes. See CONTRACT.md.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  await app.register(risingwaveRoutes, { pipeline, bodyLimit: config.bodyLimit });
  await app.register(nativeRoute, { pipeline, bodyLimit: config.bodyLimit });
  await app.register(clusterRoute, { store });
  await app.register(metricsRoute, { store });
  await app.register(activeRoute, { store });
  await app.register(breakdownRoute, { store });
  await app.register(eventsRoute, { store });
  await app.register(eventCountsRoute, { store });
  await app.register(overviewRoute, { store });
  await app.register(versionsRoute, { store });
  await app.register(clusterListRoute, { store });
  await app.register(eraseRoute, { store });
  await app.register(internalRoute, { store });
  await app.register(importRoute, { store });
  await app.register(healthRoutes, { store, metrics });
  await app.register(dashboardRoutes);
  app.addHook('onClose', async () => {
    await batcher.flush();
  });
  return { app, store, batcher, metrics };
}
