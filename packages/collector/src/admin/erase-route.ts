// `DELETE /admin/clusters/{trackingId}`: erase every row of a cluster, everywhere (CONTRACT.md).
import type { FastifyInstance } from 'fastify';
import { requireToken } from '../auth/require-token.js';
import { trackingIdParam, trackingIdParams } from '../query/tracking-id.js';
import type { Store } from '../store/store.js';

export async function eraseRoute(app: FastifyInstance, opts: { store: Store }) {
  app.delete(
    '/admin/clusters/:trackingId',
    {
      preHandler: requireToken(opts.store, 'admin'),
      schema: {
        tags: ['admin'],
        summary: 'Erase everything stored for a cluster',
        security: [{ bearer: [] }],
        params: trackingIdParams,
        response: {
          200: {
            type: 'object',
            properties: {
              trackingId: { type: 'string' },
              erased: {
                type: 'object',
                properties: {
                  reports: { type: 'integer' },
                  events: { type: 'integer' },
                  agentReports: { type: 'integer' },
                },
              },
            },
          },
        },
      },
    },
    async (request) => {
      const trackingId = trackingIdParam((request.params as { trackingId: string }).trackingId);
      const erased = await opts.store.eraseCluster(trackingId);
      request.log.info({ audit: 'erase', trackingId, ...erased }, 'cluster erased');
      return { trackingId, erased };
    },
  );
}
