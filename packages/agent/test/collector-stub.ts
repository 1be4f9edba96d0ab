// A tiny collector for agent tests: a real node:http server that decodes native reports and
// answers whatever the test scripts (status codes, Retry-After, hangs, connection resets).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { type AgentReport, decodeNativeReport } from '@tidewatch/protocol';

export type Answer = number | { status: number; headers?: Record<string, string> } | 'hang' | 'reset';

export interface StubCollector {
  url: string;
  /** Reports answered 2xx, in order (a retry of an acknowledged report appears twice). */
  accepted: AgentReport[];
  /** The Content-Type of each accepted report, in order. */
  contentTypes: string[];
  /** Every request that reached the server. */
  requests: number;
  connections: number;
  /** What to answer next: a function of the request number, or a fixed answer. */
  answer: (n: number) => Answer;
  close(): Promise<void>;
}

export async function startCollector(answer: (n: number) => Answer = () => 200): Promise<StubCollector> {
  const sockets = new Set<import('node:net').Socket>();
  const stub: StubCollector = {
    url: '',
    accepted: [],
    contentTypes: [],
    requests: 0,
    connections: 0,
    answer,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const n = stub.requests++;
      const a = stub.answer(n);
      if (a === 'hang') return;
      if (a === 'reset') return req.socket.destroy();
      const { status, headers } = typeof a === 'number' ? { status: a, headers: {} } : a;
      if (status >= 200 && status < 300) {
        let body = Buffer.concat(chunks);
        if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
        const type = req.headers['content-type'] as 'application/json';
        stub.accepted.push(decodeNativeReport(new Uint8Array(body), type));
        stub.contentTypes.push(type);
      }
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end('{}');
    });
  });
  server.on('connection', (s) => {
    stub.connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  stub.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return stub;
}
