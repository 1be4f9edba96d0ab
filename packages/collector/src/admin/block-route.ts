// Erased clusters stay blocked: their new reports are answered 200 and dropped (RisingWave cannot be
// told to stop sending). `GET /admin/blocked` lists them; `DELETE /admin/blocked/{trackingId}`
// lifts a block, after which the cluster's reports are stored again.
import type { FastifyInstance } from 'fastify';
import { requireToken } from '../auth/require-token.js';
import { CollectorError } from '../errors.js';
import { trackingIdParam, trackingIdParams } from '../query/tracking-id.js';
import type { Store } from '../store/store.js';
import { recordAudit } from './audit.js';

export async function blockRoutes(app: FastifyInstance, opts: { store: Store }) {
  const { store } = opts;
  const tags = ['admin'];
  app.get(
    '/admin/blocked',
    {
      onRequest: requireToken(store, 'admin'),
      schema: {
        tags,
        summary: 'Erased clusters whose new reports are dropped',
        security: [{ bearer: [] }],
        response: {
          200: {
            type: 'object',
            properties: {
              blocked: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    trackingId: { type: 'string' },
                    blockedAt: { type: 'string', format: 'date-time' },
                  },
                },
              },
            },
          },
        },
      },
    },
    async () => ({
      blocked: (await store.blockedClusters()).map((b) => ({
        trackingId: b.trackingId,
        blockedAt: new Date(b.blockedAt).toISOString(),
      })),
    }),
  );
  app.delete(
    '/admin/blocked/:trackingId',
    {
      onRequest: requireToken(store, 'admin'),
      schema: {
        tags,
        summary: "Lift an erase's block: the cluster's reports are stored again",
        security: [{ bearer: [] }],
        params: trackingIdParams,
        response: {
          200: {
            type: 'object',
            properties: { trackingId: { type: 'string' }, blocked: { type: 'boolean' } },
          },
        },
      },
    },
    async (request) => {
      const trackingId = trackingIdParam((request.params as { trackingId: string }).trackingId);
      if (!(await store.unblockCluster(trackingId))) {
        throw new CollectorError('not_found', `cluster ${trackingId} is not blocked`, 404);
      }
      await recordAudit(store, request, 'unblock', trackingId);
      return { trackingId, blocked: false };
    },
  );
}
