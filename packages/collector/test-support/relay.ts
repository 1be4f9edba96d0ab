// A controllable TCP relay for tests of hung services (a real server behind it).
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';

/**
 * A TCP relay to a service (PostgreSQL, Redis) that can stop passing bytes, as a hung network or
 * server does: connections stay open, nothing more arrives either way; or drop them all (`cut`).
 * `url` is `target` with the relay's address in place of the service's.
 */
export async function hangableRelay(
  target: URL,
  defaultPort: number,
): Promise<{ url: string; hang(): void; cut(): void; close(): Promise<void> }> {
  let hung = false;
  let cut = false;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    if (cut) {
      client.destroy();
      return;
    }
    const upstream = connect(Number(target.port || defaultPort), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => {});
    }
    client.on('data', (d) => {
      if (!hung) upstream.write(d);
    });
    upstream.on('data', (d) => {
      if (!hung) client.write(d);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const url = new URL(target);
  url.host = `127.0.0.1:${port}`;
  return {
    url: url.toString(),
    hang: () => {
      hung = true;
    },
    /** Drops every connection, and each new one at once: a service gone (or a network cut). */
    cut: () => {
      cut = true;
      for (const s of sockets) s.destroy();
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
