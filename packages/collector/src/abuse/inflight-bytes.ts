// A cap on the body bytes the ingest routes hold at once, across all clients. The per-address
// limits bound what one client can send in a minute, not what many send at the same moment: 900
// connections each posting a legal ~830 KiB meta report took the collector to 2 GB of memory and
// held its event loop for seconds, as each body is read, inflated, decoded and turned into rows
// before its memory is freed. Checked before the body is read, from what the headers say the body
// will be; one client address may hold only a share of the cap (32 connections that each declared
// 1 MiB and then sent one byte held all of it, and every other client got 503 while they stalled).
import type { FastifyReply, FastifyRequest } from 'fastify';
import { CollectorError } from '../errors.js';

/** A gzip body is counted at this many times its size (inflated size unknown until read), up to the body limit. */
const GZIP_FACTOR = 8;

/** The share of the cap one client address may hold: a quarter, but never less than one body. */
const ADDRESS_SHARE = 4;

export class InflightBytes {
  private held = 0;
  /** Bytes held per client address (request.ip: behind a trusted proxy, the client's). */
  private readonly byAddress = new Map<string, number>();
  private readonly perAddress: number;

  constructor(
    /** Bytes at most (0: no cap). One request is always let through, whatever its size. */
    private readonly max: number,
    private readonly bodyLimit: number,
  ) {
    this.perAddress = Math.max(bodyLimit, Math.floor(max / ADDRESS_SHARE));
  }

  /** onRequest hook of the ingest routes: holds the body's share until its answer is sent or the connection ends. */
  reserve = (request: FastifyRequest, reply: FastifyReply, done: (error?: Error) => void): void => {
    if (this.max <= 0) {
      done();
      return;
    }
    const bytes = this.estimate(request);
    const address = request.ip;
    const ofAddress = this.byAddress.get(address) ?? 0;
    const refusal =
      this.held > 0 && this.held + bytes > this.max
        ? `ingest requests already hold ${this.held} body bytes, near the limit (--max-inflight-bytes ${this.max}); nothing was stored, send it again in a second`
        : ofAddress > 0 && ofAddress + bytes > this.perAddress
          ? `requests from this address already hold ${ofAddress} body bytes, its share of --max-inflight-bytes (${this.perAddress} of ${this.max}); nothing was stored, send it again once they are answered`
          : null;
    if (refusal !== null) {
      void reply.header('retry-after', '1');
      done(new CollectorError('overloaded', refusal, 503));
      return;
    }
    this.held += bytes;
    this.byAddress.set(address, ofAddress + bytes);
    // 'close' comes once the answer is sent, or when the connection ends first: exactly once.
    reply.raw.once('close', () => {
      this.held -= bytes;
      const left = (this.byAddress.get(address) ?? bytes) - bytes;
      if (left > 0) this.byAddress.set(address, left);
      else this.byAddress.delete(address);
    });
    done();
  };

  /** What the body will take: its length, a gzip one's inflated guess, the body limit when unknown. */
  private estimate(request: FastifyRequest): number {
    const length = Number(request.headers['content-length']);
    if (!Number.isSafeInteger(length) || length < 0) return this.bodyLimit;
    const encoding = (request.headers['content-encoding'] ?? '').trim().toLowerCase();
    const inflated = encoding === '' || encoding === 'identity' ? length : length * GZIP_FACTOR;
    return Math.min(inflated, this.bodyLimit);
  }
}
