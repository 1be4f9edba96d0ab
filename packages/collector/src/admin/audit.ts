// The audit log of admin actions (erase, unblock, import, token create/revoke, internal tag): who
// (the token's id, never the token), what, on what, when; kept in the store, read by admins through
// `GET /admin/audit` and `tidewatch audit`.
import type { AuditAnswer, AuditEntryAnswer } from '@tidewatch/protocol';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { requireToken, tokenIdOf } from '../auth/require-token.js';
import type { Store, StoredAuditEntry } from '../store/store.js';

export async function recordAudit(
  store: Store,
  request: FastifyRequest,
  action: string,
  target: string | null,
  details: Record<string, unknown> | null = null,
): Promise<void> {
  const entry = {
    at: Date.now(),
    actor: tokenIdOf(request) ?? 'unknown',
    action,
    target,
    details: details ? JSON.stringify(details) : null,
  };
  await store.appendAudit(entry);
  request.log.info({ audit: action, actor: entry.actor, target, ...details }, `admin action: ${action}`);
}

const entrySchema = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    at: { type: 'string', format: 'date-time' },
    actor: { type: 'string' },
    action: { type: 'string' },
    target: { type: ['string', 'null'] },
    details: { type: ['object', 'null'], additionalProperties: true },
  },
} as const;

export async function auditRoute(app: FastifyInstance, opts: { store: Store }) {
  app.get(
    '/admin/audit',
    {
      onRequest: requireToken(opts.store, 'admin'),
      schema: {
        tags: ['admin'],
        summary: 'The audit log of admin actions, newest first',
        security: [{ bearer: [] }],
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
            before: {
              type: 'integer',
              minimum: 1,
              maximum: Number.MAX_SAFE_INTEGER,
              description: 'continue after this entry id (`next`)',
            },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              entries: { type: 'array', items: entrySchema },
              next: { type: ['integer', 'null'] },
            },
          },
        },
      },
    },
    async (request): Promise<AuditAnswer> => {
      const { limit, before } = request.query as { limit: number; before?: number };
      // One more than asked for tells whether another page exists (as on the other paged routes):
      // a `next` after the last entry led to an empty page.
      const fetched = await opts.store.auditLog({ limit: limit + 1, before });
      const entries = fetched.slice(0, limit);
      return {
        entries: entries.map(auditEntryAnswer),
        next: fetched.length > limit ? entries.at(-1)!.id : null,
      };
    },
  );
}

/** An audit entry as the API answers it (and `tidewatch audit --json` prints it). */
export function auditEntryAnswer(e: StoredAuditEntry): AuditEntryAnswer {
  return {
    ...e,
    at: new Date(e.at).toISOString(),
    details: e.details ? (JSON.parse(e.details) as unknown) : null,
  };
}
