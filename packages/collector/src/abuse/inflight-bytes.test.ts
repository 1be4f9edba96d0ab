// The cap on body bytes held at once by all ingest requests, over real HTTP: past it a request is
// answered 503 `overloaded` before its body is read; what a finished or abandoned request held is
// given back.
import { once } from 'node:events';
import net from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startTestCollector } from '../../test-support/collector.js';
import { metaReport } from '../../test-support/risingwave.js';
import { tempDir } from '../../test-support/services.js';

const dir = tempDir();
afterAll(() => dir.remove());

/** A request whose headers say `length` body bytes, of which only the first few are sent: it holds its share. */
async function holdBody(port: number, length: number | 'chunked', headers = ''): Promise<net.Socket> {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  const framing =
    length === 'chunked' ? 'Transfer-Encoding: chunked\r\n\r\n1\r\nx' : `Content-Length: ${length}\r\n\r\nxx`;
  socket.write(
    `POST /api/v2/report/meta HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n${headers}${framing}`,
  );
  socket.on('error', () => {});
  return socket;
}

describe('--max-inflight-bytes', () => {
  it('answers 503 overloaded past the cap before reading the body, and takes requests again once bytes are given back', async () => {
    const c = await startTestCollector(`sqlite:${join(dir.path, 'a.db')}`, { maxInflightBytes: 300_000 });
    const port = Number(new URL(c.url).port);
    const report = metaReport({ trackingId: 'inflight' });
    // Small bodies pass while nothing large is held.
    expect((await c.postProto('/api/v2/report/meta', report)).status).toBe(200);
    const first = await holdBody(port, 200_000);
    await new Promise((r) => setTimeout(r, 100)); // its headers are read
    // 200,000 held: another 200,000 would pass the cap; a small report still fits.
    const refused = await fetch(`${c.url}/api/v2/report/meta`, {
      method: 'POST',
      body: new Uint8Array(200_000),
      headers: { 'content-type': 'application/x-protobuf' },
    });
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(await refused.json()).toMatchObject({
      error: 'overloaded',
      message: expect.stringContaining('--max-inflight-bytes 300000'),
    });
    expect((await c.postProto('/api/v2/report/meta', metaReport({ trackingId: 'inflight' }))).status).toBe(
      200,
    );
    // A client that goes away mid-body gives its share back.
    first.destroy();
    await expect
      .poll(
        async () =>
          (
            await fetch(`${c.url}/api/v2/report/meta`, {
              method: 'POST',
              body: new Uint8Array(200_000),
              headers: { 'content-type': 'application/x-protobuf' },
            })
          ).status,
      )
      .toBe(400); // read and decoded: zeros are no meta report
    // One request larger than the whole cap is still taken when nothing else is held.
    const alone = await fetch(`${c.url}/api/v2/report/meta`, {
      method: 'POST',
      body: new Uint8Array(400_000),
      headers: { 'content-type': 'application/x-protobuf' },
    });
    expect(alone.status).toBe(400);
    const metrics = await (await fetch(`${c.url}/metrics`)).text();
    // The one above, and any poll that came before the abandoned request's close was seen.
    expect(metrics).toMatch(/tidewatch_reports_rejected_total\{reason="overloaded"\} [1-9]/);
    await c.close();
  });
  it('lets one client address hold only a share: stalled bodies from one address leave room for the rest', async () => {
    // Behind a trusted proxy, each request's address is its X-Forwarded-For.
    const c = await startTestCollector(`sqlite:${join(dir.path, 'b.db')}`, {
      maxInflightBytes: 4 * 1024 * 1024,
      bodyLimit: 256 * 1024,
      trustProxy: true,
    });
    const port = Number(new URL(c.url).port);
    const from = (address: string) => `X-Forwarded-For: ${address}\r\n`;
    // One address declares bodies it never sends, enough for the whole cap: 256 KiB each, and one
    // without a length (counted as the body limit). Only a quarter of the cap (1 MiB) is its share.
    const stalled = [
      ...(await Promise.all(Array.from({ length: 15 }, () => holdBody(port, 256 * 1024, from('10.0.0.66'))))),
      await holdBody(port, 'chunked', from('10.0.0.66')),
    ];
    await new Promise((r) => setTimeout(r, 100)); // their headers are read
    const post = (address: string, body: Uint8Array) =>
      fetch(`${c.url}/api/v2/report/meta`, {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/x-protobuf', 'x-forwarded-for': address },
      });
    const more = await post('10.0.0.66', metaReport({ trackingId: 'share-attacker' }));
    expect(more.status).toBe(503);
    expect(await more.json()).toMatchObject({
      error: 'overloaded',
      message: expect.stringContaining('from this address'),
    });
    // Everyone else still gets through.
    for (const address of ['10.0.0.7', '10.0.0.8']) {
      expect((await post(address, metaReport({ trackingId: `share-${address}` }))).status).toBe(200);
    }
    // Its share comes back when its requests end.
    for (const socket of stalled) socket.destroy();
    await expect
      .poll(async () => (await post('10.0.0.66', metaReport({ trackingId: 'share-attacker' }))).status)
      .toBe(200);
    await c.close();
  });
});
