// Liveness, readiness and metrics for orchestrators and Prometheus.
import type { FastifyInstance } from 'fastify';
import { withDeadline } from '../deadline.js';
import type { Store } from '../store/store.js';
import type { CollectorMetrics } from './metrics.js';

/** How long /readyz waits for the store to answer before it says 503. */
export const READY_TIMEOUT_MS = 2_000;

export async function healthRoutes(app: FastifyInstance, opts: { store: Store; metrics: CollectorMetrics }) {
  app.get('/healthz', { schema: { tags: ['operations'], summary: 'The process is up' } }, async () => ({
    status: 'ok',
  }));
  app.get(
    '/readyz',
    { schema: { tags: ['operations'], summary: 'The store is reachable' } },
    async (_req, reply) => {
      // Bounded: an orchestrator's probe gives up after a second or so, and a stalled store (a
      // hung connection, a full pool) made this wait up to the driver's own 10 s timeout.
      try {
        await withDeadline(
          opts.store.ping(),
          READY_TIMEOUT_MS,
          `it did not answer within ${READY_TIMEOUT_MS} ms`,
        );
        return { status: 'ready', store: opts.store.kind };
      } catch (error) {
        return reply.status(503).send({
          error: 'store_unavailable',
          message: `the ${opts.store.kind} store is not reachable: ${(error as Error).message}`,
        });
      }
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
