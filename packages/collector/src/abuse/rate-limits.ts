// Rate limits on ingest, per client address (checked before the body is read) and per tracking id
// (checked once the body is decoded). @fastify/rate-limit counts: in this process's memory, or in
// Redis when `--redis-url` is set, so that several collectors behind a load balancer share one limit.
// Defaults and their arithmetic: config.ts. A refused request is a 429 with Retry-After and our JSON
// error, counted in /metrics.
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Redis } from 'ioredis';
import type { CollectorConfig } from '../config.js';
import { CollectorError } from '../errors.js';
import type { CollectorMetrics } from '../ops/metrics.js';
import { expiringRateLimitStore, MinuteWindows } from './minute-windows.js';

type Check = ReturnType<FastifyInstance['createRateLimit']>;

export interface IngestLimits {
  /** onRequest hook of the ingest routes: the client address's budget. */
  checkAddress(request: FastifyRequest, reply: FastifyReply): Promise<void>;
  /** Once the body is read (inflated), before it is decoded: the address's byte budget. */
  checkBytes(request: FastifyRequest, reply: FastifyReply, bytes: number): void;
  /**
   * After decoding: the budget of each tracking id in the body. Event requests have their own,
   * EVENT_BUDGET_FACTOR times larger: RisingWave 2.0–2.2 post one request per event (a feature's
   * `paywall` check can come many times a second), and never retry a refused one.
   */
  checkClusters(
    request: FastifyRequest,
    reply: FastifyReply,
    trackingIds: Iterable<string>,
    kind?: 'reports' | 'events',
  ): Promise<void>;
}

/** Event requests per tracking id per minute, as a multiple of --rate-limit-cluster (1,200: 12,000). */
export const EVENT_BUDGET_FACTOR = 10;

const WINDOW_MS = 60_000;
/** How long a rate-limit check waits for Redis before letting the request through. */
export const REDIS_COMMAND_TIMEOUT_MS = 500;
/** Keys one process remembers per limiter, each for one window; well above the addresses a minute brings. */
const LOCAL_KEYS = 100_000;

/** The tracking id being checked, for the limiter's key generator (which only sees the request). */
const checking = new WeakMap<FastifyRequest, string>();

export async function installRateLimits(
  app: FastifyInstance,
  config: Pick<
    CollectorConfig,
    'rateLimitPerAddress' | 'rateLimitPerCluster' | 'rateLimitBytesPerAddress' | 'redisUrl'
  >,
  metrics: CollectorMetrics,
): Promise<IngestLimits> {
  let redis: Redis | undefined;
  if (config.redisUrl) {
    // No offline queue and one attempt per command: with Redis down, a request is let through
    // (skipOnError) instead of waiting; losing a RisingWave report is worse than a looser limit.
    redis = new Redis(config.redisUrl, {
      maxRetriesPerRequest: 1,
      enableOfflineQueue: false,
      connectTimeout: 2000,
      // A Redis that keeps the connection but stops answering (hung, or a network that drops
      // packets) must not hold every ingest request: a command unanswered after this fails, and
      // skipOnError lets the request through, as for a Redis that cannot be reached.
      commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
      lazyConnect: true,
    });
    // Once per outage, not once per reconnection attempt (every few seconds, for as long as it lasts).
    let down = false;
    redis.on('error', (error) => {
      if (down) return;
      down = true;
      app.log.warn({ err: error }, 'rate limits: Redis unreachable, not limiting until it is back');
    });
    redis.on('ready', () => {
      if (!down) return;
      down = false;
      app.log.info('rate limits: Redis reachable again, limiting');
    });
    await redis.connect().catch(() => {});
    const client = redis;
    app.addHook('onClose', async () => {
      client.disconnect();
    });
  }
  await app.register(rateLimit, {
    global: false,
    skipOnError: true,
    nameSpace: 'tidewatch-rl-',
    // Without Redis, windows that forget their keys once passed (the library's keeps them all).
    ...(redis ? { redis } : { store: expiringRateLimitStore(LOCAL_KEYS, WINDOW_MS) }),
  });
  const limiter = (max: number, key: (request: FastifyRequest) => string): Check | null =>
    max > 0
      ? app.createRateLimit({
          max,
          timeWindow: WINDOW_MS,
          keyGenerator: key,
        })
      : null;
  const byAddress = limiter(config.rateLimitPerAddress, (request) => `address:${request.ip}`);
  const byCluster = limiter(config.rateLimitPerCluster, (request) => `cluster:${checking.get(request)}`);
  const eventsPerCluster = config.rateLimitPerCluster * EVENT_BUDGET_FACTOR;
  const byClusterEvents = limiter(eventsPerCluster, (request) => `cluster-events:${checking.get(request)}`);

  const bytesByAddress = new ByteBudget(config.rateLimitBytesPerAddress);
  const refuse = (
    reply: FastifyReply,
    limit: 'address' | 'cluster' | 'bytes',
    seconds: number,
    what: string,
  ) => {
    metrics.rateLimited.inc({ limit });
    void reply.header('retry-after', String(Math.max(1, seconds)));
    throw new CollectorError('rate_limited', `more than ${what}; retry in ${seconds} s`, 429);
  };
  return {
    async checkAddress(request, reply) {
      if (!byAddress) return;
      const result = await byAddress(request);
      if (!result.isAllowed && result.isExceeded)
        refuse(
          reply,
          'address',
          result.ttlInSeconds,
          `${config.rateLimitPerAddress} ingest requests a minute from this address`,
        );
    },
    checkBytes(request, reply, bytes) {
      const wait = bytesByAddress.take(request.ip, bytes, Date.now());
      if (wait > 0) {
        refuse(
          reply,
          'bytes',
          wait,
          `${config.rateLimitBytesPerAddress} body bytes (after gzip) a minute from this address (--rate-limit-bytes)`,
        );
      }
    },
    async checkClusters(request, reply, trackingIds, kind = 'reports') {
      const check = kind === 'events' ? byClusterEvents : byCluster;
      if (!check) return;
      const what =
        kind === 'events'
          ? `${eventsPerCluster} event requests a minute for this tracking id (${EVENT_BUDGET_FACTOR} × --rate-limit-cluster)`
          : `${config.rateLimitPerCluster} ingest requests a minute for this tracking id`;
      for (const id of new Set(trackingIds)) {
        checking.set(request, id);
        const result = await check(request);
        if (!result.isAllowed && result.isExceeded) refuse(reply, 'cluster', result.ttlInSeconds, what);
      }
    },
  };
}

/**
 * Body bytes per client address in one-minute windows, in this process's memory (with Redis the
 * request counts are shared between collectors; this budget is per collector). By hand: the
 * rate-limit library counts requests, not their sizes. A body is always let through in a window
 * that has taken nothing yet, so a budget below the body limit cannot refuse a report for good.
 */
class ByteBudget {
  private readonly windows = new MinuteWindows(LOCAL_KEYS, WINDOW_MS);

  constructor(private readonly perMinute: number) {}

  /** Counts `bytes` for `address`; answers 0, or the seconds to wait when they are over budget. */
  take(address: string, bytes: number, now: number): number {
    if (this.perMinute <= 0) return 0;
    const window = this.windows.current(address, now);
    if (window.count > 0 && window.count + bytes > this.perMinute) {
      return Math.max(1, Math.ceil(this.windows.remainingMs(window, now) / 1000));
    }
    window.count += bytes;
    return 0;
  }
}
