// What the collector's log may contain. Requests are not logged one by one (noise at fleet scale),
// and whatever is logged about a request never carries the client's address, its headers (tokens
// travel in Authorization) or its query string: only method, route path and request id.
import type { FastifyServerOptions } from 'fastify';
import { type Logger, type LoggerOptions, pino, stdTimeFunctions } from 'pino';
import type { CollectorConfig } from '../config.js';

export function loggerOptions(
  level: CollectorConfig['logLevel'],
  stream?: NodeJS.WritableStream,
): NonNullable<FastifyServerOptions['logger']> {
  return {
    level,
    ...(stream ? { stream } : {}),
    // Read by people at a terminal as much as by log shippers: an ISO 8601 time and the level's
    // name ("warn"), not pino's epoch milliseconds and level number (40).
    timestamp: stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
    serializers: {
      req: (request: { id?: string; method?: string; url?: string }) => ({
        id: request.id,
        method: request.method,
        url: request.url?.split('?', 1)[0],
      }),
      res: (reply: { statusCode?: number }) => ({ statusCode: reply.statusCode }),
    },
    // Belt and braces, should any code log a request or its headers directly.
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers.cookie',
        'headers.authorization',
        'authorization',
        'token',
        'secret',
        'req.remoteAddress',
        'req.ip',
        'ip',
        'remoteAddress',
      ],
      censor: '[redacted]',
    },
  };
}

/**
 * A logger with the collector's options for what runs before its HTTP server exists (the store's
 * migrations at start); the server makes its own from the same options.
 */
export function startupLogger(level: CollectorConfig['logLevel'], stream?: NodeJS.WritableStream): Logger {
  const { stream: _, ...options } = loggerOptions(level) as LoggerOptions & { stream?: unknown };
  return stream ? pino(options, stream) : pino(options);
}

/**
 * Where the log goes for a format: undefined for JSON on stdout (pino's own fast path), or
 * pino-pretty's readable lines, written synchronously so that nothing is lost at process.exit.
 * Times stay UTC, as everywhere else in Tidewatch. pino-pretty is loaded only then (~45 ms of
 * start-up that a collector logging JSON does not need).
 */
export async function logDestination(
  format: CollectorConfig['logFormat'],
  stdout: { isTTY?: boolean } = process.stdout,
): Promise<NodeJS.WritableStream | undefined> {
  const text = format === 'text' || (format === 'auto' && stdout.isTTY === true);
  if (!text) return undefined;
  const { default: pretty } = await import('pino-pretty');
  return pretty({
    sync: true,
    singleLine: true,
    colorize: stdout.isTTY === true && !process.env.NO_COLOR,
    translateTime: "UTC:yyyy-mm-dd HH:MM:ss.l 'UTC'",
    ignore: 'pid,hostname',
  });
}
