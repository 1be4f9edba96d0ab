// Deployment shape and release pickup: `GET /query/distribution` (sizes as buckets and
// percentiles), `GET /query/connectors` (sources and sinks by connector, format and encode) and
// `GET /query/adoption` (days until a release reaches a share of the active fleet).
import type { AdoptionAnswer, ConnectorsAnswer, DistributionAnswer } from '@tidewatch/protocol';
import type { FastifyInstance } from 'fastify';
import { requireToken } from '../auth/require-token.js';
import { DISTRIBUTION_NAMES, type DistributionName, type Store } from '../store/store.js';
import {
  dayRangeQuerySchema,
  daysOf,
  excluded,
  excludedSchema,
  type FleetQuery,
  fleetFilter,
} from './day-range.js';
import { ADOPTION_SHARES, adoption, connectorTables, distribution } from './shape.js';
import { perVersion } from './versions-route.js';

const nullableNumber = { type: ['number', 'null'] } as const;
const nullableString = { type: ['string', 'null'] } as const;

const connectorRows = {
  type: 'array',
  items: {
    type: 'object',
    properties: {
      connector: nullableString,
      format: nullableString,
      encode: nullableString,
      clusters: { type: 'integer', description: 'Clusters with at least one' },
      count: { type: 'integer', description: 'How many, over those clusters' },
    },
  },
} as const;

export async function shapeRoutes(app: FastifyInstance, opts: { store: Store }) {
  const read = requireToken(opts.store, 'read');

  app.get(
    '/query/distribution',
    {
      onRequest: read,
      schema: {
        tags: ['query'],
        summary:
          "Distribution of a size over clusters (each cluster's latest meta report in the range): buckets and percentiles",
        description:
          '`memory` is the memory of the machine the meta node runs on (bytes; buckets by powers of two GiB); ' +
          'node counts per role and stream jobs are counted in buckets 0, 1, 2, 3-4, 5-8, …',
        security: [{ bearer: [] }],
        querystring: {
          type: 'object',
          required: ['of'],
          properties: { ...dayRangeQuerySchema, of: { type: 'string', enum: DISTRIBUTION_NAMES } },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              of: { type: 'string' },
              unit: { type: 'string' },
              clusters: { type: 'integer', description: 'Clusters with a known value' },
              unknown: { type: 'integer', description: 'Clusters whose reports do not say' },
              min: nullableNumber,
              p50: nullableNumber,
              p90: nullableNumber,
              p99: nullableNumber,
              max: nullableNumber,
              buckets: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    from: { type: 'number' },
                    to: { type: 'number' },
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
    async (request): Promise<DistributionAnswer> => {
      const query = request.query as FleetQuery & { of: DistributionName };
      const filter = fleetFilter(query);
      const counted = await opts.store.distributionCounts(query.of, filter);
      return { ...distribution(counted, query.of), excluded: await excluded(opts.store, filter) };
    },
  );

  app.get(
    '/query/connectors',
    {
      onRequest: read,
      schema: {
        tags: ['query'],
        summary:
          "Sources and sinks by connector, format and encode (each cluster's latest connector_usage_json_str in the range)",
        security: [{ bearer: [] }],
        querystring: { type: 'object', properties: { ...dayRangeQuerySchema } },
        response: {
          200: {
            type: 'object',
            properties: {
              clusters: { type: 'integer', description: 'Clusters with a meta report in the range' },
              sources: connectorRows,
              sinks: connectorRows,
              excluded: excludedSchema,
            },
          },
        },
      },
    },
    async (request): Promise<ConnectorsAnswer> => {
      const filter = fleetFilter(request.query as FleetQuery);
      const counted = await opts.store.connectorUseCounts(filter);
      return {
        clusters: counted.reduce((n, c) => n + c.clusters, 0),
        ...connectorTables(counted),
        excluded: await excluded(opts.store, filter),
      };
    },
  );

  app.get(
    '/query/adoption',
    {
      onRequest: read,
      schema: {
        tags: ['query'],
        summary: `How fast each release is picked up: days from its first day until ${ADOPTION_SHARES.join('/')}% of active clusters run it`,
        security: [{ bearer: [] }],
        querystring: { type: 'object', properties: { ...dayRangeQuerySchema } },
        response: {
          200: {
            type: 'object',
            properties: {
              from: { type: 'string' },
              to: { type: 'string' },
              releases: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    version: { type: 'string' },
                    firstDay: { type: 'string', description: 'First day an active cluster ran it' },
                    beforeRange: {
                      type: 'boolean',
                      description:
                        'Already running on the first day with data in the range (released earlier: firstDay is only a bound)',
                    },
                    peakShare: { type: 'number', description: 'Highest share of active clusters, %' },
                    peakDay: { type: 'string' },
                    latestShare: { type: 'number', description: 'Share on the last day of the range, %' },
                    daysTo: {
                      type: 'object',
                      description: 'Days from firstDay until the share reached N% (null: not in the range)',
                      properties: Object.fromEntries(ADOPTION_SHARES.map((s) => [String(s), nullableNumber])),
                    },
                  },
                },
              },
              excluded: excludedSchema,
            },
          },
        },
      },
    },
    async (request): Promise<AdoptionAnswer> => {
      const filter = fleetFilter(request.query as FleetQuery);
      const days = daysOf(filter);
      const counts = perVersion(days, await opts.store.versionCounts(filter));
      return {
        from: filter.fromDay,
        to: filter.toDay,
        releases: adoption(days, counts),
        excluded: await excluded(opts.store, filter),
      };
    },
  );
}
