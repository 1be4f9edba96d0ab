// An onRequest hook per role: `Authorization: Bearer <token>`; 401 without a valid token, 403 when a
// read token asks for an admin route (CONTRACT.md). onRequest, so that nobody without a token
// learns anything from how parameters are validated (that comes later, in preValidation).
import type { FastifyReply, FastifyRequest } from 'fastify';
import { CollectorError } from '../errors.js';
import type { Store, TokenRole } from '../store/store.js';
import { verifyToken } from './tokens.js';

/** The id of the token each authenticated request presented (for the audit log; never the secret). */
const tokenIds = new WeakMap<FastifyRequest, string>();

/**
 * The role a path needs: `/admin/…` admin, `/query/…` read, anything else none (ingest, ops). The
 * first segment is read percent-decoded, as the router reads it (`/%71uery/…` is `/query/…`), and
 * alone, so that a bad encoding further on still needs the token first.
 */
export function roleForPath(url: string): TokenRole | null {
  const match = /^\/([^/?#]*)\//.exec(url);
  if (!match) return null;
  let first = match[1]!;
  try {
    first = decodeURIComponent(first);
  } catch {
    return null; // not a segment the router decodes: no route of ours
  }
  return first === 'admin' ? 'admin' : first === 'query' ? 'read' : null;
}

export function tokenIdOf(request: FastifyRequest): string | null {
  return tokenIds.get(request) ?? null;
}

export function requireToken(store: Store, needed: TokenRole) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    // Answers for a token holder stay out of browser and proxy caches (a shared machine's cache
    // would keep fleet data after the tab is closed).
    void reply.header('cache-control', 'no-store');
    const header = request.headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) {
      void reply.header('WWW-Authenticate', 'Bearer');
      throw new CollectorError(
        'unauthorized',
        'send Authorization: Bearer <token> (see the README: Tokens)',
        401,
      );
    }
    const token = await verifyToken(store, match[1]!, Date.now());
    if (!token) {
      void reply.header('WWW-Authenticate', 'Bearer error="invalid_token"');
      throw new CollectorError('unauthorized', 'the token is unknown, revoked or expired', 401);
    }
    tokenIds.set(request, token.id);
    if (needed === 'admin' && token.role !== 'admin') {
      throw new CollectorError('forbidden', 'this route needs an admin token; yours can only read', 403);
    }
  };
}
