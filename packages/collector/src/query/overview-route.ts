// `GET /query/overview`: the fleet at a glance for a range: active, new, silent and total clusters,
// and how long clusters live. From the cluster_days rollup.
import type { OverviewAnswer } from '@tidewatch/protocol';
import type { FastifyInstance } from 'fastify';
import { requireToken } from '../auth/require-token.js';
import type { ClusterSpan, Store } from '../store/store.js';
import { addDays, DAY_MS } from '../utc-day.js';
import { countedPercentile } from './counted-percentile.js';
import { dayRangeQuerySchema, excluded, excludedSchema, type FleetQuery, fleetFilter } from './day-range.js';

/** A cluster that sent nothing for this many days has gone silent. */
export const SILENT_AFTER_DAYS = 7;

export function overview(spans: ClusterSpan[], fromDay: string, toDay: string) {
  // Silent in the range: the 7th day without a report fell inside it.
  const silentFrom = addDays(fromDay, -SILENT_AFTER_DAYS);
  const silentTo = addDays(toDay, -SILENT_AFTER_DAYS);
  const clusters = (which: ClusterSpan[]) => which.reduce((n, s) => n + s.clusters, 0);
  const lifetimes = spans
    .map((s) => ({ value: (Date.parse(s.lastDay) - Date.parse(s.firstDay)) / DAY_MS + 1, count: s.clusters }))
    .sort((a, b) => a.value - b.value);
  const total = clusters(spans);
  return {
    new: clusters(spans.filter((s) => s.firstDay >= fromDay && s.firstDay <= toDay)),
    silent: clusters(spans.filter((s) => s.lastDay >= silentFrom && s.lastDay <= silentTo)),
    total,
    lifetimeDays: { p50: countedPercentile(lifetimes, 0.5), p90: countedPercentile(lifetimes, 0.9) },
  };
}

export async function overviewRoute(app: FastifyInstance, opts: { store: Store }) {
  app.get(
    '/query/overview',
    {
      onRequest: requireToken(opts.store, 'read'),
      schema: {
        tags: ['query'],
        summary: 'Active, new, silent (no report for 7 days) and total clusters; cluster lifetimes',
        security: [{ bearer: [] }],
        querystring: { type: 'object', properties: { ...dayRangeQuerySchema } },
        response: {
          200: {
            type: 'object',
            properties: {
              from: { type: 'string' },
              to: { type: 'string' },
              clusters: {
                type: 'object',
                properties: {
                  active: { type: 'integer' },
                  new: { type: 'integer' },
                  silent: { type: 'integer' },
                  total: { type: 'integer', description: 'Clusters that ever reported up to `to`' },
                },
              },
              excluded: excludedSchema,
              lifetimeDays: {
                type: 'object',
                description: 'Days from first to last report, over all clusters up to `to`',
                properties: { p50: { type: ['number', 'null'] }, p90: { type: ['number', 'null'] } },
              },
            },
          },
        },
      },
    },
    async (request): Promise<OverviewAnswer> => {
      const filter = fleetFilter(request.query as FleetQuery);
      const [active, spans, left] = await Promise.all([
        opts.store.activeClusterCount(filter),
        opts.store.clusterSpans(filter),
        excluded(opts.store, filter),
      ]);
      const { lifetimeDays, ...counts } = overview(spans, filter.fromDay, filter.toDay);
      return {
        from: filter.fromDay,
        to: filter.toDay,
        clusters: { active, ...counts },
        lifetimeDays,
        excluded: left,
      };
    },
  );
}
