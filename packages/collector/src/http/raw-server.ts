// What the collector does below fastify, on Node's own HTTP server: connection caps, and clear
// answers where Node's defaults would be an empty status or a silent close.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { CollectorConfig } from '../config.js';
import {
  capConnectionsPerAddress,
  capPipelinedRequests,
  MAX_PIPELINED_REQUESTS,
  type RefusedConnection,
} from './connections.js';
import { answerRawAndClose } from './error-handler.js';

export function hardenRawServer(
  server: Server,
  config: Pick<CollectorConfig, 'maxConnections' | 'maxConnectionsPerAddress' | 'trustProxy'>,
  refused: RefusedConnection,
): void {
  // Connections beyond this are closed at once, before any byte is read: bounded memory and file
  // descriptors under a connection flood.
  server.maxConnections = config.maxConnections;
  server.on('drop', (data?: { remoteAddress?: string }) => refused('max_connections', data?.remoteAddress));
  if (config.maxConnectionsPerAddress > 0 && config.trustProxy === false) {
    capConnectionsPerAddress(server, config.maxConnectionsPerAddress, refused);
  }
  capPipelinedRequests(server, MAX_PIPELINED_REQUESTS, refused);
  // An Expect other than 100-continue: Node's own answer is an empty 417; ours says why.
  server.on('checkExpectation', (request: IncomingMessage, response: ServerResponse) => {
    const body = JSON.stringify({
      error: 'expectation_failed',
      message: `Expect: ${request.headers.expect} is not supported (only 100-continue is)`,
    });
    response.writeHead(417, { 'content-type': 'application/json', connection: 'close' }).end(body);
  });
  // CONNECT (a proxy tunnel): Node's default is to drop the connection without a word.
  server.on('connect', (_request: IncomingMessage, socket: Duplex) =>
    answerRawAndClose(
      socket,
      405,
      'method_not_allowed',
      'CONNECT is not supported: the collector is not a proxy',
    ),
  );
  // A client that half-closes its side after a whole request (FIN: `nc -N`, some HTTP/1.0
  // clients) still gets its answer, and the connection ends after it. Node's default abandons the
  // request and closes: its report was stored but it never heard so.
  (server as { httpAllowHalfOpen?: boolean }).httpAllowHalfOpen = true;
}
