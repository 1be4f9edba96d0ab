// `GET /query/events`: RisingWave events newest first, filtered, with a cursor (CONTRACT.md).
import { type EventsAnswer, LIMITS } from '@tidewatch/protocol';
import type { FastifyInstance } from 'fastify';
import { requireToken } from '../auth/require-token.js';
import type { Store, StoredEvent } from '../store/store.js';
import {
  cutPage,
  invalidCursor,
  jsonOrText,
  type PageQuery,
  pageFilter,
  pageQuerySchema,
  pageResponseSchema,
} from './paging.js';
import { stageFilter, stageParamSchema } from './stage-param.js';

/** An opaque cursor: the position (receive time, id) of the last event of a page. */
function encodeCursor(e: StoredEvent): string {
  return Buffer.from(`${e.receivedAt}.${e.id}`).toString('base64url');
}

function decodeCursor(cursor: string): { receivedAt: number; id: number } {
  const match = /^(\d{1,16})\.(\d{1,16})$/.exec(Buffer.from(cursor, 'base64url').toString());
  if (!match) throw invalidCursor();
  return { receivedAt: Number(match[1]), id: Number(match[2]) };
}

export async function eventsRoute(app: FastifyInstance, opts: { store: Store }) {
  app.get(
    '/query/events',
    {
      onRequest: requireToken(opts.store, 'read'),
      schema: {
        tags: ['query'],
        summary: 'RisingWave events, newest first',
        security: [{ bearer: [] }],
        querystring: {
          type: 'object',
          properties: {
            stage: stageParamSchema,
            // As long as ingest lets them be: a stored value can always be looked for.
            name: { type: 'string', maxLength: LIMITS.shortStringMax },
            connector: {
              type: 'string',
              maxLength: LIMITS.shortStringMax,
              description: 'Events of this connector only',
            },
            ...pageQuerySchema(100),
          },
        },
        response: pageResponseSchema({
          trackingId: { type: 'string' },
          receivedAt: { type: 'string', format: 'date-time' },
          eventTime: { type: 'string', description: "The cluster's clock (informational)" },
          stage: { type: ['string', 'null'] },
          name: { type: 'string' },
          connector: { type: ['string', 'null'] },
          catalogId: { type: 'integer' },
          node: { type: 'string' },
          object: { type: ['string', 'null'] },
          attributes: {},
        }),
      },
    },
    async (request): Promise<EventsAnswer> => {
      const query = request.query as PageQuery & {
        stage?: string;
        name?: string;
        connector?: string;
      };
      const events = await opts.store.events({
        ...pageFilter(query, decodeCursor),
        stage: stageFilter(query.stage),
        name: query.name,
        connector: query.connector,
      });
      const { page, next } = cutPage(events, query.limit, encodeCursor);
      return {
        events: page.map((e) => ({
          trackingId: e.trackingId,
          receivedAt: new Date(e.receivedAt).toISOString(),
          eventTime: new Date(Math.min(e.eventTimeSec * 1000, 8.64e15)).toISOString(),
          stage: e.stage,
          name: e.name,
          connector: e.connectorName,
          catalogId: e.catalogId,
          node: e.node,
          object: e.object,
          attributes: jsonOrText(e.attributes),
        })),
        next,
      };
    },
  );
}
