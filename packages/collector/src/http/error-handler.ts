// Every error leaves as `{ "error": "<code>", "message": "<what is wrong>" }` (CONTRACT.md) with
// the right status. Client mistakes are 4xx; only our own failures are 5xx, and they are logged.

import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { NODE_TYPES, ProtocolError } from '@tidewatch/protocol';
import type {
  FastifyError,
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  FastifySchemaValidationError,
} from 'fastify';
import { requireToken, roleForPath } from '../auth/require-token.js';
import { CollectorError } from '../errors.js';
import type { Store } from '../store/store.js';
import { storeUnavailable } from '../store/store-errors.js';
import { outageLogger } from './outage-log.js';

export interface ErrorBody {
  error: string;
  message: string;
}

/** Codes for a bare status from a plugin (e.g. @fastify/static's 403 on a path outside its root). */
const CODES_BY_STATUS: Record<number, string> = {
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  413: 'payload_too_large',
};

/** Fastify's own error codes (body parsing, routing) mapped to ours. */
const FASTIFY_CODES: Record<string, string> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'invalid_content_length',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_json',
  FST_ERR_VALIDATION: 'invalid_request',
};

/** Fastify's words, where they are not the whole truth or do not say what to send instead. */
const FASTIFY_MESSAGES: Record<string, string> = {
  // Also what its parser says of valid JSON with a `__proto__` key (refused: prototype poisoning).
  FST_ERR_CTP_INVALID_JSON_BODY:
    'the body is not valid JSON, or has a __proto__ or constructor.prototype key, which is refused',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'this route takes a JSON body: Content-Type must be application/json',
};

export function toErrorBody(error: unknown): { status: number; body: ErrorBody } {
  if (error instanceof ProtocolError || error instanceof CollectorError) {
    return { status: error.status, body: { error: error.code, message: error.message } };
  }
  const fastifyError = error as Partial<FastifyError>;
  const status = fastifyError.statusCode ?? 500;
  if (status >= 400 && status < 500) {
    const code = FASTIFY_CODES[fastifyError.code ?? ''] ?? CODES_BY_STATUS[status] ?? 'bad_request';
    const message = FASTIFY_MESSAGES[fastifyError.code ?? ''] ?? fastifyError.message ?? 'bad request';
    return { status, body: { error: code, message } };
  }
  return {
    status: 500,
    body: { error: 'internal', message: 'the collector failed; the error is in its log' },
  };
}

/**
 * Schema errors worded for the person who sent the request: an enum names its allowed values, and
 * a query parameter given twice (which arrives as a list) says so instead of "must be string".
 */
export function schemaErrorFormatter(errors: FastifySchemaValidationError[], dataVar: string): Error {
  const messages = errors.map((e) => {
    const where = `${dataVar}${e.instancePath}`;
    if (e.keyword === 'enum' && Array.isArray(e.params['allowedValues'])) {
      return `${where} must be one of: ${e.params['allowedValues'].join(', ')}`;
    }
    if (dataVar === 'querystring' && e.keyword === 'type' && e.params['type'] === 'string') {
      return `${where} must be given once`;
    }
    return `${where} ${e.message ?? 'is not valid'}`;
  });
  return new Error(messages.join(', '));
}

export function installErrorHandling(
  app: FastifyInstance,
  onRejected: (code: string, route: string) => void,
) {
  const outages = outageLogger(app);
  app.addHook('onClose', (_instance, done) => {
    outages.flush();
    done();
  });
  app.setErrorHandler((thrown, request, reply) => {
    const error = storeUnavailable(thrown) ?? thrown;
    const { status, body } = toErrorBody(error);
    const route = request.routeOptions.url ?? 'unknown';
    if ((error as Partial<FastifyError>).code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      // Fastify's "Request body is too large" does not say what the limit is.
      const limit = request.routeOptions.bodyLimit;
      body.message = `the body is larger than this route's limit of ${limit} bytes${route.startsWith('/api/') ? " (the collector's --body-limit)" : ''}`;
    }
    if (status >= 500 && error instanceof CollectorError) outages.log(request.log, error, route);
    else if (status >= 500) request.log.error({ err: error, route }, 'request failed');
    else request.log.debug({ route, error: body.error }, body.message);
    if (route.startsWith('/api/')) onRejected(body.error, route);
    void reply.status(status).send(body);
  });
  return { outageOver: (code: string) => outages.over(code) };
}

/**
 * An unknown route is answered 404 from an onRequest hook, before its body is read: the wrong
 * address is the caller's real mistake, and a 400 for its (unread) JSON or a 413 for its size would
 * hide it. The hook sits in a scope of its own, so it runs for the 404 handler only. Install it
 * after every application-wide hook (security headers, request metrics, shutdown): a scope gets the
 * hooks its parent has when it loads.
 */
export async function installNotFound(app: FastifyInstance): Promise<void> {
  const notFound = (request: FastifyRequest, reply: FastifyReply) => {
    const path = request.url.split('?')[0]!;
    // An ingest route asked with another method (a GET from a browser or a mistyped curl) is a 405
    // that says what the route takes, not a 404 that suggests a wrong path.
    if (request.method !== 'POST' && INGEST_PATH.test(path)) {
      return reply
        .status(405)
        .header('allow', 'POST')
        .send({
          error: 'method_not_allowed',
          message: `${path} takes POST (a report or event batch), not ${request.method}`,
        } satisfies ErrorBody);
    }
    return reply.status(404).send({ error: 'not_found', message: `no route ${request.method} ${path}` });
  };
  await app.register(async (scope) => {
    scope.addHook('onRequest', async (request, reply) => notFound(request, reply));
    scope.setNotFoundHandler(async (request, reply) => notFound(request, reply));
  });
}

/** The ingest routes' paths (CONTRACT.md): POST only. */
const INGEST_PATH = new RegExp(`^/api/(v[12]/report/(${NODE_TYPES.join('|')})|v2/report/events?|v3/report)$`);

/**
 * Errors the router raises before any route runs (a malformed or over-long URL), which fastify would
 * otherwise answer in its own shape: ours, without echoing the (possibly huge) path back. Under
 * /query and /admin the token is checked first, as on every route there: without a valid one the
 * answer is 401 (403 for a read token on /admin) whatever the URL holds.
 */
export function frameworkErrorHandler(store: Store) {
  return async (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const role = roleForPath(request.url);
    if (role !== null) {
      try {
        await requireToken(store, role)(request, reply);
      } catch (refused) {
        // A store that cannot check the token is a 503, as on the routes themselves.
        const { status, body } = toErrorBody(storeUnavailable(refused) ?? refused);
        return reply.status(status).send(body);
      }
    }
    const tooLong = error.code === 'FST_ERR_MAX_PARAM_LENGTH';
    return reply.status(tooLong ? 414 : 400).send({
      error: tooLong ? 'uri_too_long' : 'invalid_url',
      message: tooLong
        ? 'a path parameter is longer than the collector accepts (512 characters)'
        : 'the URL is not valid (bad percent-encoding)',
    } satisfies ErrorBody);
  };
}

/** Errors Node's HTTP parser raises before a request reaches a route, as our status and code. */
const CLIENT_ERRORS: Record<string, [number, string, string]> = {
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'request_timeout', 'the request (headers or body) was not sent in time'],
  HPE_HEADER_OVERFLOW: [431, 'headers_too_large', 'the request headers are too large'],
};

/**
 * Answers what fails below fastify (slow clients past headersTimeout/requestTimeout, malformed
 * HTTP) in the same JSON shape as every other error, then closes the connection.
 */
export function clientErrorHandler(error: NodeJS.ErrnoException, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, code, message] = CLIENT_ERRORS[error.code ?? ''] ?? [
    400,
    'bad_request',
    'the request is not valid HTTP/1.1',
  ];
  answerRawAndClose(socket, status, code, message);
}

/** Writes one JSON error answer straight to a socket (below fastify), then closes it. */
export function answerRawAndClose(socket: Duplex, status: number, code: string, message: string): void {
  const body = JSON.stringify({ error: code, message } satisfies ErrorBody);
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}
