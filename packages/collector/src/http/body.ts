// Reads an ingest body: checks the media type and encoding before anything is read, then
// inflates gzip with a hard cap on the inflated size, so a gzip bomb stops at the limit.
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { CollectorError } from '../errors.js';

const gunzipAsync = promisify(gunzip);

/** The media type without parameters, lower-cased (`application/json; charset=utf-8` → `application/json`). */
export function mediaType(header: string | undefined): string {
  return (header ?? '').split(';', 1)[0]!.trim().toLowerCase();
}

export function requireMediaType(request: FastifyRequest, accepted: readonly string[]): string {
  const type = mediaType(request.headers['content-type']);
  if (!accepted.includes(type)) {
    throw new CollectorError(
      'unsupported_media_type',
      `Content-Type must be ${accepted.join(' or ')}${type ? `, not ${type}` : ' (none was sent)'}`,
      415,
    );
  }
  return type;
}

/** The body after Content-Encoding, at most `limit` bytes once inflated. */
export async function inflatedBody(request: FastifyRequest, limit: number): Promise<Uint8Array> {
  // Node decodes only `chunked`; a body sent with another transfer coding would be read as if it
  // had none (a proxy that applies the coding would read another body).
  const transfer = request.headers['transfer-encoding'];
  if (transfer !== undefined && transfer.trim().toLowerCase() !== 'chunked') {
    throw new CollectorError(
      'unsupported_transfer_encoding',
      `Transfer-Encoding must be chunked or absent, not ${transfer}`,
    );
  }
  const raw = request.body instanceof Buffer ? request.body : Buffer.alloc(0);
  const encoding = (request.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  if (encoding === 'identity' || encoding === '') return raw;
  if (encoding !== 'gzip' && encoding !== 'x-gzip') {
    throw new CollectorError(
      'unsupported_encoding',
      `Content-Encoding must be gzip or identity, not ${encoding}`,
      415,
    );
  }
  try {
    // maxOutputLength makes zlib stop (and fail) as soon as the output passes the limit.
    return await gunzipAsync(raw, { maxOutputLength: limit });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new CollectorError(
        'payload_too_large',
        `the inflated body is larger than the limit of ${limit} bytes`,
        413,
      );
    }
    throw new CollectorError(
      'invalid_gzip',
      `Content-Encoding is gzip but the body is not valid gzip: ${(error as Error).message}`,
    );
  }
}

/**
 * Takes every body of the plugin's routes as raw bytes, whatever its type: the routes check the
 * media type and encoding themselves, so that a wrong one is our clear 415, not a parser's.
 */
export function acceptRawBodies(app: FastifyInstance, bodyLimit: number): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit }, (_req, body, done) => done(null, body));
}

/** What every ingest route answers once its rows are committed (or discarded as is_test). */
export const ingestedResponse = {
  200: {
    type: 'object',
    properties: {
      status: { type: 'string', enum: ['stored', 'discarded', 'blocked'] },
      reports: { type: 'integer' },
      events: { type: 'integer' },
    },
  },
  429: {
    description:
      'Over a rate limit (per client address or per tracking id); `Retry-After` says when to retry',
    type: 'object',
    properties: { error: { type: 'string', enum: ['rate_limited'] }, message: { type: 'string' } },
  },
} as const;
