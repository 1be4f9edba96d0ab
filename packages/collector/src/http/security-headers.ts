// Security headers on every response (@fastify/helmet) and CORS only for configured origins
// (@fastify/cors). The API answers JSON to scripts with a token, so its CSP forbids everything a
// page could do; the dashboard plugin replaces the CSP with its own (ops/dashboard.ts), and the
// OpenAPI viewer at /docs loads only its own files.
import cors from '@fastify/cors';
import helmet from '@fastify/helmet';
import type { FastifyInstance } from 'fastify';

export async function installSecurityHeaders(app: FastifyInstance, corsOrigins: readonly string[]) {
  await app.register(helmet, {
    global: true,
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
