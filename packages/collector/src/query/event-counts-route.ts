// `GET /query/event-counts`: RisingWave events counted per day, stage, name, connector or cluster
// (creates, drops and recoveries per day; the clusters with the most failure recoveries).
import { type EventCountsAnswer, LIMITS } from '@tidewatch/protocol';
import type { FastifyInstance } from 'fastify';
import { requireToken } from '../auth/require-token.js';
import { EVENT_GROUPINGS, type EventGrouping, type Store } from '../store/store.js';
import { booleanParam, dayRange, dayRangeQuerySchema, excluded, excludedSchema } from './day-range.js';
import { stageFilter, stageParamSchema } from './stage-param.js';

export async function eventCountsRoute(app: FastifyInstance, opts: { store: Store }) {
  app.get(
    '/query/event-counts',
    {
      onRequest: requireToken(opts.store, 'read'),
      schema: {
        tags: ['query'],
        summary:
          'Events per day, stage, name, connector or cluster (e.g. by=trackingId&name=failure_recovery: the least reliable clusters)',
        security: [{ bearer: [] }],
        querystring: {
          type: 'object',
          required: ['by'],
          properties: {
            from: dayRangeQuerySchema.from,
            to: dayRangeQuerySchema.to,
            by: { type: 'string', enum: [...EVENT_GROUPINGS] },
            stage: stageParamSchema,
            name: { type: 'string', maxLength: LIMITS.shortStringMax },
            limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
            includeInternal: dayRangeQuerySchema.includeInternal,
          },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              rows: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    value: { type: ['string', 'null'] },
                    events: { type: 'integer' },
                    clusters: { type: 'integer' },
                  },
                },
              },
              excluded: excludedSchema,
            },
          },
        },
      },
    },
    async (request): Promise<EventCountsAnswer> => {
      const q = request.query as {
        from?: string;
        to?: string;
        by: EventGrouping;
        stage?: string;
        name?: string;
        limit: number;
        includeInternal?: string;
      };
      const range = dayRange(q);
      const includeInternal = booleanParam(q.includeInternal, 'includeInternal');
      const rows = await opts.store.eventCounts({
        ...range,
        by: q.by,
        stage: stageFilter(q.stage),
        name: q.name,
        limit: q.limit,
        includeInternal,
      });
      // RisingWave events carry no CI tag, so none is left out for CI: only internal clusters.
      return { rows, excluded: await excluded(opts.store, { ...range, includeCi: true, includeInternal }) };
    },
  );
}
