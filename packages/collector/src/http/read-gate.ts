// One SQLite read at a time, with the event loop turned between two of them. On SQLite a read runs
// on the main thread (better-sqlite3 is synchronous; only writes have a thread of their own), from
// its first statement to its last, and nothing else is answered meanwhile: reports, /healthz. A
// review with four dashboard clients asking for 400-day answers on a 1.4M-report store held
// ingest for up to 33 s, as each read started the moment the previous one ended. Through the gate
// what arrived during a read (a report, a probe) is taken before the next read starts: in the same
// test the median report waited 1 s instead of 19, though the worst still waited 27 s (README,
// Stores). PostgreSQL and ClickHouse reads do not block the loop.
import type { FastifyInstance, preHandlerAsyncHookHandler } from 'fastify';

export class ReadGate {
  private busy = false;
  private readonly waiting: (() => void)[] = [];

  /** Waits for the gate; the function it answers lets the next read in (once). */
  async enter(): Promise<() => void> {
    if (this.busy) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.busy = true;
    let left = false;
    return () => {
      if (left) return;
      left = true;
      // Two immediates: between them the loop passes its poll phase whichever phase this runs
      // in, so the I/O that became ready during the read (requests, replies from the writer
      // thread) is taken first; a resolved promise, or one immediate from the poll phase, would
      // start the next read before it.
      setImmediate(() =>
        setImmediate(() => {
          const next = this.waiting.shift();
          if (next) next();
          else this.busy = false;
        }),
      );
    };
  }
}

/**
 * Puts every `/query/` request through one gate, after its token and parameters were checked.
 * The hook is attached to those routes alone (call before they are registered): ingest pays nothing.
 */
export function gateQueryRoutes(app: FastifyInstance): void {
  const gate = new ReadGate();
  const enterGate: preHandlerAsyncHookHandler = async (_request, reply) => {
    const leave = await gate.enter();
    // 'close' comes for every ending: answered, failed, or the client gone.
    reply.raw.once('close', leave);
  };
  app.addHook('onRoute', (route) => {
    if (!route.url.startsWith('/query/')) return;
    const own = route.preHandler;
    route.preHandler = own === undefined ? [enterGate] : [...(Array.isArray(own) ? own : [own]), enterGate];
  });
}
