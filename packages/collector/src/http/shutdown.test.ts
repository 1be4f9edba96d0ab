// A request that arrives while the collector shuts down (on a connection kept alive from before)
// gets a 503 in the documented error shape, and the connection is closed; the one in flight when
// the shutdown began is stored and answered.
import { connect } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { startTestCollector } from '../../test-support/collector.js';
import { metaReport } from '../../test-support/risingwave.js';
import { tempDir } from '../../test-support/services.js';

const dir = tempDir();
afterAll(() => dir.remove());

const head = (length: number) =>
  `POST /api/v2/report/meta HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\nContent-Length: ${length}\r\n\r\n`;

describe('shutdown', () => {
  it('finishes the request in flight, and refuses the next one on that connection with a JSON 503', async () => {
    const c = await startTestCollector(`sqlite:${dir.path}/shutdown.db`);
    const { hostname, port } = new URL(c.url);
    const body = Buffer.from(metaReport());
    const socket = connect(Number(port), hostname);
    let received = '';
    socket.on('data', (chunk) => {
      received += chunk;
    });
    await new Promise((resolve) => socket.once('connect', resolve));
    // The first request is in flight (its body not all sent) when the shutdown starts.
    socket.write(head(body.length));
    socket.write(body.subarray(0, 10));
    await new Promise((resolve) => setTimeout(resolve, 200));
    const closed = c.close();
    await new Promise((resolve) => setTimeout(resolve, 100));
    // The rest of it, and right behind it a second request on the same connection.
    socket.write(Buffer.concat([body.subarray(10), Buffer.from(head(body.length)), body]));
    await new Promise((resolve) => socket.once('close', resolve));
    await closed;
    const answers = received.split(/(?=HTTP\/1\.1 )/);
    expect(answers).toHaveLength(2);
    expect(answers[0]).toMatch(/^HTTP\/1\.1 200/);
    expect(answers[0]).toContain('"status":"stored"');
    expect(answers[1]).toMatch(/^HTTP\/1\.1 503/);
    expect(answers[1]).toMatch(/\r\nconnection: close\r\n/i);
    const json = JSON.parse(answers[1]!.slice(answers[1]!.indexOf('\r\n\r\n') + 4));
    expect(json).toEqual({ error: 'shutting_down', message: expect.stringContaining('send it again') });
  });
});
