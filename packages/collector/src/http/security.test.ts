// Security headers, CORS, TLS, connection limits and HTTP framing over real HTTP(S) and sockets.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, capturedLog, startTestCollector } from '../../test-support/collector.js';
import { metaReport } from '../../test-support/risingwave.js';
import { tempDir } from '../../test-support/services.js';
import { DASHBOARD_CSP } from '../ops/dashboard.js';
import { MAX_PIPELINED_REQUESTS } from './connections.js';

const dir = tempDir();
let n = 0;
const freshStore = () => `sqlite:${dir.path}/security-${n++}.db`;
afterAll(() => dir.remove());

describe('security headers', () => {
  it('are on API answers: no sniffing, no framing, a CSP that allows nothing foreign', async () => {
    const c = await startTestCollector(freshStore());
    for (const path of ['/healthz', '/query/active', '/nothing-here', '/docs', '/docs/json']) {
      const res = await c.get(path);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('x-frame-options')).toBe('DENY');
      expect(res.headers.get('referrer-policy')).toBe('no-referrer');
      expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
      expect(res.headers.get('content-security-policy')).toContain("object-src 'none'");
      expect(res.headers.get('content-security-policy')).not.toContain('upgrade-insecure-requests');
      // Plain HTTP: no HSTS (RFC 6797); over HTTPS it is there (the TLS tests below).
      expect(res.headers.get('strict-transport-security')).toBeNull();
      expect(res.headers.get('x-powered-by')).toBeNull();
    }
    await c.close();
  });

  it('send Strict-Transport-Security only when the client came over HTTPS (a trusted proxy may say so)', async () => {
    const viaProxy = { 'x-forwarded-proto': 'https' };
    const proxied = await startTestCollector(freshStore(), { trustProxy: true });
    const hsts = async (c: typeof proxied, headers: Record<string, string>) =>
      (await fetch(`${c.url}/healthz`, { headers })).headers.get('strict-transport-security');
    expect(await hsts(proxied, viaProxy)).toBe('max-age=15552000');
    expect(await hsts(proxied, {})).toBeNull();
    await proxied.close();
    // Without a trusted proxy the header is the client's word, and does not count.
    const direct = await startTestCollector(freshStore());
    expect(await hsts(direct, viaProxy)).toBeNull();
    await direct.close();
  });

  it('keep answers for a token holder out of caches, and with a wrong token too', async () => {
    const c = await startTestCollector(freshStore());
    for (const [path, token] of [
      ['/query/active', ADMIN_TOKEN],
      ['/admin/blocked', ADMIN_TOKEN],
      ['/query/active', 'wrong-token'],
    ] as const) {
      const res = await c.get(path, token);
      expect(res.headers.get('cache-control'), `${path} ${res.status}`).toBe('no-store');
    }
    await c.close();
  });

  it("answer a path out of the OpenAPI viewer's files with a JSON 403 forbidden", async () => {
    const c = await startTestCollector(freshStore());
    // Sent as is (a URL would have its dots resolved first).
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const { hostname, port } = new URL(c.url);
      httpGet({ hostname, port, path: '/docs/static/../../package.json' }, (res) => {
        let body = '';
        res.on('data', (chunk) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      }).on('error', reject);
    });
    expect(answer.status).toBe(403);
    expect(JSON.parse(answer.body)).toMatchObject({ error: 'forbidden' });
    await c.close();
  });

  it('are left off ingest answers, which database nodes read, not browsers', async () => {
    const c = await startTestCollector(freshStore());
    const res = await c.postProto('/api/v2/report/meta', metaReport());
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toBeNull();
    await c.close();
  });

  it("keep the dashboard's own stricter CSP on the dashboard", async () => {
    const c = await startTestCollector(freshStore());
    const res = await c.get('/', null);
    const csp = res.headers.get('content-security-policy');
    // Built dashboard: its CSP; not built: the home page's, which allows no script at all.
    expect(csp === DASHBOARD_CSP || csp?.startsWith("default-src 'none'")).toBe(true);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    await c.close();
  });
});

describe('CORS', () => {
  it('sends no CORS headers by default, whatever the Origin', async () => {
    const c = await startTestCollector(freshStore());
    const res = await fetch(`${c.url}/query/active`, {
      headers: { origin: 'https://evil.example', authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    const preflight = await fetch(`${c.url}/query/active`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'GET' },
    });
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
    await c.close();
  });

  it('allows exactly the configured origins', async () => {
    const c = await startTestCollector(freshStore(), { corsOrigins: ['https://ops.example'] });
    const ask = (origin: string) =>
      fetch(`${c.url}/query/active`, {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': 'GET',
          'access-control-request-headers': 'authorization',
        },
      });
    const allowed = await ask('https://ops.example');
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://ops.example');
    expect(allowed.headers.get('access-control-allow-headers')).toContain('authorization');
    const other = await ask('https://evil.example');
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    await c.close();
  });
});

/** A self-signed certificate for 127.0.0.1, made by the openssl binary. */
function selfSigned(name = 'a'): { cert: string; key: string } {
  const cert = join(dir.path, `${name}-cert.pem`);
  const key = join(dir.path, `${name}-key.pem`);
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  return { cert, key };
}

function httpsGet(
  url: string,
  ca: Buffer,
): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { ca }, (res) => {
      let body = '';
      res.on('data', (chunk) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('TLS', () => {
  it('serves HTTPS with the given certificate and key', async () => {
    const { cert, key } = selfSigned();
    const c = await startTestCollector(freshStore(), { tlsCert: cert, tlsKey: key });
    expect(c.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const res = await httpsGet(`${c.url}/healthz`, readFileSync(cert));
    expect(res.status).toBe(200);
    expect(res.headers['strict-transport-security']).toBe('max-age=15552000');
    // A client that does not trust the certificate is refused by TLS itself.
    await expect(httpsGet(`${c.url}/healthz`, Buffer.from(''))).rejects.toThrow();
    await c.close();
  });

  it('refuses a certificate without its key', async () => {
    const { cert } = selfSigned();
    await expect(startTestCollector(freshStore(), { tlsCert: cert })).rejects.toThrow(/--tls-key/);
  });

  it('names the flags and files when the certificate and key do not fit together', async () => {
    const a = selfSigned('a');
    const b = selfSigned('b');
    const refused = (tlsCert: string, tlsKey: string) =>
      startTestCollector(freshStore(), { tlsCert, tlsKey }).then(
        async (c) => {
          await c.close();
          return 'started';
        },
        (error: Error) => error.message,
      );
    // OpenSSL alone says "PEM routines::no start line" and "key values mismatch", naming no file.
    expect(await refused(a.key, a.cert)).toBe(
      `--tls-cert ${a.key} holds a private key and --tls-key ${a.cert} a certificate: the two are swapped`,
    );
    expect(await refused(a.cert, b.key)).toBe(
      `--tls-key ${b.key} is not the private key of the first certificate in --tls-cert ${a.cert} (a chain file starts with the server's own certificate)`,
    );
    // A key of another type (RSA certificate, EC key), and a chain whose first certificate is not
    // the key's: both pass OpenSSL's own check, and every handshake would fail.
    const rsaCert = join(dir.path, 'rsa-cert.pem');
    const rsaKey = join(dir.path, 'rsa-key.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        rsaKey,
        '-out',
        rsaCert,
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
    expect(await refused(rsaCert, a.key)).toMatch(
      /^--tls-key .* is not the private key of the first certificate/,
    );
    const wrongOrder = join(dir.path, 'chain-wrong.pem');
    writeFileSync(wrongOrder, Buffer.concat([readFileSync(b.cert), readFileSync(a.cert)]));
    expect(await refused(wrongOrder, a.key)).toMatch(
      /^--tls-key .* is not the private key of the first certificate/,
    );
    const rightOrder = join(dir.path, 'chain-right.pem');
    writeFileSync(rightOrder, Buffer.concat([readFileSync(a.cert), readFileSync(b.cert)]));
    expect(await refused(rightOrder, a.key)).toBe('started');
    // Refused before the store is opened: no new store file is left behind.
    const store = freshStore();
    await expect(startTestCollector(store, { tlsCert: a.key, tlsKey: a.cert })).rejects.toThrow(/swapped/);
    expect(existsSync(store.slice('sqlite:'.length))).toBe(false);
    expect(await refused(a.cert, a.cert)).toMatch(/^--tls-key .* holds no private key/);
    expect(await refused(a.key, a.key)).toMatch(/^--tls-cert .* holds no certificate/);
    const encrypted = join(dir.path, 'encrypted-key.pem');
    execFileSync('openssl', ['pkey', '-in', a.key, '-aes256', '-passout', 'pass:secret', '-out', encrypted]);
    expect(await refused(a.cert, encrypted)).toMatch(/^--tls-cert .* cannot be used: .*the key is encrypted/);
  });
});

/** Opens a TCP connection and resolves once it is established. */
function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => resolve(socket));
    socket.on('error', reject);
  });
}

/** What a request on `socket` gets before the socket closes ('' when it is dropped unread). */
function answerTo(socket: Socket): Promise<string> {
  return new Promise<string>((resolve) => {
    let data = '';
    socket.on('data', (chunk) => {
      data += chunk;
    });
    socket.on('close', () => resolve(data));
    socket.on('error', () => {});
    socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  });
}

/** GET /healthz from another loopback address (127.0.0.2), as another client would. */
function statusFrom(url: string, localAddress: string): Promise<number> {
  return new Promise((resolve, reject) => {
    httpGet(`${url}/healthz`, { localAddress }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    }).on('error', reject);
  });
}

describe('connection limit', () => {
  it('closes connections beyond --max-connections at once, says so, and serves again when some close', async () => {
    const log = capturedLog();
    const c = await startTestCollector(
      freshStore(),
      { maxConnections: 2, logLevel: 'warn' },
      { logStream: log.stream },
    );
    const port = Number(new URL(c.url).port);
    const held = [await open(port), await open(port)];
    // The server drops it without reading: the request gets no answer, only the close.
    expect(await answerTo(await open(port))).toBe('');
    expect(await answerTo(await open(port))).toBe('');
    for (const s of held) s.destroy();
    await expect
      .poll(async () => (await fetch(`${c.url}/healthz`).catch(() => null))?.status, { timeout: 10_000 })
      .toBe(200);
    // At least the two above (a health poll may be refused too while the held ones close).
    expect(await refusedCount(c.url, 'max_connections')).toBeGreaterThanOrEqual(2);
    // One line for the first; the second within the minute is only counted.
    const lines = log.lines.filter((l) => l.includes('closed a connection unanswered'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('over --max-connections 2');
    await c.close();
  });

  it('closes connections from one address beyond --max-connections-per-address; others are served', async () => {
    const log = capturedLog();
    const c = await startTestCollector(
      freshStore(),
      { maxConnectionsPerAddress: 2, logLevel: 'warn' },
      { logStream: log.stream },
    );
    const port = Number(new URL(c.url).port);
    const held = [await open(port), await open(port)];
    expect(await answerTo(await open(port))).toBe('');
    expect(await statusFrom(c.url, '127.0.0.2')).toBe(200);
    for (const s of held) s.destroy();
    await expect
      .poll(async () => (await fetch(`${c.url}/healthz`).catch(() => null))?.status, { timeout: 10_000 })
      .toBe(200);
    expect(await refusedCount(c.url, 'per_address')).toBeGreaterThanOrEqual(1);
    expect(log.lines.join('\n')).toMatch(
      /"address":"127\.0\.0\.1".*closed a connection unanswered: over --max-connections-per-address 2/,
    );
    await c.close();
    // Behind a trusted proxy every connection has the proxy's address: no cap then.
    const proxied = await startTestCollector(freshStore(), { maxConnectionsPerAddress: 2, trustProxy: true });
    const proxiedPort = Number(new URL(proxied.url).port);
    const many = [await open(proxiedPort), await open(proxiedPort)];
    expect(await answerTo(await open(proxiedPort))).toMatch(/^HTTP\/1.1 200/);
    for (const s of many) s.destroy();
    await proxied.close();
  });
});

/** tidewatch_connections_refused_total for one cap, from /metrics. */
async function refusedCount(url: string, cap: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text
    .split('\n')
    .find((l) => l.startsWith(`tidewatch_connections_refused_total{cap="${cap}"}`));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

/** Writes `bytes` in one go, optionally half-closes, and collects everything until the server closes. */
function exchange(port: number, bytes: Buffer, halfClose = false): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(bytes);
      if (halfClose) socket.end();
    });
    let data = '';
    socket.on('data', (chunk) => {
      data += chunk;
    });
    socket.on('close', () => resolve(data));
    socket.on('error', () => {}); // a reset (a connection the server closed unread) ends it too
  });
}

const answers = (data: string) => data.split(/(?=HTTP\/1\.1 \d{3} )/).filter((a) => a.startsWith('HTTP/1.1'));

describe('HTTP framing', () => {
  it('closes a connection that pipelines more requests than it reads; other clients are served', async () => {
    const c = await startTestCollector(freshStore());
    const port = Number(new URL(c.url).port);
    const one = 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n';
    // Up to the cap, pipelined requests are all answered, in order.
    const last = 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n';
    const few = answers(await exchange(port, Buffer.from(one.repeat(MAX_PIPELINED_REQUESTS - 1) + last)));
    expect(few).toHaveLength(MAX_PIPELINED_REQUESTS);
    for (const answer of few) expect(answer).toMatch(/^HTTP\/1\.1 200/);
    // Thousands in one write (each answer held until the previous is read): the connection is
    // closed after at most the cap's worth of answers, and nothing else is built for it.
    const flood = await exchange(port, Buffer.from(one.repeat(3000)));
    expect(answers(flood).length).toBeLessThanOrEqual(MAX_PIPELINED_REQUESTS);
    expect((await fetch(`${c.url}/healthz`)).status).toBe(200);
    expect(await refusedCount(c.url, 'pipelined')).toBe(1);
    await c.close();
  });

  it('over the pipelining cap, stores each report at most once, and a resend of them all stores the rest', async () => {
    const c = await startTestCollector(freshStore());
    const port = Number(new URL(c.url).port);
    const ids = Array.from({ length: MAX_PIPELINED_REQUESTS + 3 }, () => crypto.randomUUID());
    const requests = ids.map((trackingId) => {
      const body = Buffer.from(metaReport({ trackingId }));
      const head = `POST /api/v2/report/meta HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\nContent-Length: ${body.length}\r\n\r\n`;
      return Buffer.concat([Buffer.from(head), body]);
    });
    // Closed at the ninth: the eight being handled may be stored without their answers.
    const replies = answers(await exchange(port, Buffer.concat(requests)));
    expect(replies.length).toBeLessThanOrEqual(MAX_PIPELINED_REQUESTS);
    const storedCount = async (id: string) => {
      const res = await c.get(`/query/clusters/${id}`, ADMIN_TOKEN);
      return res.status === 200 ? ((await res.json()) as { reports: { meta: number } }).reports.meta : 0;
    };
    // The client resends each, one request per connection: every report stored exactly once.
    for (const request of requests) {
      expect(
        answers(
          await exchange(
            port,
            Buffer.concat([
              request.subarray(0, request.indexOf('\r\n\r\n')),
              Buffer.from('\r\nConnection: close'),
              request.subarray(request.indexOf('\r\n\r\n')),
            ]),
          ),
        )[0],
      ).toMatch(/^HTTP\/1\.1 200/);
    }
    expect(await Promise.all(ids.map(storedCount))).toEqual(ids.map(() => 1));
    await c.close();
  });

  it('answers a whole report whose client half-closes right after sending it', async () => {
    const c = await startTestCollector(freshStore());
    const port = Number(new URL(c.url).port);
    const trackingId = crypto.randomUUID();
    const body = Buffer.from(metaReport({ trackingId }));
    const head = `POST /api/v2/report/meta HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\nContent-Length: ${body.length}\r\n\r\n`;
    const data = await exchange(port, Buffer.concat([Buffer.from(head), body]), true);
    expect(data).toMatch(/^HTTP\/1\.1 200/);
    expect(data).toContain('"status":"stored"');
    expect((await c.get(`/query/clusters/${trackingId}`, ADMIN_TOKEN)).status).toBe(200);
    await c.close();
  });

  it('refuses a body sent with a transfer coding other than chunked, and stores nothing', async () => {
    const c = await startTestCollector(freshStore());
    const port = Number(new URL(c.url).port);
    const trackingId = crypto.randomUUID();
    const body = Buffer.from(metaReport({ trackingId }));
    const chunked = Buffer.concat([
      Buffer.from(`${body.length.toString(16)}\r\n`),
      body,
      Buffer.from('\r\n0\r\n\r\n'),
    ]);
    for (const coding of ['gzip, chunked', 'foo, chunked']) {
      const head = `POST /api/v2/report/meta HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\nTransfer-Encoding: ${coding}\r\nConnection: close\r\n\r\n`;
      const data = await exchange(port, Buffer.concat([Buffer.from(head), chunked]));
      expect(data, coding).toMatch(/^HTTP\/1\.1 400/);
      expect(data, coding).toContain('"error":"unsupported_transfer_encoding"');
    }
    expect((await c.get(`/query/clusters/${trackingId}`, ADMIN_TOKEN)).status).toBe(404);
    // Plain chunked is fine.
    const head = `POST /api/v2/report/meta HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n`;
    expect(await exchange(port, Buffer.concat([Buffer.from(head), chunked]))).toMatch(/^HTTP\/1\.1 200/);
    await c.close();
  });

  it('answers a request without Host, or with an Expect it cannot meet, in JSON like every other error', async () => {
    const c = await startTestCollector(freshStore());
    const port = Number(new URL(c.url).port);
    const noHost = await exchange(port, Buffer.from('GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n'));
    expect(noHost).toMatch(/^HTTP\/1\.1 400/);
    expect(noHost).toContain('"error":"missing_host"');
    // HTTP/1.0 has no Host requirement.
    expect(await exchange(port, Buffer.from('GET /healthz HTTP/1.0\r\n\r\n'))).toMatch(/^HTTP\/1\.1 200/);
    const expectation = await exchange(
      port,
      Buffer.from(
        'POST /api/v2/report/meta HTTP/1.1\r\nHost: x\r\nExpect: something-else\r\nContent-Length: 3\r\n\r\n',
      ),
    );
    expect(expectation).toMatch(/^HTTP\/1\.1 417/);
    expect(expectation).toContain('"error":"expectation_failed"');
    // A proxy tunnel request: Node's default drops the connection without an answer.
    const tunnel = await exchange(
      port,
      Buffer.from('CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n'),
    );
    expect(tunnel).toMatch(/^HTTP\/1\.1 405/);
    expect(tunnel).toContain('"error":"method_not_allowed"');
    // An Upgrade nobody serves is an ordinary request.
    const upgrade = await exchange(
      port,
      Buffer.from(
        'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, close\r\nUpgrade: websocket\r\n\r\n',
      ),
    );
    expect(upgrade).toMatch(/^HTTP\/1\.1 200/);
    expect((await c.get('/healthz')).status).toBe(200);
    await c.close();
  });
});
