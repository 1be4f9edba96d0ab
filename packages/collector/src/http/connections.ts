// A cap on open connections per client address: one address holding sockets open (idle, or
// trickling headers until the deadline) could otherwise take every slot of --max-connections and
// keep RisingWave clusters, which never retry a report, out. Counted on the TCP peer address, so
// it is not applied behind a trusted proxy (server.ts).
import type { Server, Socket } from 'node:net';

export function capConnectionsPerAddress(server: Server, max: number): void {
  const open = new Map<string, number>();
  // 'connection' comes before any byte is read; TLS servers emit it for the raw socket too.
  server.on('connection', (socket: Socket) => {
    const address = socket.remoteAddress;
    if (address === undefined) return; // already closed
    const count = (open.get(address) ?? 0) + 1;
    if (count > max) {
      socket.destroy();
      return;
    }
    open.set(address, count);
    socket.once('close', () => {
      const left = (open.get(address) ?? 1) - 1;
      if (left === 0) open.delete(address);
      else open.set(address, left);
    });
  });
}
