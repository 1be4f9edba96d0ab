// `GET /query/agent-events`: events Tidewatch agents sent (`agent.event(name, fields)`, e.g. the
// PGlite and pg integrations' `db.ddl`), newest first, filtered, with a cursor. A route of its own
// rather than a part of `/query/events`: that one's shape is pinned in CONTRACT.md around
// RisingWave's event model (stage, catalog id, connector, node), which agent events do not have;
// theirs is a name and free fields.
import { type AgentEventsAnswer, UUID_PATTERN } from '@tidewatch/protocol';
import type { FastifyInstance } from 'fastify';
import { requireToken } from '../auth/require-token.js';
import type { Store, StoredAgentEvent } from '../store/store.js';
import {
  cutPage,
  invalidCursor,
  jsonOrText,
  type PageQuery,
  pageFilter,
  pageQuerySchema,
  pageResponseSchema,
} from './paging.js';

type Position = { receivedAt: number; reportId: string; seq: number };

/** An opaque cursor: the position (receive time, report id, place in the report) of a page's last event. */
function encodeCursor(e: StoredAgentEvent): string {
  return Buffer.from(JSON.stringify([e.receivedAt, e.reportId, e.seq])).toString('base64url');
}

function decodeCursor(cursor: string): Position {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString());
  } catch {
    parsed = null;
  }
  if (
    Array.isArray(parsed) &&
    parsed.length === 3 &&
    Number.isSafeInteger(parsed[0]) &&
    typeof parsed[1] === 'string' &&
    // Report ids are UUIDs: anything else (a NUL, say, which PostgreSQL refuses) is forged.
    UUID_PATTERN.test(parsed[1]) &&
    Number.isSafeInteger(parsed[2])
  ) {
    return { receivedAt: parsed[0], reportId: parsed[1], seq: parsed[2] };
  }
  throw invalidCursor();
}

export async function agentEventsRoute(app: FastifyInstance, opts: { store: Store }) {
  app.get(
    '/query/agent-events',
    {
      onRequest: requireToken(opts.store, 'read'),
      schema: {
        tags: ['query'],
        summary:
          'Events sent by Tidewatch agents (e.g. db.ddl from the PGlite and pg integrations), newest first',
        security: [{ bearer: [] }],
        querystring: {
          type: 'object',
          properties: {
            name: { type: 'string', maxLength: 128, description: 'Events of this name only (e.g. db.ddl)' },
            ...pageQuerySchema(400),
          },
        },
        response: pageResponseSchema({
          trackingId: { type: 'string' },
          receivedAt: { type: 'string', format: 'date-time' },
          time: { type: 'string', description: "The agent's clock (informational)" },
          name: { type: 'string' },
          fields: { description: 'The fields the agent sent with the event (a JSON object)' },
        }),
      },
    },
    async (request): Promise<AgentEventsAnswer> => {
      const query = request.query as PageQuery & {
        name?: string;
      };
      const events = await opts.store.agentEvents({
        ...pageFilter(query, decodeCursor),
        name: query.name,
      });
      const { page, next } = cutPage(events, query.limit, encodeCursor);
      return {
        events: page.map((e) => ({
          trackingId: e.trackingId,
          receivedAt: new Date(e.receivedAt).toISOString(),
          time: new Date(Math.min(Math.max(e.timeMs, -8.64e15), 8.64e15)).toISOString(),
          name: e.name,
          fields: jsonOrText(e.fields),
        })),
        next,
      };
    },
  );
}
