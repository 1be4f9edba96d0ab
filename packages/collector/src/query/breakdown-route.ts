// `GET /query/breakdown`: clusters per version, cluster type, meta backend, OS, object store or
// connector, by each cluster's latest meta report in the range (CONTRACT.md); a cluster active in
// the range without one counts as unknown (null).
import type { BreakdownAnswer } from '@tidewatch/protocol';
import type { FastifyInstance } from 'fastify';
import { requireToken } from '../auth/require-token.js';
import { BREAKDOWN_DIMENSIONS, type BreakdownDimension, type Store } from '../store/store.js';
import { dayRangeQuerySchema, excluded, excludedSchema, type FleetQuery, fleetFilter } from './day-range.js';

export async function breakdownRoute(app: FastifyInstance, opts: { store: Store }) {
  app.get(
    '/query/breakdown',
    {
      onRequest: requireToken(opts.store, 'read'),
      schema: {
        tags: ['query'],
        summary: 'Clusters per value of a dimension (each cluster once per value), largest first',
        security: [{ bearer: [] }],
        querystring: {
          type: 'object',
          required: ['by'],
          properties: { ...dayRangeQuerySchema, by: { type: 'string', enum: [...BREAKDOWN_DIMENSIONS] } },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              excluded: excludedSchema,
              rows: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: { value: { type: ['string', 'null'] }, clusters: { type: 'integer' } },
                },
              },
            },
          },
        },
      },
    },
    async (request): Promise<BreakdownAnswer> => {
      const query = request.query as FleetQuery & { by: BreakdownDimension };
      const filter = fleetFilter(query);
      const rows = await opts.store.breakdown(query.by, filter);
      if (query.by !== 'connector') {
        // Every cluster active in the range counts once (CONTRACT.md). Facts come from meta
        // reports: a cluster seen only through compute, frontend or compactor reports, or only
        // through agents, has none, and counts in the null row, so the rows add up to /query/active.
        const active = await opts.store.activeClusterCount(filter);
        const withoutFacts = active - rows.reduce((sum, r) => sum + r.clusters, 0);
        if (withoutFacts > 0) {
          const unknown = rows.find((r) => r.value === null);
          if (unknown) unknown.clusters += withoutFacts;
          else rows.push({ value: null, clusters: withoutFacts });
        }
      }
      // Sorted here, not in SQL, so that every store answers in the same order (collations differ).
      rows.sort(
        (a, b) =>
          b.clusters - a.clusters ||
          (a.value === b.value
            ? 0
            : a.value === null
              ? 1
              : b.value === null
                ? -1
                : a.value < b.value
                  ? -1
                  : 1),
      );
      return { rows, excluded: await excluded(opts.store, filter) };
    },
  );
}
