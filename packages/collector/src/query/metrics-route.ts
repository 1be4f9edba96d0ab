// `GET /query/metrics/{name}`: an agent metric across the fleet (CONTRACT.md).
import { type MetricAnswer, type MetricNamesAnswer, NAME_PATTERN } from '@tidewatch/protocol';
import type { FastifyInstance } from 'fastify';
import { requireToken } from '../auth/require-token.js';
import { CollectorError } from '../errors.js';
import type { Store } from '../store/store.js';
import { dayRangeQuerySchema, excluded, excludedSchema, type FleetQuery, fleetFilter } from './day-range.js';
import {
  cellGrouping,
  METRIC_GROUPINGS,
  MetricAggregator,
  metricFromCells,
  metricGrouping,
} from './metric-aggregate.js';
import { OneAtATime } from './one-at-a-time.js';

const nullableNumber = { type: ['number', 'null'] } as const;

/** Metric questions that may wait for the one being folded (a dashboard asks a few at a time). */
const MAX_WAITING_FOLDS = 32;

export async function metricsRoute(app: FastifyInstance, opts: { store: Store }) {
  const folds = new OneAtATime(MAX_WAITING_FOLDS);
  app.get(
    '/query/metrics',
    {
      onRequest: requireToken(opts.store, 'read'),
      schema: {
        tags: ['query'],
        summary: 'Every metric name agents have sent, with its kind, unit and how many clusters send it',
        security: [{ bearer: [] }],
        response: {
          200: {
            type: 'object',
            properties: {
              metrics: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    name: { type: 'string' },
                    kind: { type: 'string' },
                    unit: { type: 'string' },
                    clusters: { type: 'integer' },
                  },
                },
              },
            },
          },
        },
      },
    },
    async (): Promise<MetricNamesAnswer> => ({ metrics: await opts.store.metricNames() }),
  );

  app.get(
    '/query/metrics/:name',
    {
      onRequest: requireToken(opts.store, 'read'),
      schema: {
        tags: ['query'],
        summary:
          "An agent metric across the fleet: counters' totals, gauges' latest values, merged histograms' quantiles",
        security: [{ bearer: [] }],
        params: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] },
        querystring: {
          type: 'object',
          properties: {
            ...dayRangeQuerySchema,
            by: {
              type: 'string',
              maxLength: 80,
              description: `Group by ${METRIC_GROUPINGS.join(', ')}, or by one label: \`label:<key>\` (e.g. \`label:sqlstate_class\` for db.query.errors by SQLSTATE class; series without that label are the group null)`,
            },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              name: { type: 'string' },
              from: { type: 'string' },
              to: { type: 'string' },
              excluded: excludedSchema,
              kind: { type: ['string', 'null'], enum: ['counter', 'gauge', 'histogram', null] },
              rows: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    value: { type: ['string', 'null'] },
                    clusters: { type: 'integer' },
                    total: { type: 'number' },
                    last: { type: 'number' },
                    min: { type: 'number' },
                    max: { type: 'number' },
                    avg: { type: 'number' },
                    count: { type: 'number' },
                    sum: { type: 'number' },
                    p50: nullableNumber,
                    p90: nullableNumber,
                    p99: nullableNumber,
                    relativeError: {
                      type: 'number',
                      description: 'largest relative error of p50, p90 and p99 (the merged histogram scale)',
                    },
                  },
                },
              },
            },
          },
        },
      },
    },
    async (request, reply): Promise<MetricAnswer> => {
      const { name } = request.params as { name: string };
      // The names the collector stores (agents' metric names): anything else can match nothing.
      if (!NAME_PATTERN.test(name)) {
        throw new CollectorError(
          'invalid_metric_name',
          `"${name.slice(0, 40)}" is no metric name: a letter, then letters, digits, _ . - /, at most 128 (e.g. db.query.duration)`,
        );
      }
      const query = request.query as FleetQuery & { by?: string };
      const by = metricGrouping(query.by);
      const filter = fleetFilter(query);
      // Counters and histograms by a fact: the fleet cells (days × series). Gauges (each
      // cluster's latest value) and groupings by cluster or label: the per-cluster daily rollup,
      // folded a page at a time. Never the raw points.
      const grouping = cellGrouping(by);
      let answer =
        grouping === null
          ? null
          : metricFromCells(await opts.store.metricFleet({ name, ...filter }, grouping));
      // run() refuses a full queue (503 queue_full): when to ask again.
      if (!answer && folds.full) void reply.header('retry-after', '5');
      answer ??= await folds.run(
        async () => {
          const aggregator = new MetricAggregator(by);
          for await (const page of opts.store.metricRollupPages({ name, ...filter })) {
            for (const row of page) aggregator.add(row);
          }
          return aggregator.answer();
        },
        // Gone: reset, or closed its side (FIN). The server answers half-closed connections
        // (httpAllowHalfOpen), so a client that hung up looks alive until written to.
        () => request.raw.socket.destroyed || request.raw.socket.readableEnded,
      );
      return {
        name,
        from: filter.fromDay,
        to: filter.toDay,
        ...answer,
        excluded: await excluded(opts.store, filter),
      };
    },
  );
}
