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
      // fastify's JSON parser reads any body as UTF-8 text and ignores Content-Encoding: a gzip or
      // UTF-16 body would be misread (or answered "not valid JSON"), so both are refused by name.
      preParsing: async (request) => {
        const encoding = request.headers['content-encoding'];
        if (encoding !== undefined && encoding.trim().toLowerCase() !== 'identity') {
          throw new CollectorError(
            'unsupported_encoding',
            `Content-Encoding ${JSON.stringify(encoding)} is not accepted here: send the JSON body as is`,
            415,
          );
        }
        const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(request.headers['content-type'] ?? '')?.[1];
        if (charset !== undefined && !/^utf-?8$/i.test(charset)) {
          throw new CollectorError(
            'unsupported_media_type',
            `charset ${charset} is not accepted: send application/json in UTF-8`,
            415,
          );
        }
      },
      // Before the schema, which would coerce "true", 1 and null (null untagging a cluster) and
      // silently drop any other field (fastify's removeAdditional).
      preValidation: async (request) => {
        const body = request.body as Record<string, unknown> | null;
        if (typeof body !== 'object' || body === null || Array.isArray(body)) return;
        const extra = Object.keys(body).find((key) => key !== 'internal');
        if (extra !== undefined) {
          throw new CollectorError(
            'invalid_request',
            `the body is {"internal": true|false}, without ${JSON.stringify(extra.slice(0, 40))}`,
            400,
          );
        }
        if ('internal' in body && typeof body['internal'] !== 'boolean') {
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
