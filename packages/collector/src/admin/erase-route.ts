// `DELETE /admin/clusters/{trackingId}`: erase every row of a cluster, everywhere (CONTRACT.md), and
// block the id: its new reports are answered 200 and dropped until an admin lifts the block
// (`DELETE /admin/blocked/{trackingId}`, block-route.ts).
import type { FastifyInstance } from 'fastify';
import { requireToken } from '../auth/require-token.js';
import { trackingIdParam, trackingIdParams } from '../query/tracking-id.js';
import type { Store } from '../store/store.js';
import { recordAudit } from './audit.js';

export async function eraseRoute(app: FastifyInstance, opts: { store: Store }) {
  app.delete(
    '/admin/clusters/:trackingId',
    {
      onRequest: requireToken(opts.store, 'admin'),
      schema: {
        tags: ['admin'],
        summary: 'Erase everything stored for a cluster, and drop its new reports until unblocked',
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
      await recordAudit(opts.store, request, 'erase', trackingId, { ...erased });
      return { trackingId, erased };
    },
  );
}
