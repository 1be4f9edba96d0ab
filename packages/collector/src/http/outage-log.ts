// The log of a store outage (or a shutdown) as the operator should read it: a line when it starts,
// one every 10 s with a count while it lasts, one when it is over; not a stack trace per request.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { CollectorError } from '../errors.js';

/** How often one kind of chosen 5xx answer (a stalled store, a shutdown) is logged at most. */
const OUTAGE_LOG_MS = 10_000;

/**
 * Logs a 5xx answer the collector chose (store_unavailable, shutting_down) once per OUTAGE_LOG_MS
 * per code, with how many were not logged since: an outage answers every request 503, and a line
 * with a stack trace for each buried the log. Crashes (anything else) are logged every time.
 * `over(code)` (a commit went through) ends an outage once no 503 of it followed for
 * OUTAGE_LOG_MS: one line with its whole count (the last ones would otherwise wait for the next
 * outage's first line) and how long it lasted. Waiting first keeps a store that fails every other
 * commit (a connection limit) to one line per 10 s instead of a pair per request.
 */
export function outageLogger(app: Pick<FastifyInstance, 'log'>) {
  interface Outage {
    /** When its last line was logged, and how many 503s were not logged one by one since. */
    at: number;
    suppressed: number;
    since: number;
    lastAnsweredAt: number;
    lastCommittedAt: number;
    total: number;
    ending: NodeJS.Timeout | null;
  }
  const last = new Map<string, Outage>();
  return {
    log(log: FastifyRequest['log'], error: CollectorError, route: string) {
      const now = Date.now();
      const seen = last.get(error.code);
      if (seen) {
        seen.total++;
        seen.lastAnsweredAt = now;
      }
      if (seen && now - seen.at < OUTAGE_LOG_MS) {
        seen.suppressed++;
        return;
      }
      if (seen) {
        seen.at = now;
        seen.suppressed = 0;
      } else {
        last.set(error.code, {
          at: now,
          suppressed: 0,
          since: now,
          lastAnsweredAt: now,
          lastCommittedAt: 0,
          total: 1,
          ending: null,
        });
      }
      log.warn(
        { code: error.code, route, alsoAnsweredSinceLastLine: seen?.suppressed ?? 0 },
        `answering ${error.status} ${error.code}: ${error.message}`,
      );
    },
    over(code: string) {
      const seen = last.get(code);
      if (!seen) return;
      seen.lastCommittedAt = Date.now();
      if (seen.ending) return;
      const check = () => {
        seen.ending = null;
        if (last.get(code) !== seen) return;
        // No commit since the last 503: the store failed again; the next commit looks again.
        if (seen.lastCommittedAt < seen.lastAnsweredAt) return;
        const quiet = Date.now() - seen.lastAnsweredAt;
        if (quiet < OUTAGE_LOG_MS) {
          seen.ending = setTimeout(check, OUTAGE_LOG_MS - quiet);
          seen.ending.unref();
          return;
        }
        last.delete(code);
        const seconds = Math.round((seen.lastAnsweredAt - seen.since) / 1000);
        app.log.info(
          { code, answered: seen.total, notLoggedOneByOne: seen.suppressed, seconds },
          `${code} is over: the store has committed writes for ${OUTAGE_LOG_MS / 1000} s; ${seen.total} request${seen.total === 1 ? ' was' : 's were'} answered 503 over ${seconds} s (each one safe to resend)`,
        );
      };
      seen.ending = setTimeout(check, OUTAGE_LOG_MS);
      seen.ending.unref();
    },
    /** At shutdown: the answers no line has counted yet (the 503s of a stop under load, say). */
    flush() {
      for (const [code, seen] of last) {
        if (seen.suppressed === 0) continue;
        app.log.warn(
          { code, answered: seen.total, notLoggedOneByOne: seen.suppressed },
          `${code}: ${seen.total} request${seen.total === 1 ? ' was' : 's were'} answered so in all, ${seen.suppressed} since the last line`,
        );
        seen.suppressed = 0;
      }
    },
  };
}
