// A real collector on a free port for tests, talked to over real HTTP.
import { Writable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { type RunningCollector, startCollector } from '../src/collector.js';
import type { CollectorConfig } from '../src/config.js';
import type { ServerRuntime } from '../src/server.js';

export const ADMIN_TOKEN = 'test-admin-token-0123456789';

/** A log stream for a collector under test, and the lines written to it. */
export function capturedLog(): { stream: Writable; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { stream, lines };
}

export interface TestCollector {
  collector: RunningCollector;
  url: string;
  post(path: string, body: Uint8Array | string, headers?: Record<string, string>): Promise<Response>;
  postProto(path: string, body: Uint8Array, gzip?: boolean): Promise<Response>;
  get(path: string, token?: string | null): Promise<Response>;
  del(path: string, token?: string | null): Promise<Response>;
  close(): Promise<void>;
}

export async function startTestCollector(
  store: string,
  overrides: Partial<CollectorConfig> = {},
  runtime: ServerRuntime = {},
): Promise<TestCollector> {
  const collector = await startCollector(
    {
      host: '127.0.0.1',
      port: 0,
      store,
      adminToken: ADMIN_TOKEN,
      logLevel: 'silent',
      ...overrides,
    },
    runtime,
  );
  const url = collector.url;
  const auth = (token: string | null | undefined): Record<string, string> =>
    token === null ? {} : { authorization: `Bearer ${token ?? ADMIN_TOKEN}` };
  const post = (path: string, body: Uint8Array | string, headers: Record<string, string> = {}) =>
    fetch(`${url}${path}`, { method: 'POST', body, headers });
  return {
    collector,
    url,
    post,
    postProto: (path, body, gzip = false) =>
      post(path, gzip ? gzipSync(body) : body, {
        'content-type': 'application/x-protobuf',
        ...(gzip ? { 'content-encoding': 'gzip' } : {}),
      }),
    get: (path, token) => fetch(`${url}${path}`, { headers: auth(token) }),
    del: (path, token) => fetch(`${url}${path}`, { method: 'DELETE', headers: auth(token) }),
    close: () => collector.close(),
  };
}
