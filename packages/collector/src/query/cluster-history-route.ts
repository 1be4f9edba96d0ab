// `GET /query/clusters/{trackingId}/history`: one cluster over a range: its facts day by day (from
// its latest meta report of each day) and its sessions (each node or agent process between restarts).
import type { HistoryAnswer } from '@tidewatch/protocol';
import type { FastifyInstance } from 'fastify';
import { requireToken } from '../auth/require-token.js';
import { CollectorError } from '../errors.js';
import type { Store } from '../store/store.js';
import { nodeCountsSchema } from './cluster-route.js';
import { dayRange, dayRangeQuerySchema } from './day-range.js';
import { trackingIdParam, trackingIdParams } from './tracking-id.js';

const nullableString = { type: ['string', 'null'] } as const;
const nullableNumber = { type: ['number', 'null'] } as const;

export async function clusterHistoryRoute(app: FastifyInstance, opts: { store: Store }) {
  app.get(
    '/query/clusters/:trackingId/history',
    {
      onRequest: requireToken(opts.store, 'read'),
      schema: {
        tags: ['query'],
        summary: "One cluster's facts per day and its sessions (nodes and agents between restarts)",
        security: [{ bearer: [] }],
        params: trackingIdParams,
        querystring: {
          type: 'object',
          properties: { from: dayRangeQuerySchema.from, to: dayRangeQuerySchema.to },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              trackingId: { type: 'string' },
              from: { type: 'string' },
              to: { type: 'string' },
              days: {
                type: 'array',
                description: 'Days with a meta report, oldest first',
                items: {
                  type: 'object',
                  properties: {
                    day: { type: 'string' },
                    factsAt: { type: 'string', format: 'date-time' },
                    version: nullableString,
                    clusterType: nullableString,
                    metaBackend: nullableString,
                    os: nullableString,
                    objectStore: nullableString,
                    licenseTier: nullableString,
                    memoryTotal: nullableNumber,
                    nodeCount: { anyOf: [nodeCountsSchema, { type: 'null' }] },
                    streamJobCount: nullableNumber,
                    connectors: { type: 'array', items: { type: 'string' } },
                  },
                },
              },
              sessions: {
                type: 'array',
                description: 'Most recently seen first',
                items: {
                  type: 'object',
                  properties: {
                    sessionId: { type: 'string' },
                    nodeType: { type: 'string' },
                    source: { type: 'string', enum: ['risingwave', 'agent'] },
                    firstSeen: { type: 'string', format: 'date-time' },
                    lastSeen: { type: 'string', format: 'date-time' },
                    reports: { type: 'integer' },
                    memoryTotal: nullableNumber,
                    cpuAvailable: nullableNumber,
                  },
                },
              },
            },
          },
        },
      },
    },
    async (request): Promise<HistoryAnswer> => {
      const trackingId = trackingIdParam((request.params as { trackingId: string }).trackingId);
      const range = dayRange(request.query as { from?: string; to?: string });
      const history = await opts.store.clusterHistory({ trackingId, ...range });
      if (
        history.days.length === 0 &&
        history.sessions.length === 0 &&
        !(await opts.store.getCluster(trackingId))
      ) {
        throw new CollectorError('not_found', `nothing is stored for cluster ${trackingId}`, 404);
      }
      const iso = (ms: number) => new Date(ms).toISOString();
      return {
        trackingId,
        from: range.fromDay,
        to: range.toDay,
        days: history.days.map(({ trackingId: _, connectorUsage: __, factsAt, ...facts }) => ({
          ...facts,
          factsAt: iso(factsAt),
        })),
        sessions: history.sessions.map((s) => ({
          ...s,
          firstSeen: iso(s.firstSeen),
          lastSeen: iso(s.lastSeen),
        })),
      };
    },
  );
}
