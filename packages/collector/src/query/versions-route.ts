// `GET /query/versions`: version adoption over time, active clusters per version per day, for a
// stacked chart (a cluster's version on a day is that of its latest meta report known by then).
import type { VersionsAnswer } from '@tidewatch/protocol';
import type { FastifyInstance } from 'fastify';
import { requireToken } from '../auth/require-token.js';
import type { Store } from '../store/store.js';
import { compareText } from '../text-order.js';
import {
  dayRangeQuerySchema,
  daysOf,
  excluded,
  excludedSchema,
  type FleetQuery,
  fleetFilter,
} from './day-range.js';

/** Per version, its active clusters on each day of `days` (0 where none). */
export function perVersion(
  days: string[],
  rows: { day: string; version: string | null; clusters: number }[],
): Map<string | null, number[]> {
  const index = new Map(days.map((d, i) => [d, i]));
  const byVersion = new Map<string | null, number[]>();
  for (const row of rows) {
    const counts = byVersion.get(row.version) ?? new Array<number>(days.length).fill(0);
    byVersion.set(row.version, counts);
    counts[index.get(row.day)!]! += row.clusters;
  }
  return byVersion;
}

export async function versionsRoute(app: FastifyInstance, opts: { store: Store }) {
  app.get(
    '/query/versions',
    {
      onRequest: requireToken(opts.store, 'read'),
      schema: {
        tags: ['query'],
        summary: 'Active clusters per version per day (version adoption)',
        security: [{ bearer: [] }],
        querystring: { type: 'object', properties: { ...dayRangeQuerySchema } },
        response: {
          200: {
            type: 'object',
            properties: {
              days: { type: 'array', items: { type: 'string' } },
              excluded: excludedSchema,
              versions: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    version: { type: ['string', 'null'] },
                    clusters: { type: 'array', items: { type: 'integer' } },
                  },
                },
              },
            },
          },
        },
      },
    },
    async (request): Promise<VersionsAnswer> => {
      const filter = fleetFilter(request.query as FleetQuery);
      const rows = await opts.store.versionCounts(filter);
      const days = daysOf(filter);
      const byVersion = perVersion(days, rows);
      const total = (c: number[]) => c.reduce((a, b) => a + b, 0);
      const versions = [...byVersion]
        .map(([version, clusters]) => ({ version, clusters }))
        .sort((a, b) => total(b.clusters) - total(a.clusters) || compareText(a.version, b.version));
      return { days, versions, excluded: await excluded(opts.store, filter) };
    },
  );
}
