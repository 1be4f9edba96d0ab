// A preHandler per role: `Authorization: Bearer <token>`; 401 without a valid token, 403 when a
// read token asks for an admin route (CONTRACT.md).
import type { FastifyReply, FastifyRequest } from 'fastify';
import { CollectorError } from '../errors.js';
import type { Store, TokenRole } from '../store/store.js';
import { verifyToken } from './tokens.js';

export function requireToken(store: Store, needed: TokenRole) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
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
    const role = await verifyToken(store, match[1]!, Date.now());
    if (!role) {
      void reply.header('WWW-Authenticate', 'Bearer error="invalid_token"');
      throw new CollectorError('unauthorized', 'the token is unknown, revoked or expired', 401);
    }
    if (needed === 'admin' && role !== 'admin') {
      throw new CollectorError('forbidden', 'this route needs an admin token; yours can only read', 403);
    }
  };
}
