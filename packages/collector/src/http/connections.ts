// Limits on what one client can hold: connections per address, and requests answered but not read
// per connection.
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Server, Socket } from 'node:net';

/**
 * Requests one connection may have unanswered at once. RisingWave's client and the agent send one
 * request at a time; a client that pipelines more (sends the next requests before reading the
 * answers) has its connection closed.
 */
export const MAX_PIPELINED_REQUESTS = 8;

/** Told of every connection a cap closed unanswered (counted, and logged now and then). */
export type RefusedConnection = (
  cap: 'per_address' | 'max_connections' | 'pipelined',
  address: string | undefined,
) => void;

/**
 * A cap on open connections per client address: one address holding sockets open (idle, or
 * trickling headers until the deadline) could otherwise take every slot of --max-connections and
 * keep RisingWave clusters, which never retry a report, out. Counted on the TCP peer address, so
 * it is not applied behind a trusted proxy (server.ts).
 */
export function capConnectionsPerAddress(server: Server, max: number, onRefused: RefusedConnection): void {
  const open = new Map<string, number>();
  // 'connection' comes before any byte is read; TLS servers emit it for the raw socket too.
  server.on('connection', (socket: Socket) => {
    const address = socket.remoteAddress;
    if (address === undefined) return; // already closed
    const count = (open.get(address) ?? 0) + 1;
    if (count > max) {
      socket.destroy();
      onRefused('per_address', address);
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

/**
 * Closes a connection that has more than `max` requests unanswered. Node parses every request a
 * client pipelines in one write and holds each answer until the ones before it are sent, so 60
 * connections that pipelined 3,000 requests each and never read made the collector hold gigabytes
 * of answers and die. Wraps the server's request listeners (fastify's), so
 * that the requests past the cap, which Node still parses from what it had read, are never
 * handled: no answer is built for a connection that is gone. The requests already being handled
 * may be stored without their answers reaching the client; a resend is stored once (retry keys).
 * Closing once those were answered was tried: the rest of the chunk Node had read was
 * then held as request objects until the close, and a flood of 60 such connections took ~2x the
 * memory, so the close stays immediate.
 */
export function capPipelinedRequests(server: Server, max: number, onRefused: RefusedConnection): void {
  const handlers = server.listeners('request') as RequestListener[];
  server.removeAllListeners('request');
  const unanswered = new WeakMap<Socket, number>();
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    const socket = request.socket;
    const count = (unanswered.get(socket) ?? 0) + 1;
    if (count > max) {
      // Once per connection: the requests Node parsed after it come here too.
      if (!socket.destroyed) onRefused('pipelined', socket.remoteAddress);
      socket.destroy();
      return;
    }
    unanswered.set(socket, count);
    response.once('close', () => unanswered.set(socket, (unanswered.get(socket) ?? 1) - 1));
    for (const handle of handlers) handle.call(server, request, response);
  });
}

/**
 * Counts every connection a cap closed (tidewatch_connections_refused_total) and says so in the
 * log: the first at once, then one line a minute at most with how many since. A closed
 * connection is otherwise silent (the client sees a reset, and a probe from the same address too).
 */
export function refusedConnectionsReporter(
  log: { warn(object: object, message: string): void },
  counter: { inc(labels: { cap: string }): void },
  limits: { maxConnections: number; maxConnectionsPerAddress: number },
  now: () => number = Date.now,
): RefusedConnection {
  const over = {
    per_address: `--max-connections-per-address ${limits.maxConnectionsPerAddress}`,
    max_connections: `--max-connections ${limits.maxConnections}`,
    pipelined: `${MAX_PIPELINED_REQUESTS} requests unanswered on one connection`,
  };
  let lastLineAt = Number.NEGATIVE_INFINITY;
  let since = 0;
  return (cap, address) => {
    counter.inc({ cap });
    since++;
    if (now() - lastLineAt < 60_000) return;
    lastLineAt = now();
    log.warn(
      { cap, address, refusedSinceLastLine: since },
      `closed a connection unanswered: over ${over[cap]} (counted in tidewatch_connections_refused_total)`,
    );
    since = 0;
  };
}
