// Query and path parameters every store can take: no NUL character (PostgreSQL text cannot hold
// it; a query with one fails inside the driver) and no infinite number (a schema coerces "1e309"
// to Infinity, which no LIMIT takes). Checked once for every route, after schema validation.
import type { FastifyInstance } from 'fastify';
import { CollectorError } from '../errors.js';

function check(values: unknown, where: string): void {
  if (typeof values !== 'object' || values === null) return;
  for (const [name, value] of Object.entries(values)) {
    for (const v of Array.isArray(value) ? value : [value]) {
      if (typeof v === 'string' && v.includes('\0')) {
        throw new CollectorError('invalid_parameter', `${where} ${name} must not contain a NUL character`);
      }
      if (typeof v === 'number' && !Number.isFinite(v)) {
        throw new CollectorError('invalid_parameter', `${where} ${name} must be a finite number`);
      }
    }
  }
}

export function requireUsableParameters(app: FastifyInstance): void {
  app.addHook('preHandler', async (request) => {
    check(request.params, 'path parameter');
    check(request.query, 'query parameter');
  });
}
