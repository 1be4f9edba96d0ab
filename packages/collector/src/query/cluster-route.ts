// `GET /query/clusters/{trackingId}`: one cluster's facts from its latest meta report, and
// all-time counts (CONTRACT.md).
import type { ClusterAnswer } from '@tidewatch/protocol';
import type { FastifyInstance } from 'fastify';
import { requireToken } from '../auth/require-token.js';
import { CollectorError } from '../errors.js';
import type { Store } from '../store/store.js';
import { trackingIdParam, trackingIdParams } from './tracking-id.js';

const nullableString = { type: ['string', 'null'] } as const;
export const nodeCountsSchema = {
  type: 'object',
  properties: {
    meta: { type: 'integer' },
    compute: { type: 'integer' },
    frontend: { type: 'integer' },
    compactor: { type: 'integer' },
  },
} as const;

const clusterSchema = {
  type: 'object',
  properties: {
    trackingId: { type: 'string' },
    firstSeen: { type: 'string', format: 'date-time' },
    lastSeen: { type: 'string', format: 'date-time' },
    version: nullableString,
    gitSha: nullableString,
    clusterType: nullableString,
    metaBackend: nullableString,
    nodeCount: { anyOf: [nodeCountsSchema, { type: 'null' }] },
    streamJobCount: { type: ['integer', 'null'] },
    objectStore: nullableString,
    licenseTier: nullableString,
    connectors: { type: 'array', items: { type: 'string' } },
    reports: nodeCountsSchema,
    events: { type: 'integer' },
    agentReports: { type: 'integer' },
  },
} as const;

export async function clusterRoute(app: FastifyInstance, opts: { store: Store }) {
  app.get(
    '/query/clusters/:trackingId',
    {
      onRequest: requireToken(opts.store, 'read'),
      schema: {
        tags: ['query'],
        summary: "One cluster's latest facts and all-time counts",
        security: [{ bearer: [] }],
        params: trackingIdParams,
        response: { 200: clusterSchema },
      },
    },
    async (request): Promise<ClusterAnswer> => {
      const trackingId = trackingIdParam((request.params as { trackingId: string }).trackingId);
      const cluster = await opts.store.getCluster(trackingId);
      if (!cluster) throw new CollectorError('not_found', `nothing is stored for cluster ${trackingId}`, 404);
      return {
        ...cluster,
        firstSeen: new Date(cluster.firstSeen).toISOString(),
        lastSeen: new Date(cluster.lastSeen).toISOString(),
      };
    },
  );
}
