// `GET /query/active`: distinct clusters with at least one stored report, per UTC day (CONTRACT.md).
// Read from the cluster_days rollup; every day of the range has a row, zero included.
import type { ActiveAnswer } from '@tidewatch/protocol';
import type { FastifyInstance } from 'fastify';
import { requireToken } from '../auth/require-token.js';
import type { Store } from '../store/store.js';
import {
  dayRangeQuerySchema,
  daysOf,
  excluded,
  excludedSchema,
  type FleetQuery,
  fleetFilter,
} from './day-range.js';

export async function activeRoute(app: FastifyInstance, opts: { store: Store }) {
  app.get(
    '/query/active',
    {
      onRequest: requireToken(opts.store, 'read'),
      schema: {
        tags: ['query'],
        summary: 'Active clusters per day',
        security: [{ bearer: [] }],
        querystring: { type: 'object', properties: { ...dayRangeQuerySchema } },
        response: {
          200: {
            type: 'object',
            properties: {
              excluded: excludedSchema,
              series: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: { day: { type: 'string' }, clusters: { type: 'integer' } },
                },
              },
            },
          },
        },
      },
    },
    async (request): Promise<ActiveAnswer> => {
      const filter = fleetFilter(request.query as FleetQuery);
      const rows = await opts.store.activeClusters(filter);
      const byDay = new Map(rows.map((r) => [r.day, r.clusters]));
      return {
        series: daysOf(filter).map((day) => ({ day, clusters: byDay.get(day) ?? 0 })),
        excluded: await excluded(opts.store, filter),
      };
    },
  );
}
