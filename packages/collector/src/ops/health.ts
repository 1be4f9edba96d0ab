// Liveness, readiness and metrics for orchestrators and Prometheus.
import type { FastifyInstance } from 'fastify';
import { withDeadline } from '../deadline.js';
import type { WriteBatcher } from '../ingest/write-batcher.js';
import type { Store } from '../store/store.js';
import type { CollectorMetrics } from './metrics.js';

/** How long /readyz waits for the store to answer before it says 503. */
export const READY_TIMEOUT_MS = 2_000;
/**
 * A write waiting this long for its commit makes the collector not ready: half the store timeout
 * (after the whole of it, writes are refused), or this when there is none. Not shorter: a write
 * that waits a few seconds behind a large import still commits, and a RisingWave node that finds
 * no ready collector does not resend its report.
 */
export const READY_STALL_MS = 15_000;
/** A failed write makes the collector not ready for this long, unless one commits meanwhile. */
export const READY_FAILURE_MS = 10_000;

export async function healthRoutes(
  app: FastifyInstance,
  opts: { store: Store; metrics: CollectorMetrics; batcher: WriteBatcher; storeTimeout: number },
) {
  const stallMs = opts.storeTimeout > 0 ? opts.storeTimeout / 2 : READY_STALL_MS;
  watchStalls(app, opts.batcher, stallMs);
  app.get('/healthz', { schema: { tags: ['operations'], summary: 'The process is up' } }, async () => ({
    status: 'ok',
  }));
  app.get(
    '/readyz',
    { schema: { tags: ['operations'], summary: 'The store is reachable and commits writes' } },
    async (_req, reply) => {
      // Bounded: an orchestrator's probe gives up after a second or so, and a stalled store (a
      // hung connection, a full pool) made this wait up to the driver's own 10 s timeout.
      try {
        await withDeadline(
          opts.store.ping(),
          READY_TIMEOUT_MS,
          `it did not answer within ${READY_TIMEOUT_MS} ms (stalled, unreachable, or every connection busy)`,
        );
      } catch (error) {
        return reply.status(503).send({
          error: 'store_unavailable',
          message: `the ${opts.store.kind} store is not answering: ${(error as Error).message}`,
        });
      }
      // A store can answer a ping while no write commits (a table lock, a full disk, a writer
      // holding SQLite's lock): ingest then answers 503 after the store timeout, so say not ready.
      // Checked after the ping, so that a store that is down is not called reachable.
      const trouble = opts.batcher.writeTrouble(stallMs, READY_FAILURE_MS);
      if (trouble) {
        return reply.status(503).send({
          error: 'store_unavailable',
          message: `the ${opts.store.kind} store is reachable but not committing writes: ${trouble}`,
        });
      }
      return { status: 'ready', store: opts.store.kind };
    },
  );
  app.get(
    '/metrics',
    { schema: { tags: ['operations'], summary: 'Prometheus metrics of the collector itself' } },
    async (_req, reply) => {
      const text = await opts.metrics.registry.metrics();
      return reply.type(opts.metrics.registry.contentType).send(text);
    },
  );
}

/**
 * Says a stall in the log when /readyz starts saying it: before, the first line came with the
 * first 503, a whole --store-timeout after the store stopped committing (a load review watched a
 * held table lock for 30 s of silence). Once per stall, and once when writes commit again.
 */
function watchStalls(app: FastifyInstance, batcher: WriteBatcher, stallMs: number): void {
  let stalled = false;
  const timer = setInterval(() => {
    const trouble = batcher.writeTrouble(stallMs, 0);
    if (trouble && !stalled) {
      app.log.warn(
        `the store is not committing writes: ${trouble}; /readyz answers 503 until it does, and ingest answers 503 once a write waits past --store-timeout`,
      );
    } else if (!trouble && stalled) {
      app.log.info('the store commits writes again');
    }
    stalled = trouble !== null;
  }, 1_000);
  timer.unref();
  app.addHook('onClose', (_instance, done) => {
    clearInterval(timer);
    done();
  });
}
