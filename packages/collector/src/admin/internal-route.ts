// `PUT /admin/clusters/{trackingId}/internal`: tag a cluster as internal (the team's own, or
// cloud-hosted ones) so that fleet statistics leave it out unless asked (`includeInternal=true`).
import type { FastifyInstance } from 'fastify';
import { requireToken } from '../auth/require-token.js';
import { CollectorError } from '../errors.js';
import { trackingIdParam, trackingIdParams } from '../query/tracking-id.js';
import type { Store } from '../store/store.js';
import { recordAudit } from './audit.js';

export async function internalRoute(app: FastifyInstance, opts: { store: Store }) {
  app.put(
    '/admin/clusters/:trackingId/internal',
    {
      onRequest: requireToken(opts.store, 'admin'),
      // Before the schema, which would coerce "true", 1 and null (null untagging a cluster).
      preValidation: async (request) => {
        const body = request.body as { internal?: unknown } | null;
        if (
          typeof body === 'object' &&
          body !== null &&
          'internal' in body &&
          typeof body.internal !== 'boolean'
        ) {
          throw new CollectorError('invalid_request', 'internal must be true or false', 400);
        }
      },
      schema: {
        tags: ['admin'],
        summary: 'Tag a cluster as internal (left out of statistics by default) or not',
        security: [{ bearer: [] }],
        params: trackingIdParams,
        body: {
          type: 'object',
          required: ['internal'],
          additionalProperties: false,
          properties: { internal: { type: 'boolean' } },
        },
        response: {
          200: {
            type: 'object',
            properties: { trackingId: { type: 'string' }, internal: { type: 'boolean' } },
          },
        },
      },
    },
    async (request) => {
      const trackingId = trackingIdParam((request.params as { trackingId: string }).trackingId);
      const { internal } = request.body as { internal: boolean };
      if (!(await opts.store.setInternal(trackingId, internal))) {
        throw new CollectorError('not_found', `nothing is stored for cluster ${trackingId}`, 404);
      }
      await recordAudit(opts.store, request, 'tag_internal', trackingId, { internal });
      return { trackingId, internal };
    },
  );
}
