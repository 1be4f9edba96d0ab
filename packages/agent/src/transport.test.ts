import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type AgentReport, encodeReportProtobuf } from '@tidewatch/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { type StubCollector, startCollector } from '../test/collector-stub.js';
import { parseRetryAfter, send } from './transport.js';

const report: AgentReport = {
  protocol: 3,
  reportId: '0b7c6f8e-4a8e-4d3b-9a57-1f2e3d4c5b6a',
  sequence: 1,
  trackingId: 't',
  sessionId: 's',
  nodeType: 'frontend',
  isLeader: false,
  version: '',
  gitSha: '',
  clusterType: '',
  ci: false,
  isTest: false,
  intervalStartMs: 0,
  intervalEndMs: 1,
  system: {
    memoryUsed: null,
    memoryTotal: null,
    osName: '',
    osVersion: '',
    osKernel: '',
    cpuAvailable: null,
  },
  process: { heapUsed: null, eventLoopDelayP99: null, uptime: 1, runtime: '' },
  cluster: {},
  metrics: [],
  events: [],
  drops: { series: 0, events: 0, reports: 0, values: 0, errors: 0 },
  agentVersion: '0.1.0',
};

let stub: StubCollector | undefined;
afterEach(async () => stub?.close());

const post = (url: string, timeoutMs = 2000, signal = new AbortController().signal) =>
  send(encodeReportProtobuf(report), {
    url: new URL(`${url}/api/v3/report`),
    contentType: 'application/x-protobuf',
    gzip: true,
    timeoutMs,
    signal,
    now: Date.now(),
  });

describe('transport', () => {
  it('delivers a gzip protobuf report and reports ok on 2xx', async () => {
    stub = await startCollector(() => 200);
    expect(await post(stub.url)).toEqual({ outcome: 'ok', status: 200 });
    expect(stub.accepted[0]).toEqual(report);
  });

  it('asks for a retry on 5xx and 408', async () => {
    stub = await startCollector((n) => (n === 0 ? 500 : 408));
    expect((await post(stub.url)).outcome).toBe('retry');
    expect((await post(stub.url)).outcome).toBe('retry');
  });

  it('honours Retry-After on 429, in seconds or as a date', async () => {
    stub = await startCollector(() => ({ status: 429, headers: { 'retry-after': '120' } }));
    expect(await post(stub.url)).toEqual({
      outcome: 'retry',
      reason: 'collector answered 429',
      retryAfterMs: 120_000,
    });
    expect(parseRetryAfter(new Date(Date.UTC(2026, 0, 1, 0, 1)).toUTCString(), Date.UTC(2026, 0, 1))).toBe(
      60_000,
    );
    expect(parseRetryAfter('soon', 0)).toBeNull();
  });

  it('drops on other 4xx', async () => {
    stub = await startCollector(() => 400);
    expect(await post(stub.url)).toEqual({ outcome: 'drop', reason: 'collector answered 400' });
  });

  /** A server that answers every request with `answer`, for answers the stub cannot give. */
  async function answering(answer: (res: ServerResponse) => void): Promise<{ url: string; server: Server }> {
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => answer(res));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
  }

  it("names the collector's refusal code and message, reading a bounded part of the body", async () => {
    const json = await answering((res) =>
      res
        .writeHead(400, { 'content-type': 'application/json' })
        .end(JSON.stringify({ error: 'coarse_histogram', message: 'metrics[0].histogram is at\nscale -10' })),
    );
    expect(await post(json.url)).toEqual({
      outcome: 'drop',
      reason: 'collector answered 400 (coarse_histogram: metrics[0].histogram is at scale -10)', // one log line
    });
    json.server.close();
    // A refusal whose body never ends is not waited for: dropped, without a reason.
    const endless = await answering((res) => {
      res.writeHead(413, { 'content-type': 'text/plain' });
      const timer = setInterval(() => res.write('x'), 5);
      res.on('close', () => clearInterval(timer));
    });
    // (Without the bound this waits for ever: the send's own 60 s timeout no longer applies.)
    expect(await post(endless.url, 60_000)).toEqual({ outcome: 'drop', reason: 'collector answered 413' });
    endless.server.closeAllConnections();
    endless.server.close();
  });

  it('names the endpoint to configure for a redirect (without /api/v3/report)', async () => {
    const moved = await answering((res) =>
      res.writeHead(301, { location: 'https://elsewhere.example/telemetry/api/v3/report' }).end(),
    );
    expect(await post(moved.url)).toEqual({
      outcome: 'drop',
      reason: 'collector answered 301 (a redirect: set endpoint to https://elsewhere.example/telemetry)',
    });
    moved.server.close();
  });

  it('gives up on a collector that hangs, after the timeout', async () => {
    stub = await startCollector(() => 'hang');
    const started = Date.now();
    const result = await post(stub.url, 200);
    expect(result).toMatchObject({ outcome: 'retry', reason: 'no answer within 200 ms' });
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('retries after a connection reset or a refused connection', async () => {
    stub = await startCollector(() => 'reset');
    expect((await post(stub.url)).outcome).toBe('retry');
    expect((await post('http://127.0.0.1:9')).outcome).toBe('retry');
  });

  it('stops at once when aborted', async () => {
    stub = await startCollector(() => 'hang');
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 50);
    expect(await post(stub.url, 10_000, abort.signal)).toMatchObject({ outcome: 'retry' });
  });

  it('throws nothing into the host when the signal was aborted before the send began', async () => {
    // Found by test/agent-faults.test.ts: shutdown's deadline aborted between two spooled reports,
    // the next send destroyed its request before listening for errors, and "socket hang up" went
    // to the host as an uncaught exception.
    stub = await startCollector(() => 200);
    const uncaught: unknown[] = [];
    const onUncaught = (error: unknown) => uncaught.push(error);
    process.on('uncaughtException', onUncaught);
    try {
      const abort = new AbortController();
      abort.abort();
      expect(await post(stub.url, 10_000, abort.signal)).toMatchObject({ outcome: 'retry' });
      await new Promise((r) => setTimeout(r, 100)); // the request's error event would come now
    } finally {
      process.off('uncaughtException', onUncaught);
    }
    expect(uncaught).toEqual([]);
    expect(stub.requests).toBe(0);
  });
});
