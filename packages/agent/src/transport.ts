// Sends one report body to the collector: POST <endpoint>/api/v3/report, gzip by default, with a
// timeout. It only says what happened; delivery.ts decides what to do about it.
// The socket is unref'd: an in-flight telemetry request never keeps the host process alive.
import http from 'node:http';
import https from 'node:https';
import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import { unrefTimer } from './options.js';

const gzip = promisify(gzipCallback);

export type SendResult =
  | { outcome: 'ok'; status: number }
  /** Network error, timeout, 408, 429, 5xx: the report stays spooled and is tried again. */
  | { outcome: 'retry'; reason: string; retryAfterMs: number | null }
  /** Any other status: the collector will never take this report; it is dropped and counted. */
  | { outcome: 'drop'; reason: string };

export interface SendOptions {
  url: URL;
  contentType: 'application/x-protobuf' | 'application/json';
  gzip: boolean;
  timeoutMs: number;
  signal: AbortSignal;
  /** For Retry-After dates. */
  now: number;
}

const ABORTED = { outcome: 'retry', reason: 'aborted (agent shutting down)', retryAfterMs: null } as const;

/** Retry-After as delay-seconds or an HTTP date, in ms; null when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now: number): number | null {
  if (!value) return null;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}

/** The endpoint to configure for a redirect to `location` (reports go to ENDPOINT/api/v3/report). */
export function endpointOf(location: string): string {
  return location.slice(0, 200).replace(/\/api\/v3\/report\/?$/, '');
}

/** The most of a refusal's body that is read, and for how long. */
const REFUSAL_BYTES = 2048;
const REFUSAL_MS = 2000;

/**
 * Reads at most REFUSAL_BYTES of a 4xx answer, for at most REFUSAL_MS: ` (code: message)` when it
 * is the collector's JSON error, '' otherwise; then closes the connection.
 */
function readRefusal(response: http.IncomingMessage, done: (why: string) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    clearTimeout(timer);
    response.destroy();
    done(describeRefusal(Buffer.concat(chunks).subarray(0, REFUSAL_BYTES).toString('utf8')));
  };
  const timer = setTimeout(end, REFUSAL_MS);
  unrefTimer(timer);
  response.on('data', (chunk: Buffer) => {
    chunks.push(chunk);
    size += chunk.length;
    if (size >= REFUSAL_BYTES) end();
  });
  response.once('end', end);
  response.once('close', end);
}

/** Control characters (a newline would start a forged line in the host's log) as spaces. */
const printable = (text: string) =>
  Array.from(text, (c) => (c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f ? ' ' : c)).join('');

function describeRefusal(text: string): string {
  try {
    const body = JSON.parse(text) as { error?: unknown; message?: unknown };
    if (typeof body.error !== 'string') return '';
    const message = typeof body.message === 'string' ? `: ${body.message.slice(0, 300)}` : '';
    return printable(` (${body.error.slice(0, 64)}${message})`);
  } catch {
    return '';
  }
}

export async function send(body: Uint8Array, options: SendOptions): Promise<SendResult> {
  if (options.signal.aborted) return ABORTED;
  let payload: Uint8Array;
  try {
    payload = options.gzip ? await gzip(body) : body;
  } catch (error) {
    return { outcome: 'retry', reason: `gzip failed: ${(error as Error).message}`, retryAfterMs: null };
  }
  const client = options.url.protocol === 'https:' ? https : http;
  return new Promise<SendResult>((resolve) => {
    let settled = false;
    const finish = (result: SendResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal.removeEventListener('abort', onAbort);
      resolve(result);
    };
    const headers: Record<string, string | number> = {
      'content-type': options.contentType,
      'content-length': payload.length,
      'user-agent': 'tidewatch-agent',
    };
    if (options.gzip) headers['content-encoding'] = 'gzip';
    const request = client.request(options.url, { method: 'POST', headers, agent: false }, (response) => {
      const status = response.statusCode ?? 0;
      response.on('error', () => {});
      if (status >= 400 && status < 500 && status !== 408 && status !== 429) {
        // A refusal: its JSON says why (`coarse_histogram`, ...), which the log line then names.
        // The answer is known now: the send's own timeout must not turn it into a retry.
        clearTimeout(timer);
        return readRefusal(response, (why) =>
          finish({ outcome: 'drop', reason: `collector answered ${status}${why}` }),
        );
      }
      // Otherwise the body is not needed: close the connection now rather than read it. Reading
      // it had no bound in time or size, so an answer that streamed forever held a socket (one
      // per retry) and filled the host's memory.
      response.destroy();
      if (status >= 200 && status < 300) finish({ outcome: 'ok', status });
      else if (status === 408 || status === 429 || status >= 500) {
        finish({
          outcome: 'retry',
          reason: `collector answered ${status}`,
          retryAfterMs: parseRetryAfter(response.headers['retry-after'], options.now),
        });
      } else if (status >= 300 && status < 400) {
        // A redirect is not followed (the report would be sent somewhere not configured): say where.
        const location = response.headers.location;
        const hint = location ? ` (a redirect: set endpoint to ${endpointOf(location)})` : '';
        finish({ outcome: 'drop', reason: `collector answered ${status}${hint}` });
      } else {
        finish({ outcome: 'drop', reason: `collector answered ${status}` });
      }
    });
    // Listen for errors before anything can destroy the request: a destroyed request emits
    // "socket hang up", and without a listener that would be thrown into the host.
    // One line: a TLS error's message can hold line breaks and other control characters.
    request.on('error', (error) =>
      fail(
        `network error: ${String(error.message)
          .replace(/\p{Cc}+/gu, ' ')
          .trim()}`,
      ),
    );
    const fail = (reason: string) => {
      request.destroy();
      finish({ outcome: 'retry', reason, retryAfterMs: null });
    };
    const onAbort = () => fail(ABORTED.reason);
    const timer = setTimeout(() => fail(`no answer within ${options.timeoutMs} ms`), options.timeoutMs);
    unrefTimer(timer);
    if (options.signal.aborted) return onAbort(); // aborted while gzip ran
    options.signal.addEventListener('abort', onAbort);
    request.on('socket', (socket) => socket.unref());
    request.end(payload);
  });
}
