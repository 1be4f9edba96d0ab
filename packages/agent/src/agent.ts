// createAgent(): ties the steps together. The host only ever calls the registry's handles (hot
// path) and the few methods below; everything else runs on the agent's own schedule, serialized on
// one promise chain, and nothing in it can throw into the host.
import { type AgentEvent, type AgentReport, encodeReportJson } from '@tidewatch/protocol';
import { Collectors } from './collectors.js';
import { Delivery } from './delivery.js';
import { Disk } from './disk.js';
import { encodeInTurns, inNextTurn } from './encode-in-turns.js';
import { describeError, shown } from './errors.js';
import {
  type AgentState,
  loadState,
  loadTrackingId,
  newReportId,
  newSessionId,
  saveState,
} from './identity.js';
import { claimNotice, NOTICE } from './notice.js';
import {
  type AgentOptions,
  type Clock,
  type ResolvedOptions,
  resolveOptions,
  unrefTimer,
} from './options.js';
import {
  type Counter,
  type Gauge,
  type Histogram,
  type Labels,
  type MetricInfo,
  NOOP_HANDLE,
  Registry,
} from './registry.js';
import {
  buildReport,
  cleanClusterFacts,
  cleanEvent,
  type EventFields,
  eventBytes,
  noDrops,
  shrinkReport,
} from './report.js';
import { Alarm, firstReportAt, nextReportAt, retryDelay } from './schedule.js';
import { endpointTag, Spool, spoolName } from './spool.js';

export interface Agent {
  /** False when telemetry is off (option or environment): every handle is a no-op. */
  readonly enabled: boolean;
  counter(name: string, labels?: Labels, info?: MetricInfo): Counter;
  gauge(name: string, labels?: Labels, info?: MetricInfo): Gauge;
  histogram(name: string, labels?: Labels, info?: MetricInfo): Histogram;
  /** Unit and one-line description of a metric, shown in the report and the dashboard. */
  describe(name: string, info: MetricInfo): void;
  event(name: string, fields?: EventFields): void;
  /** The exact next report (null when disabled); nothing is sent, reset or written. */
  preview(): Promise<AgentReport | null>;
  /** Builds a report now and delivers it and everything spooled; resolves once acknowledged or spooled. */
  flush(): Promise<void>;
  /** Flushes within `deadlineMs` (default 2000), then stops. Never hangs, never rejects. */
  shutdown(deadlineMs?: number): Promise<void>;
}

/** setTimeout's largest delay; a longer one fires at once (with a TimeoutOverflowWarning). */
const MAX_TIMER_MS = 2 ** 31 - 1;
/**
 * The longest a flush() sends for: past it the send in flight is aborted (its report stays spooled
 * for the next attempt), so that the flush settles. Until then a ref'd timer keeps the process
 * alive: the agent's own timers and sockets are unref'd so that they never hold a host open, but a
 * host that awaits flush() as its last step would otherwise exit in the middle of the await, with
 * the rest of its code never run.
 */
const FLUSH_MAX_MS = 60_000;
/** A wall clock that fell behind elapsed time by more than this was stepped back (not jitter). */
const CLOCK_STEP_MS = 1000;

/** Validates options (throws AgentError) and starts the agent; or a no-op agent when disabled. */
export function createAgent(options: AgentOptions): Agent {
  const resolved = resolveOptions(options);
  if (resolved.disabledBy !== null) return disabledAgent;
  return new RunningAgent(resolved);
}

/** Telemetry off: no network, no files, no timers, and handles that do nothing. */
const disabledAgent: Agent = Object.freeze({
  enabled: false,
  counter: () => NOOP_HANDLE,
  gauge: () => NOOP_HANDLE,
  histogram: () => NOOP_HANDLE,
  describe: () => {},
  event: () => {},
  preview: async () => null,
  flush: async () => {},
  shutdown: async () => {},
});

class RunningAgent implements Agent {
  readonly enabled = true;
  private readonly registry: Registry;
  private readonly collectors = new Collectors();
  private readonly disk: Disk;
  private readonly spool: Spool;
  private readonly delivery: Delivery;
  private readonly alarm: Alarm;
  private readonly sessionId = newSessionId();
  private trackingId = '';
  private state: AgentState = {
    nextSequence: 1,
    lastReportMs: null,
    lastSuccessMs: null,
    noticeShownMs: null,
  };
  private nextReportId = newReportId();
  private intervalStartMs: number;
  private events: AgentEvent[] = [];
  /** At least the bytes `events` take in a report (eventBytes). */
  private pendingEventBytes = 0;
  private drops = noDrops();
  private loggedThisInterval = false;
  private nextReportAt = Number.POSITIVE_INFINITY;
  private nextRetryAt = Number.POSITIVE_INFINITY;
  /** Wall clock minus elapsed time when the times above were last checked (followClockSteps). */
  private clockOffset: number;
  private failures = 0;
  private abort = new AbortController();
  private chain: Promise<unknown> = Promise.resolve();
  private stopping: Promise<void> | null = null;
  /**
   * shutdown()'s deadline has passed: nothing is spooled, saved or sent any more. Work still under
   * way then (a final report being encoded) is dropped where it stands, so that nothing touches
   * the network or dataDir after the host's `await shutdown()` returned.
   */
  private stopped = false;
  private readonly ready: Promise<unknown>;
  /** warnOnce() lines held until start() has shown (or skipped) the notice; null from then on. */
  private heldLines: string[] | null = [];

  constructor(private readonly o: ResolvedOptions) {
    this.intervalStartMs = o.clock.now();
    this.clockOffset = wallMinusElapsed(o.clock);
    this.registry = new Registry(o.maxSeries, o.histogramBuckets, (m) => this.warnOnce(m));
    // Debug runs leave dataDir as they found it: a later real run keeps its identity, its
    // schedule and its first-start notice.
    this.disk = new Disk(o.dataDir, (m) => this.problem(m), o.debug);
    this.spool = new Spool(
      this.disk,
      endpointTag(o.reportUrl),
      { maxReports: o.spoolMaxReports, maxBytes: o.spoolMaxBytes, maxAge: o.spoolMaxAge },
      o.clock,
      (n, bound, whose) => {
        // Another endpoint's reports are not this collector's to count: the log line says it.
        if (whose === 'mine') this.drops.reports += n;
        const reports = whose === 'mine' ? 'report(s)' : 'report(s) spooled for another endpoint';
        this.warnOnce(
          bound === 'full'
            ? `spool full: dropped the ${n} oldest ${reports}`
            : `spool: dropped ${n} ${reports} older than spoolMaxAge (${o.spoolMaxAge} ms) that could not be delivered`,
        );
      },
    );
    // A refused report is counted in drops.reports (not as an agent error) and logged.
    this.delivery = new Delivery(this.spool, this.disk, o, (m) => this.warnOnce(m));
    this.alarm = new Alarm(o.clock, () => this.onAlarm());
    // Lines held for the notice go out once start() is over, whether it showed one or failed.
    this.ready = this.run(() => this.start()).then((started) => {
      this.releaseHeldLines();
      return started;
    });
  }

  counter(name: string, labels?: Labels, info?: MetricInfo): Counter {
    return this.registry.counter(name, labels, info);
  }
  gauge(name: string, labels?: Labels, info?: MetricInfo): Gauge {
    return this.registry.gauge(name, labels, info);
  }
  histogram(name: string, labels?: Labels, info?: MetricInfo): Histogram {
    return this.registry.histogram(name, labels, info);
  }
  describe(name: string, info: MetricInfo): void {
    this.registry.describe(name, info);
  }

  event(name: string, fields?: EventFields): void {
    try {
      if (this.events.length >= this.o.maxEvents) {
        this.drops.events++;
        return;
      }
      const event = cleanEvent(name, fields, this.o.clock.now());
      if (typeof event === 'string') {
        this.drops.events++;
        this.warnOnce(event);
        return;
      }
      // Events past what one report can carry would be cut from it anyway (shrinkReport), after
      // being kept all interval and encoded at every tick: 1,000 events of 32 fields of 1,100
      // characters held ~64 MB and blocked the event loop for half a second at the report.
      const bytes = eventBytes(event);
      if (this.pendingEventBytes + bytes > this.o.maxReportBytes) {
        this.drops.events++;
        this.warnOnce(`events past maxReportBytes (${this.o.maxReportBytes}) in this interval are dropped`);
        return;
      }
      this.pendingEventBytes += bytes;
      this.events.push(event);
    } catch (error) {
      this.problem(`event(): ${describeError(error)}`); // e.g. a getter on fields that throws
    }
  }

  async preview(): Promise<AgentReport | null> {
    if (this.stopping) return null; // no next report will be sent
    return (await withDeadline(this.buildPreview(), FLUSH_MAX_MS)) ?? null;
  }

  private async buildPreview(): Promise<AgentReport | null> {
    await this.ready;
    try {
      // What report() would build, without its side effects: a failing clusterFacts is counted in
      // the copy's drops only, and the copy is made to fit maxReportBytes the same way.
      const { facts, failed } = await this.readClusterFacts();
      const report = buildReport({
        ...this.reportBase(facts),
        events: [...this.events],
        drops: { ...this.drops, errors: this.drops.errors + (failed ? 1 : 0) },
        reset: false,
      });
      await this.fitted(report);
      return report;
    } catch (error) {
      this.problem(`preview failed: ${describeError(error)}`);
      return null;
    }
  }

  async flush(): Promise<void> {
    if (this.stopping) return; // after shutdown() the agent sends nothing more
    const work = this.run(async () => {
      try {
        await this.report();
      } finally {
        this.rearmAfterWork();
      }
    });
    // At most FLUSH_MAX_MS, whatever holds the work up: the send in flight is ended then, and the
    // caller goes on even if something before it (a disk that stopped answering) never ends.
    await withDeadline(work, FLUSH_MAX_MS, () => this.abortSending());
  }

  /** Ends the send in flight and any drain under way; what was not sent stays spooled. */
  private abortSending(): void {
    this.abort.abort();
    this.abort = new AbortController();
  }

  shutdown(deadlineMs = 2000): Promise<void> {
    const deadline =
      Number.isFinite(deadlineMs) && deadlineMs >= 0 ? Math.min(deadlineMs, MAX_TIMER_MS) : 2000;
    this.stopping ??= this.stop(deadline);
    return this.stopping;
  }

  private async stop(deadlineMs: number): Promise<void> {
    this.alarm.cancel();
    this.abortSending(); // an in-flight send ends now; its report stays spooled for the next start
    let settled = false;
    const final = this.run(() => this.report()).finally(() => {
      settled = true;
    });
    // Real time on purpose: the host's deadline is wall-clock, whatever clock drives the schedule.
    await withDeadline(final, deadlineMs);
    // Said now, while the host's logger is surely open: the aborted send's own line would come
    // after shutdown() resolved, and log() is silent from then on.
    if (!settled) {
      const unsent = this.disk.memoryOnly
        ? 'is lost (no usable dataDir)'
        : 'is kept in the spool for the next start';
      this.log(`tidewatch agent: shutdown took over ${deadlineMs} ms; what was not delivered ${unsent}`);
    }
    this.stopped = true;
    this.abort.abort(); // and left aborted: a send that starts after this ends at once
    this.collectors.stop();
  }

  /** Serializes agent work; a failure is counted and logged, never rethrown. */
  private run<T>(work: () => Promise<T>): Promise<T | undefined> {
    const next = this.chain.then(work).catch((error: unknown) => {
      this.problem(`internal error: ${describeError(error)}`);
      return undefined;
    });
    this.chain = next;
    return next;
  }

  private async start(): Promise<void> {
    this.trackingId = await loadTrackingId(this.disk, this.o.trackingId);
    this.state = await loadState(this.disk);
    if (this.state.noticeShownMs === null && !this.o.debug) {
      if (await claimNotice(this.disk, this.o.clock.now())) this.log(NOTICE(this.o, this.o.dataDir));
      // Also when another process showed it: it started at the same moment (or state.json was lost).
      this.state.noticeShownMs = this.o.clock.now();
      await saveState(this.disk, this.state);
    } else if ((this.state.noticeShownMs ?? 0) > this.o.clock.now() && !this.o.debug) {
      // A first start dated ahead (the clock ran ahead then) is taken as this one: the first report
      // is due firstReportDelay after it, and every start would otherwise count from itself, so a
      // host that never lives that long (a crash loop, short runs) would never report.
      this.state.noticeShownMs = this.o.clock.now();
      await saveState(this.disk, this.state);
    }
    await this.spool.init();
    // What a crash during a write of state.json or of an audit copy left (the spool's are
    // removed by its init): a crash loop would otherwise pile them up, outside every bound.
    for (const dir of ['', 'sent']) await this.disk.removeTemps(dir);
    await this.collectors.start();
    if (this.stopping) return;
    const now = this.o.clock.now();
    this.nextReportAt = firstReportAt(now, this.state.lastReportMs, this.state.noticeShownMs, this.o);
    if (this.spool.size > 0) this.nextRetryAt = now; // left over from a previous process: send now
    this.rearm();
  }

  /**
   * Moves the agent's wall-clock times back when the wall clock was stepped back since they were
   * set (seen as the wall clock gaining less than elapsed time): they were read on the old clock,
   * and the next report would otherwise wait out the whole step (a year, for a clock set back a
   * year). The interval then spans the time that really passed. A step forward needs nothing: what
   * was due is simply due.
   */
  private followClockSteps(): void {
    const offset = wallMinusElapsed(this.o.clock);
    const back = this.clockOffset - offset;
    if (back > CLOCK_STEP_MS) {
      this.nextReportAt -= back;
      this.nextRetryAt -= back;
      this.intervalStartMs -= back;
    }
    this.clockOffset = offset;
  }

  private onAlarm(): void {
    this.followClockSteps();
    void this.run(async () => {
      if (this.stopping) return;
      try {
        const now = this.o.clock.now();
        if (now >= this.nextReportAt) {
          // Spooled reports whose retry is due (a previous process's, at start) are sent before
          // the new one is spooled: put first, a full spool dropped one of them although the
          // collector was there to take it. If they fail, the new one waits for the next retry.
          const retryDue = now >= this.nextRetryAt && this.spool.size > 0;
          if (retryDue) await this.deliver();
          await this.report(!retryDue || this.failures === 0);
        } else await this.deliver();
      } finally {
        this.rearmAfterWork();
      }
    });
  }

  /**
   * The next wake-up after a report or a delivery, whether it worked or threw: a throw must not
   * end the schedule, and a report that failed before it was taken must not fire again at once.
   */
  private rearmAfterWork(): void {
    const now = this.o.clock.now();
    if (this.nextReportAt <= now) this.nextReportAt = nextReportAt(now, this.o);
    this.rearm();
  }

  private rearm(): void {
    if (this.stopping) return;
    this.followClockSteps();
    this.alarm.cancel();
    this.alarm.set(Math.min(this.nextReportAt, this.nextRetryAt));
  }

  private reportBase(cluster: Record<string, number>) {
    return {
      options: this.o,
      trackingId: this.trackingId,
      sessionId: this.sessionId,
      reportId: this.nextReportId,
      sequence: this.state.nextSequence,
      // A clock stepped back since the interval began must not make it end before it starts.
      intervalStartMs: Math.min(this.intervalStartMs, this.o.clock.now()),
      nowMs: this.o.clock.now(),
      cluster,
      registry: this.registry,
      collectors: this.collectors,
    };
  }

  private async clusterFacts(): Promise<Record<string, number>> {
    const { facts, failed } = await this.readClusterFacts();
    if (failed) this.problem(`clusterFacts() failed: ${failed}`);
    return facts;
  }

  /** The leader's cluster facts, or why they could not be read (nothing counted or logged). */
  private async readClusterFacts(): Promise<{ facts: Record<string, number>; failed: string | null }> {
    const facts = this.o.clusterFacts;
    if (!this.o.isLeader || !facts) return { facts: {}, failed: null };
    try {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('clusterFacts() took over 1 s')), 1000);
        unrefTimer(timer);
      });
      const raw = await Promise.race([Promise.resolve().then(facts), timeout]).finally(() =>
        clearTimeout(timer),
      );
      // Not an object at all is a failed call, counted like a throw; a bad entry is only skipped.
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
        return {
          facts: {},
          failed: `it returned ${Array.isArray(raw) ? 'an array' : shown(raw)}, not an object of numbers`,
        };
      }
      return { facts: cleanClusterFacts(raw, (m) => this.warnOnce(m)), failed: null };
    } catch (error) {
      return { facts: {}, failed: describeError(error) };
    }
  }

  /**
   * The report's body, made to fit maxReportBytes (rare: thousands of wide histograms, which the
   * collector would refuse whole with a 413) by coarsening the report in place.
   */
  private async fitted(report: AgentReport): Promise<Uint8Array> {
    const json = this.o.format === 'json';
    const encode = () => (json ? inNextTurn(() => encodeReportJson(report)) : encodeInTurns(report));
    let body = await encode();
    while (body.length > this.o.maxReportBytes && shrinkReport(report, body.length / this.o.maxReportBytes)) {
      body = await encode();
    }
    return body;
  }

  /** Builds the next report, spools it and (unless told not to) delivers everything spooled. */
  private async report(deliver = true): Promise<void> {
    const cluster = await this.clusterFacts();
    // From here to the spool write nothing awaits the host: the snapshot is one consistent instant.
    const report = buildReport({
      ...this.reportBase(cluster),
      events: this.events,
      drops: this.drops,
      reset: true,
    });
    const now = report.intervalEndMs;
    this.events = [];
    this.pendingEventBytes = 0;
    this.drops = noDrops();
    this.loggedThisInterval = false;
    this.intervalStartMs = now;
    this.nextReportId = newReportId();
    this.nextReportAt = nextReportAt(this.o.clock.now(), this.o);
    this.state.nextSequence = report.sequence + 1;
    this.state.lastReportMs = now;

    const json = this.o.format === 'json';
    const body = await this.fitted(report);
    if (this.o.debug) {
      // Not sent, so not recorded either: a later real run numbers its reports on from the last
      // one sent (a gap would say one was lost) and keeps its schedule.
      this.log(`tidewatch report (TIDEWATCH_TELEMETRY_DEBUG, not sent):\n${JSON.stringify(report, null, 2)}`);
      return;
    }
    if (this.stopped) return; // past shutdown()'s deadline: the host has moved on
    await saveState(this.disk, this.state);
    const name = spoolName(now, report.sequence, report.reportId, json ? 'json' : 'pb', this.spool.endpoint);
    await this.spool.put(name, body);
    this.delivery.spooled(name, report);
    if (deliver) await this.deliver();
  }

  private async deliver(): Promise<void> {
    if (this.o.debug) return; // TIDEWATCH_TELEMETRY_DEBUG: nothing leaves, not even older spooled reports
    if (this.stopped) return;
    const result = await this.delivery.drain(this.abort.signal);
    const now = this.o.clock.now();
    this.drops.reports += result.dropped;
    if (result.delivered > 0) {
      this.state.lastSuccessMs = now;
      if (!this.stopped) await saveState(this.disk, this.state); // past shutdown(): no more writes
    }
    if (result.retry) {
      this.failures++;
      this.nextRetryAt = now + retryDelay(this.failures, result.retry.retryAfterMs, this.o);
      // Aborted by shutdown(): the report stays spooled for the next start, nothing will retry now.
      const next = this.stopping ? 'kept in the spool for the next start' : 'will retry';
      this.warnOnce(`report delivery failed (${result.retry.reason}); ${next}`);
    } else {
      this.failures = 0;
      this.nextRetryAt = Number.POSITIVE_INFINITY;
    }
  }

  /** At most one log line per interval, so a broken disk or network never floods the host's logs. */
  private warnOnce(message: string): void {
    if (this.loggedThisInterval) return;
    this.loggedThisInterval = true;
    const line = `tidewatch agent: ${message} (further problems this interval are only counted)`;
    // Before start() has decided on the first-start notice (a hot-path call right after
    // createAgent()), the line waits for it: the notice comes first in the host's log.
    if (this.heldLines !== null) this.heldLines.push(line);
    else this.log(line);
  }

  private releaseHeldLines(): void {
    const held = this.heldLines ?? [];
    this.heldLines = null;
    for (const line of held) this.log(line);
  }

  /**
   * One line to the host's logger, which must not break the host either way: a logger that throws,
   * or an async one whose promise rejects (that would be an unhandled rejection), is counted in
   * drops.errors and otherwise ignored.
   */
  private log(message: string): void {
    // Past shutdown() the host may have closed what its logger writes to: a write to an ended
    // stream emits an 'error' that nothing catches, and the host crashed after a clean shutdown.
    if (this.stopped) return;
    try {
      const returned: unknown = this.o.logger.warn(message);
      // Any thenable, not only `instanceof Promise`: a promise made in another realm (a vm
      // context's) is not one, and its rejection went unhandled.
      if (typeof (returned as PromiseLike<unknown> | null)?.then === 'function')
        Promise.resolve(returned).catch(() => {
          this.drops.errors++;
        });
    } catch {
      this.drops.errors++;
    }
  }

  private problem(message: string): void {
    this.drops.errors++;
    this.warnOnce(message);
  }
}

/**
 * `work`'s result, or undefined once `ms` passed (after calling `onExpiry`). The timer is not
 * unref'd: a host awaiting the call at its end must still be running when it resolves (an unref'd
 * timer and socket let the process exit mid-await). The deadline bounds it.
 */
async function withDeadline<T>(work: Promise<T>, ms: number, onExpiry?: () => void): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => {
      onExpiry?.();
      resolve(undefined);
    }, ms);
  });
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** How far the wall clock reads ahead of elapsed time; it drops when the wall clock steps back. */
function wallMinusElapsed(clock: Clock): number {
  const now = clock.now();
  return now - (clock.elapsed?.() ?? now);
}
