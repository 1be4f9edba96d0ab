// `GET /`: the dashboard, the static files that `packages/dashboard` builds (Vite), served with
// strict security headers. If the dashboard has not been built, `/` falls back to the plain home
// page that explains how to send a first report.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import { homeRoute } from './home.js';

/**
 * The dashboard may only load what the collector serves itself: no inline scripts or styles (Vite
 * emits external files; charts set styles through the CSSOM, which CSP allows), no framing.
 */
export const DASHBOARD_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** The fallback page has its styles inline; it has no script at all. */
const HOME_CSP =
  "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/**
 * The built dashboard (`packages/dashboard/dist`): through the workspace package when it resolves,
 * else relative to this file, which sits at the same depth in `src/ops` (vitest) and `dist/ops`.
 */
export function findDashboardDir(): string | null {
  const candidates: string[] = [];
  try {
    const require = createRequire(import.meta.url);
    candidates.push(join(dirname(require.resolve('@tidewatch/dashboard/package.json')), 'dist'));
  } catch {
    // not installed as a package: try the source tree
  }
  candidates.push(fileURLToPath(new URL('../../../dashboard/dist', import.meta.url)));
  return candidates.find((dir) => existsSync(join(dir, 'index.html'))) ?? null;
}

export interface DashboardOptions {
  /** The built dashboard; default: found with findDashboardDir. `null` forces the fallback page. */
  dir?: string | null;
}

export async function dashboardRoutes(app: FastifyInstance, opts: DashboardOptions = {}) {
  const dir = opts.dir === undefined ? findDashboardDir() : opts.dir;
  // Everything registered in this (encapsulated) plugin gets the headers; the API routes do not.
  app.addHook('onSend', async (_request, reply, payload) => {
    const html = String(reply.getHeader('content-type') ?? '').startsWith('text/html');
    void reply.headers({
      'content-security-policy': dir ? DASHBOARD_CSP : HOME_CSP,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'x-frame-options': 'DENY',
      'cross-origin-opener-policy': 'same-origin',
      ...(html ? { 'cache-control': 'no-cache' } : {}),
    });
    return payload;
  });
  if (!dir) {
    app.log.warn('the dashboard is not built (npm run build -w @tidewatch/dashboard): / shows the home page');
    await app.register(homeRoute);
    return;
  }
  await app.register(fastifyStatic, {
    root: dir,
    prefix: '/',
    // One route per built file (and `/` for index.html), no catch-all: unknown paths keep the
    // collector's JSON 404.
    wildcard: false,
    index: 'index.html',
    decorateReply: false,
    schemaHide: true,
    cacheControl: false,
    setHeaders(res, path) {
      // File names under assets/ carry a content hash: cache them for good. index.html: revalidate.
      res.setHeader(
        'cache-control',
        path.includes(`${join(dir, 'assets')}`) ? 'public, max-age=31536000, immutable' : 'no-cache',
      );
    },
  });
}
