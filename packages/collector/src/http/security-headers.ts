// Security headers on every response (helmet) and CORS only for configured origins
// (@fastify/cors). The API answers JSON to scripts with a token, so its CSP forbids everything a
// page could do; the dashboard plugin replaces the CSP with its own (ops/dashboard.ts), and the
// OpenAPI viewer at /docs loads only its own files.
import type { IncomingMessage, ServerResponse } from 'node:http';
import cors from '@fastify/cors';
import type { FastifyInstance } from 'fastify';
import helmet, { type HelmetOptions } from 'helmet';

/**
 * The headers helmet sets for these options, computed once. @fastify/helmet builds a new helmet
 * middleware (parsing every CSP directive again) for each request: about 20 µs of every ingest
 * request's CPU in bench:ingest. Our headers never vary per request, so one object serves all.
 */
export function helmetHeaders(options: HelmetOptions): Record<string, string> {
  const headers: Record<string, string> = {};
  const response = {
    setHeader(name: string, value: string | number | readonly string[]) {
      headers[name.toLowerCase()] = String(value);
    },
    removeHeader(name: string) {
      delete headers[name.toLowerCase()];
    },
  };
  helmet(options)({} as IncomingMessage, response as unknown as ServerResponse, (error?: unknown) => {
    if (error) throw error;
  });
  return headers;
}

export async function installSecurityHeaders(app: FastifyInstance, corsOrigins: readonly string[]) {
  const headers = helmetHeaders({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        // The OpenAPI viewer sets some styles inline; nothing else needs it.
        styleSrc: ["'self'", "'unsafe-inline'"],
        imgSrc: ["'self'", 'data:'],
        objectSrc: ["'none'"],
        baseUri: ["'none'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
      },
    },
    // Only meaningful over HTTPS (browsers ignore it on http); not for the operator's other hosts.
    strictTransportSecurity: { maxAge: 15_552_000, includeSubDomains: false },
    referrerPolicy: { policy: 'no-referrer' },
    frameguard: { action: 'deny' },
  });
  // Strict-Transport-Security only on answers that went over HTTPS (TLS here, or a trusted proxy's
  // X-Forwarded-Proto): RFC 6797 forbids it over plain HTTP, where it would also promise an HTTPS
  // this host may not serve.
  const { 'strict-transport-security': _hsts, ...overHttp } = headers;
  // Not on the ingest routes (/api/…): their callers are database nodes, not browsers, and these
  // twelve headers were about a fifth of the main thread's CPU per ingested report.
  app.addHook('onRequest', (request, reply, done) => {
    if (!request.url.startsWith('/api/')) reply.headers(request.protocol === 'https' ? headers : overHttp);
    done();
  });
  // No CORS headers at all unless origins are configured: the dashboard is served by the collector
  // itself (same origin), and a browser page elsewhere has no business reading the fleet's data.
  if (corsOrigins.length > 0) {
    await app.register(cors, {
      origin: [...corsOrigins],
      methods: ['GET', 'POST', 'PUT', 'DELETE'],
      allowedHeaders: ['authorization', 'content-type', 'content-encoding'],
      maxAge: 600,
    });
  }
}
