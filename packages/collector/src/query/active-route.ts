// `GET /query/active`: distinct clusters with at least one stored report, per UTC day (CONTRACT.md).
// Read from the cluster_days rollup; every day of the range has a row, zero included.
import type { FastifyInstance } from 'fastify';
import { requireToken } from '../auth/require-token.js';
import type { Store } from '../store/store.js';
import { booleanParam, dayRange, dayRangeQuerySchema, daysOf } from './day-range.js';

export async function activeRoute(app: FastifyInstance, opts: { store: Store }) {
  app.get(
    '/query/active',
    {
      preHandler: requireToken(opts.store, 'read'),
      schema: {
        tags: ['query'],
        summary: 'Active clusters per day',
        security: [{ bearer: [] }],
        querystring: { type: 'object', properties: { ...dayRangeQuerySchema } },
        response: {
          200: {
            type: 'object',
            properties: {
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
    async (request) => {
      const query = request.query as { from?: string; to?: string; includeCi?: string };
      const range = dayRange(query);
      const rows = await opts.store.activeClusters({
        ...range,
        includeCi: booleanParam(query.includeCi, 'includeCi'),
      });
      const byDay = new Map(rows.map((r) => [r.day, r.clusters]));
      return { series: daysOf(range).map((day) => ({ day, clusters: byDay.get(day) ?? 0 })) };
    },
  );
}
