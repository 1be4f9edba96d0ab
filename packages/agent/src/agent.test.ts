import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { FakeClock, tick } from '../test/fake-clock.js';
import { agentFor, collector, DAY, MINUTE, tempDir } from '../test/harness.js';
import type { Agent } from './agent.js';

/** Waits until the agent finished starting (preview awaits it). */
const started = async (agent: Agent) => void (await agent.preview());

describe('agent', () => {
  it('sends the first report after firstReportDelay, then one per interval, with deltas', async () => {
    const stub = await collector();
    const clock = new FakeClock();
    const { agent } = agentFor(stub.url, { clock, dataDir: tempDir() });
    const queries = agent.counter('queries', { kind: 'select' }, { unit: '{query}', description: 'Queries' });
    const latency = agent.histogram('query.duration', undefined, { unit: 's' });
    agent.gauge('connections').set(4);
    await started(agent);
    queries.inc(3);
    latency.record(0.02);
    await clock.advance(5 * MINUTE - 1);
    expect(stub.requests).toBe(0);
    await clock.advance(1);
    await vi.waitFor(() => expect(stub.accepted).toHaveLength(1));
    queries.inc(2);
    await clock.advance(DAY);
    await vi.waitFor(() => expect(stub.accepted).toHaveLength(2));
    const [first, second] = stub.accepted;
    const value = (r: typeof first, name: string) => r!.metrics.find((m) => m.name === name);
    expect(value(first, 'queries')).toMatchObject({ value: 3, labels: { kind: 'select' }, unit: '{query}' });
    expect(value(second, 'queries')!.value).toBe(2);
    expect(value(first, 'query.duration')!.histogram!.count).toBe(1);
    expect(value(second, 'query.duration')!.histogram!.count).toBe(0);
    expect(value(second, 'connections')!.value).toBe(4);
    expect([first!.sequence, second!.sequence]).toEqual([1, 2]);
    expect(second!.intervalStartMs).toBe(first!.intervalEndMs);
    expect(first).toMatchObject({
      trackingId: 'cluster-1',
      nodeType: 'frontend',
      version: '2.1.0',
      protocol: 3,
    });
    expect(first!.sessionId).toBe(second!.sessionId);
  });

  it('sends the same report as JSON when format is json', async () => {
    const stub = await collector();
    const clock = new FakeClock();
    const { agent } = agentFor(stub.url, { clock, dataDir: tempDir(), format: 'json' });
    agent.counter('queries', { kind: 'select' }).inc(7);
    agent.histogram('query.duration', undefined, { unit: 's' }).record(0.25);
    await started(agent);
    await clock.advance(5 * MINUTE);
    await vi.waitFor(() => expect(stub.accepted).toHaveLength(1));
    const [report] = stub.accepted;
    expect(stub.contentTypes).toEqual(['application/json']);
    expect(report!.metrics.find((m) => m.name === 'queries')).toMatchObject({ value: 7 });
    expect(report!.metrics.find((m) => m.name === 'query.duration')!.histogram!.sum).toBe(0.25);
  });

  it('resumes the cycle after a restart: due at last report + interval, at once when overdue', async () => {
    const stub = await collector();
    const dataDir = tempDir();
    const clock = new FakeClock();
    const a = agentFor(stub.url, { clock, dataDir });
    await started(a.agent);
    await a.agent.flush();
    expect(stub.accepted).toHaveLength(1);
    await a.agent.shutdown();
    expect(stub.accepted).toHaveLength(2); // shutdown flushes

    clock.time += 6 * 60 * MINUTE; // restarted six hours later
    const b = agentFor(stub.url, { clock, dataDir });
    await started(b.agent);
    await clock.advance(DAY - 6 * 60 * MINUTE - 1);
    expect(stub.accepted).toHaveLength(2); // neither reset (5 minutes) nor repeated
    await clock.advance(1);
    await vi.waitFor(() => expect(stub.accepted).toHaveLength(3));
    const third = stub.accepted[2]!;
    expect(third.sequence).toBe(3); // persisted across the restart
    expect(third.sessionId).not.toBe(stub.accepted[0]!.sessionId); // a new process is a new session
    await b.agent.shutdown();

    clock.time += 3 * DAY; // restarted long after the report was due
    const c = agentFor(stub.url, { clock, dataDir });
    await started(c.agent);
    await clock.advance(1);
    await vi.waitFor(() => expect(stub.accepted).toHaveLength(5));
  });

  it("removes at start what a crash left half-written beside the spool (state.json's, the audit copies')", async () => {
    const stub = await collector();
    const dataDir = tempDir();
    mkdirSync(path.join(dataDir, 'sent'), { recursive: true });
    const elevenMinutesAgo = (Date.now() - 11 * MINUTE) / 1000;
    for (const stale of ['.tmp-state', 'sent/.tmp-copy']) {
      writeFileSync(path.join(dataDir, stale), 'partial');
      utimesSync(path.join(dataDir, stale), elevenMinutesAgo, elevenMinutesAgo);
    }
    // A fresh one may be another process's write in progress on the same dataDir: it stays.
    writeFileSync(path.join(dataDir, '.tmp-in-progress'), 'partial');
    const { agent } = agentFor(stub.url, { clock: new FakeClock(), dataDir });
    await started(agent);
    expect(readdirSync(dataDir).filter((n) => n.startsWith('.tmp-'))).toEqual(['.tmp-in-progress']);
    expect(readdirSync(path.join(dataDir, 'sent'))).toEqual([]);
    await agent.shutdown();
  });

  it('keeps one report per interval when the wall clock is stepped back, with intervals that end after they start', async () => {
    const stub = await collector();
    const clock = new FakeClock();
    const { agent } = agentFor(stub.url, { clock, dataDir: tempDir() });
    await started(agent);
    await agent.flush();
    expect(stub.accepted).toHaveLength(1);
    // NTP (or an operator) sets the clock back a year halfway through the interval.
    await clock.advance(DAY / 2);
    clock.stepWallClock(-365 * DAY);
    await clock.advance(DAY / 2 - 1);
    expect(stub.accepted).toHaveLength(1);
    await clock.advance(1);
    await vi.waitFor(() => expect(stub.accepted).toHaveLength(2)); // a day after the first, not a year
    const second = stub.accepted[1]!;
    expect(second.intervalEndMs - second.intervalStartMs).toBe(DAY);
    // And the next one a day later again.
    await clock.advance(DAY);
    await vi.waitFor(() => expect(stub.accepted).toHaveLength(3));
    // Stepped back again, then shut down before the next alarm: the last interval still ends after it starts.
    clock.stepWallClock(-30 * DAY);
    await agent.shutdown();
    const last = stub.accepted.at(-1)!;
    expect(last.intervalEndMs).toBeGreaterThanOrEqual(last.intervalStartMs);
  });

  it('also follows a clock stepped back while a send is in flight (no alarm armed then)', async () => {
    // The second request (the day-1 report) hangs until the agent's timeout; the rest are answered.
    const stub = await collector((n) => (n === 1 ? 'hang' : 200));
    const clock = new FakeClock();
    const { agent } = agentFor(stub.url, { clock, dataDir: tempDir(), timeout: 2000 });
    await agent.preview();
    await agent.flush();
    await clock.advance(DAY, () => tick(300)); // the day-1 report goes out and hangs
    expect(stub.requests).toBeGreaterThanOrEqual(2);
    clock.stepWallClock(-365 * DAY);
    await vi.waitFor(() => expect(clock.pending).toBeGreaterThan(0), { timeout: 10_000 }); // the retry
    await clock.advance(10 * MINUTE);
    await vi.waitFor(() => expect(stub.accepted).toHaveLength(2));
    await clock.advance(2 * DAY); // two more reports are due: a day apart, not a year
    await vi.waitFor(() => expect(stub.accepted.length).toBeGreaterThanOrEqual(4));
  });

  it('delivers every report exactly once after the collector was down for several intervals', async () => {
    let down = true;
    const stub = await collector(() => (down ? 503 : 200));
    const clock = new FakeClock();
    const { agent } = agentFor(stub.url, { clock, dataDir: tempDir(), maxBackoff: 60 * MINUTE });
    const c = agent.counter('work');
    await started(agent);
    for (let day = 0; day < 4; day++) {
      c.inc(10);
      await clock.advance(DAY);
    }
    expect(stub.accepted).toHaveLength(0);
    expect(stub.requests).toBeGreaterThan(10); // retried with backoff in between
    down = false;
    await clock.advance(60 * MINUTE); // the next retry (backoff is capped at an hour), and report 5
    await vi.waitFor(() => expect(stub.accepted).toHaveLength(5));
    const ids = stub.accepted.map((r) => r.reportId);
    expect(new Set(ids).size).toBe(5);
    expect(stub.accepted.map((r) => r.sequence)).toEqual([1, 2, 3, 4, 5]);
    expect(stub.accepted.reduce((sum, r) => sum + r.metrics.find((m) => m.name === 'work')!.value, 0)).toBe(
      40,
    );
  });

  it('delivers the last report of a copy that ended after this one started on the same dataDir', async () => {
    // A service restarted while its old copy was still shutting down, with the collector away.
    let down = true;
    const stub = await collector(() => (down ? 503 : 200));
    const dataDir = tempDir();
    const { agent: current } = agentFor(stub.url, { clock: new FakeClock(), dataDir });
    await started(current);
    const { agent: old } = agentFor(stub.url, { clock: new FakeClock(), dataDir });
    old.counter('work').inc(5);
    await old.shutdown(500); // its last report stays in the spool
    down = false;
    await current.flush(); // before, it stayed there until the next start
    const work = stub.accepted.map((r) => r.metrics.find((m) => m.name === 'work')?.value ?? 0);
    expect(work.reduce((a, b) => a + b, 0)).toBe(5);
    expect(readdirSync(path.join(dataDir, 'spool'))).toEqual([]);
  });

  it('drops a report the collector rejects (400) and counts it in the next one', async () => {
    const stub = await collector((n) => (n === 0 ? 400 : 200));
    const clock = new FakeClock();
    const { agent, logs } = agentFor(stub.url, { clock, dataDir: tempDir() });
    await started(agent);
    await agent.flush();
    await agent.flush();
    expect(stub.accepted).toHaveLength(1);
    expect(stub.accepted[0]!.drops.reports).toBe(1);
    expect(stub.accepted[0]!.drops.errors).toBe(0); // refused, not an error inside the agent
    expect(logs.some((l) => l.includes('collector answered 400'))).toBe(true);
  });

  /** A leader agent with its own stub collector and clock. */
  async function leader(
    clusterFacts: () => Record<string, number>,
    options: { maxReportBytes?: number } = {},
  ) {
    const stub = await collector();
    const clock = new FakeClock();
    const { agent } = agentFor(stub.url, {
      clock,
      dataDir: tempDir(),
      isLeader: true,
      clusterFacts,
      ...options,
    });
    return { stub, clock, agent };
  }

  /** 40 histograms spanning 40 octaves each (~1,000 buckets): a report over 16 KiB. */
  function recordWide(agent: Agent): void {
    for (let i = 0; i < 40; i++) {
      const h = agent.histogram(`wide.${i}`);
      for (let k = 0; k < 500; k++) h.record(2 ** (-20 + (k * 40) / 500));
    }
  }

  it('previews the exact next report without changing anything', async () => {
    const { stub, clock, agent } = await leader(() => ({ 'nodes.compute': 3 }));
    agent.counter('c').inc(5);
    agent.histogram('h').record(1.5);
    agent.event('backup.finished', { ok: true, seconds: 3 });
    const live = { process: expect.anything(), system: expect.anything() }; // facts of this instant
    const a = await agent.preview();
    const b = await agent.preview();
    expect(a).toEqual({ ...b, ...live });
    expect(stub.requests).toBe(0);
    await agent.flush();
    const sent = stub.accepted[0]!;
    expect(sent).toEqual({ ...a, ...live });
    expect(sent.cluster).toEqual({ 'nodes.compute': 3 });
    expect(sent.events).toEqual([
      { name: 'backup.finished', timeMs: clock.now(), fields: { ok: true, seconds: 3 } },
    ]);
  });

  it('counts a clusterFacts that returns no object as a failure, and skips bad entries of one that does', async () => {
    for (const [returned, errors] of [
      [null, 1],
      [[1, 2], 1],
      ['3', 1],
      [{ 'nodes.compute': 3, 'bad key!': 1, 'nodes.meta': Number.NaN }, 0],
    ] as const) {
      const { stub, agent } = await leader(() => returned as unknown as Record<string, number>);
      await started(agent);
      await agent.flush();
      const sent = stub.accepted[0]!;
      expect(sent.drops.errors, JSON.stringify(returned)).toBe(errors);
      expect(sent.cluster).toEqual(errors ? {} : { 'nodes.compute': 3 });
    }
  });

  it('previews without counting a failing clusterFacts, and previews a report as fitted as the one sent', async () => {
    const { stub, agent } = await leader(
      () => {
        throw new Error('facts unavailable');
      },
      { maxReportBytes: 16 * 1024 },
    );
    recordWide(agent);
    const previews = [await agent.preview(), await agent.preview(), await agent.preview()];
    // Each preview shows the one error the next report will carry; none adds to it.
    expect(previews.map((p) => p!.drops.errors)).toEqual([1, 1, 1]);
    await agent.flush();
    const sent = stub.accepted[0]!;
    expect(sent.drops.errors).toBe(1);
    expect(sent.reportId).toBe(previews[0]!.reportId);
    expect(previews[0]!.metrics.map((m) => m.histogram!.scale)).toEqual(
      sent.metrics.map((m) => m.histogram!.scale),
    );
  });

  it('counts a logger that throws or rejects in drops.errors', async () => {
    const stub = await collector(() => 503);
    const clock = new FakeClock();
    const { agent } = agentFor(stub.url, {
      clock,
      dataDir: tempDir(),
      logger: {
        warn: () => {
          throw new Error('log sink down');
        },
      },
    });
    await started(agent); // the first-start notice: the logger throws
    await agent.flush(); // a 503, logged: the logger throws again
    stub.answer = () => 200;
    await agent.flush();
    const last = stub.accepted.at(-1)!;
    expect(last.drops.errors).toBeGreaterThanOrEqual(1);
  });

  it('refuses a value past ±1e300 alone, and leaves out a series whose total passes it, so that the collector takes the rest', async () => {
    const stub = await collector();
    const clock = new FakeClock();
    const { agent } = agentFor(stub.url, { clock, dataDir: tempDir() });
    // One wild sample costs that sample (counted in drops.values), not its series' other values.
    const latency = agent.histogram('latency');
    for (let i = 0; i < 1000; i++) latency.record(0.001 + i / 1e6);
    latency.record(1e301);
    agent.counter('bytes').inc(1e301); // finite, but a rollup adding two of them reaches Infinity
    agent.gauge('level').set(-2e300);
    // Values each within the bound whose total is not: that series cannot be sent this interval.
    agent.histogram('huge.sum').record(0.9e300);
    agent.histogram('huge.sum').record(0.9e300);
    agent.counter('ok').inc(2);
    agent.event('odd', { big: 1e301 }); // refused at once: event() reports the problem
    await started(agent);
    await agent.flush();
    const sent = stub.accepted[0]!;
    expect(sent.metrics.map((m) => m.name).sort()).toEqual(['bytes', 'latency', 'ok']);
    expect(sent.metrics.find((m) => m.name === 'latency')!.histogram!.count).toBe(1000);
    expect(sent.metrics.find((m) => m.name === 'bytes')!.value).toBe(0);
    expect(sent.drops.values).toBe(3);
    expect(sent.drops.series).toBe(1);
    expect(sent.events).toEqual([]);
  });

  it('fits a report too big for the collector by coarser histograms first, then fewer series', async () => {
    const stub = await collector();
    const clock = new FakeClock();
    const { agent } = agentFor(stub.url, { clock, dataDir: tempDir(), maxReportBytes: 16 * 1024 });
    recordWide(agent);
    await started(agent);
    await agent.flush();
    const sent = stub.accepted[0]!;
    expect(sent.metrics).toHaveLength(40);
    for (const m of sent.metrics) {
      expect(m.histogram!.scale).toBeLessThan(5); // coarser than the recorded scale
      expect(m.histogram!.count).toBe(500); // but every value still counted
    }
    expect(sent.drops.series).toBe(0);

    // When resolution is not enough, the widest series go, counted.
    for (let i = 0; i < 400; i++) agent.counter(`c.${i}`, { name: 'x'.repeat(200) }).inc();
    await agent.flush();
    const second = stub.accepted[1]!;
    const series = 400 + 40; // the counters, and the 40 histograms (empty this interval)
    expect(second.metrics.length).toBeLessThan(series);
    expect(second.drops.series).toBe(series - second.metrics.length);
  });

  it('fits many narrow histograms without making them coarser than the collector takes', async () => {
    const stub = await collector(); // decodes and validates like the real collector
    const clock = new FakeClock();
    const { agent } = agentFor(stub.url, { clock, dataDir: tempDir(), maxReportBytes: 16 * 1024 });
    // 1,500 histograms of ~20 buckets (values within 1.5× of each other): ten times 16 KiB, so one
    // step of proportional shrinking would take them down several scales at once.
    for (let i = 0; i < 1500; i++) {
      const h = agent.histogram(`narrow.${i}`);
      for (let k = 0; k < 50; k++) h.record(1 + k / 100);
    }
    await started(agent);
    await agent.flush();
    expect(stub.accepted).toHaveLength(1); // not refused as coarse_histogram
    const sent = stub.accepted[0]!;
    expect(sent.drops.reports).toBe(0);
    expect(sent.drops.series).toBe(1500 - sent.metrics.length); // the rest left out, counted
    for (const m of sent.metrics) expect(m.histogram!.scale).toBe(4); // lowered one scale, no more
  });

  it('never lets its logger break the host: an async logger that rejects is ignored', async () => {
    const stub = await collector(() => 503);
    const clock = new FakeClock();
    const { agent } = agentFor(stub.url, {
      clock,
      dataDir: tempDir(),
      // A rejection here would be unhandled (and fail this test run) if the agent did not catch it.
      logger: { warn: async () => Promise.reject(new Error('log sink down')) },
    });
    await started(agent); // the first-start notice
    await agent.flush(); // a 503: "delivery failed" is logged
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(stub.requests).toBe(1);
  });

  it('in debug mode sends nothing, not even reports an earlier run left in the spool', async () => {
    const stub = await collector(() => 503);
    const dataDir = tempDir();
    const first = agentFor(stub.url, { clock: new FakeClock(), dataDir });
    first.agent.counter('c').inc();
    await started(first.agent);
    await first.agent.flush(); // refused: stays spooled
    await first.agent.shutdown(500);
    const before = stub.requests;
    stub.answer = () => 200;
    const { agent } = agentFor(stub.url, {
      clock: new FakeClock(),
      dataDir,
      env: { TIDEWATCH_TELEMETRY_DEBUG: '1' },
    });
    await started(agent);
    await agent.flush();
    expect(stub.requests).toBe(before);
    expect(readdirSync(path.join(dataDir, 'spool')).length).toBeGreaterThan(0);
  });

  it('when disabled, writes no file, opens no connection and arms no timer', async () => {
    const stub = await collector();
    const dataDir = path.join(tempDir(), 'data');
    for (const [env, enabled] of [
      [{}, false],
      [{ TIDEWATCH_TELEMETRY: 'off' }, true],
      [{ DO_NOT_TRACK: '1' }, true],
    ] as const) {
      const clock = new FakeClock();
      const { agent, logs } = agentFor(stub.url, { clock, dataDir, env, enabled });
      expect(agent.enabled).toBe(false);
      agent.counter('c').inc();
      agent.histogram('h').record(1);
      agent.event('e', {});
      expect(await agent.preview()).toBeNull();
      await agent.flush();
      await clock.advance(10 * DAY);
      await agent.shutdown();
      expect(clock.pending).toBe(0);
      expect(logs).toEqual([]);
    }
    await tick(50);
    expect(existsSync(dataDir)).toBe(false);
    expect(stub.connections).toBe(0);
  });

  it('in debug mode prints each report instead of sending it', async () => {
    const stub = await collector();
    const clock = new FakeClock();
    const dataDir = tempDir();
    const { agent, logs } = agentFor(stub.url, { clock, dataDir, env: { TIDEWATCH_TELEMETRY_DEBUG: '1' } });
    agent.counter('c').inc();
    await agent.flush();
    expect(stub.connections).toBe(0);
    expect(logs.some((l) => l.includes('"name": "c"') && l.includes('not sent'))).toBe(true);
    await agent.shutdown(500);
    // Nothing was sent, so nothing is recorded, not even the tracking id or the notice: dataDir
    // is as it was.
    expect(readdirSync(dataDir)).toEqual([]);
    expect(logs.filter((l) => l.includes('TIDEWATCH_TELEMETRY=off'))).toEqual([]);
    // A real run afterwards starts at sequence 1 (no gap that would say a report was lost) and
    // shows the first-start notice.
    const real = agentFor(stub.url, { clock, dataDir });
    real.agent.counter('c').inc();
    await started(real.agent);
    await real.agent.flush();
    expect(stub.accepted.map((r) => r.sequence)).toEqual([1]);
    expect(real.logs.filter((l) => l.includes('TIDEWATCH_TELEMETRY=off'))).toHaveLength(1);
  });

  it('logs the first-start notice before a warning the host caused right after createAgent()', async () => {
    const stub = await collector();
    const { agent, logs } = agentFor(stub.url, { clock: new FakeClock(), dataDir: tempDir() });
    const labels = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, 'v']));
    agent.counter('c', labels).inc(); // too many labels: warned at once, on the hot path
    await started(agent);
    expect(logs).toHaveLength(2);
    expect(logs[0]).toContain('TIDEWATCH_TELEMETRY=off');
    expect(logs[1]).toContain('tidewatch agent:');
  });

  it('shows the notice once per dataDir and keeps a bounded audit copy of what was sent', async () => {
    const stub = await collector();
    const clock = new FakeClock();
    const dataDir = tempDir();
    const a = agentFor(stub.url, { clock, dataDir, sentMax: 2 });
    for (let i = 0; i < 4; i++) await a.agent.flush();
    await a.agent.shutdown();
    const b = agentFor(stub.url, { clock, dataDir, sentMax: 2 });
    await started(b.agent);
    expect(a.logs.filter((l) => l.includes('TIDEWATCH_TELEMETRY=off'))).toHaveLength(1);
    expect(a.logs.find((l) => l.includes('TIDEWATCH_TELEMETRY=off'))).toContain('telemetry once a day');
    expect(b.logs.filter((l) => l.includes('TIDEWATCH_TELEMETRY=off'))).toHaveLength(0);
    // The notice says how often this host reports, not the default.
    const c = agentFor(stub.url, { clock, dataDir: tempDir(), interval: 6 * 60 * MINUTE });
    await started(c.agent);
    expect(c.logs.join('\n')).toContain('telemetry every 6 hours');
    const sent = readdirSync(path.join(dataDir, 'sent'));
    expect(sent).toHaveLength(2);
    const copy = JSON.parse(readFileSync(path.join(dataDir, 'sent', sent[1]!), 'utf8'));
    // An empty report (no metrics, no events), and where it went.
    expect(copy).toEqual({ sentTo: `${stub.url}/api/v3/report`, ...stub.accepted[4] });
    expect(readdirSync(path.join(dataDir, 'spool'))).toEqual([]);
    expect(readFileSync(path.join(dataDir, 'state.json'), 'utf8')).toContain('"nextSequence":6');
  });

  /** The audit copy's layout, for comparing whole texts. */
  function auditLike(sentTo: string, report: object): string {
    const { metrics, events, ...rest } = { sentTo, ...(report as { metrics: unknown[]; events: unknown[] }) };
    const list = (key: string, items: unknown[]) =>
      `  "${key}": [${items.map((x, i) => `${i ? ',' : ''}\n    ${JSON.stringify(x)}`).join('')}${items.length ? '\n  ' : ''}]`;
    return `${JSON.stringify(rest, null, 2).slice(0, -2)},\n${list('metrics', metrics)},\n${list('events', events)}\n}\n`;
  }

  it('keeps the audit copies of new reports after a wall clock that ran a year ahead was set right', async () => {
    const stub = await collector();
    const clock = new FakeClock();
    const dataDir = tempDir();
    const { agent } = agentFor(stub.url, { clock, dataDir, sentMax: 2 });
    await started(agent);
    clock.stepWallClock(365 * DAY);
    for (let i = 0; i < 2; i++) await agent.flush(); // copies named a year ahead
    clock.stepWallClock(-365 * DAY);
    await agent.flush();
    const sent = readdirSync(path.join(dataDir, 'sent'));
    // The copy of what was sent last is kept: it sorted first by name, and was deleted at once.
    expect(sent.some((name) => Number(name.slice(0, 15)) <= clock.now())).toBe(true);
    expect(sent).toHaveLength(2);
  });

  it('writes the audit copy with one metric or event per line, equal to what was sent', async () => {
    const stub = await collector();
    const dataDir = tempDir();
    const { agent } = agentFor(stub.url, { clock: new FakeClock(), dataDir });
    for (let i = 0; i < 250; i++) {
      agent.counter('c', { i: String(i) }).inc(i);
      agent.histogram('h', { i: String(i) }).record(1 + i / 7);
    }
    agent.event('e', { n: 1 });
    agent.event('e', { n: 2 });
    await started(agent);
    await agent.flush();
    const [file] = readdirSync(path.join(dataDir, 'sent'));
    const text = readFileSync(path.join(dataDir, 'sent', file!), 'utf8');
    const sentTo = `${stub.url}/api/v3/report`;
    expect(JSON.parse(text)).toEqual({ sentTo, ...stub.accepted[0] });
    const lines = text.split('\n');
    expect(lines.filter((l) => l.startsWith('    {"name":"c"'))).toHaveLength(250);
    expect(lines.filter((l) => l.startsWith('    {"name":"e"'))).toHaveLength(2);
    // Not a line per bucket count (a 1 MiB report of wide histograms was a 10.7 MB copy).
    expect(lines.filter((l) => /^\s*\d+,?$/.test(l))).toEqual([]);
    await agent.shutdown();

    // A report spooled by an earlier process is decoded from the spool for its copy: the same text.
    stub.answer = () => 503;
    const later = agentFor(stub.url, { clock: new FakeClock(), dataDir });
    later.agent.histogram('h', { i: 'x' }).record(2.5);
    await later.agent.flush();
    await later.agent.shutdown();
    stub.answer = () => 200;
    const again = agentFor(stub.url, { clock: new FakeClock(), dataDir });
    await started(again.agent);
    await again.agent.flush();
    const spooledEarlier = stub.accepted.find((r) => r.metrics.some((m) => m.labels['i'] === 'x'))!;
    const copy = readdirSync(path.join(dataDir, 'sent')).find((f) => f.includes(spooledEarlier.reportId))!;
    expect(readFileSync(path.join(dataDir, 'sent', copy), 'utf8')).toBe(auditLike(sentTo, spooledEarlier));
    expect(text).toBe(auditLike(sentTo, stub.accepted[0]!));
  });

  it('generates a tracking id once and keeps it in dataDir', async () => {
    const stub = await collector();
    const clock = new FakeClock();
    const dataDir = tempDir();
    const a = agentFor(stub.url, { clock, dataDir, trackingId: undefined });
    await a.agent.flush();
    const b = agentFor(stub.url, { clock, dataDir, trackingId: undefined });
    await b.agent.flush();
    expect(stub.accepted[0]!.trackingId).toMatch(/^[0-9a-f-]{36}$/);
    expect(stub.accepted[1]!.trackingId).toBe(stub.accepted[0]!.trackingId);
    expect(readFileSync(path.join(dataDir, 'tracking-id'), 'utf8').trim()).toBe(stub.accepted[0]!.trackingId);
  });

  it('degrades to memory on an unusable dataDir and never throws into the host', async () => {
    const stub = await collector();
    const clock = new FakeClock();
    const file = path.join(tempDir(), 'file');
    writeFileSync(file, 'x');
    const { agent, logs } = agentFor(stub.url, { clock, dataDir: path.join(file, 'data') });
    agent.counter('c').inc();
    await agent.flush();
    expect(stub.accepted).toHaveLength(1);
    expect(logs.some((l) => l.includes('memory only'))).toBe(true);
    expect(logs.filter((l) => l.startsWith('tidewatch agent:'))).toHaveLength(1); // once per interval
  });

  it('shutdown never hangs on a collector that does not answer, and spools the last report', async () => {
    const stub = await collector(() => 'hang');
    const clock = new FakeClock();
    const dataDir = tempDir();
    const { agent, logs } = agentFor(stub.url, { clock, dataDir, timeout: 60_000 });
    agent.counter('c').inc();
    await started(agent);
    const t = Date.now();
    await agent.shutdown(300);
    expect(Date.now() - t).toBeLessThan(1500);
    expect(readdirSync(path.join(dataDir, 'spool'))).toHaveLength(1);
    await tick(50);
    // Said as it is: nothing retries after shutdown; the next start sends it.
    expect(
      logs.filter((l) => l.includes('will retry')),
      logs.join('\n'),
    ).toEqual([]);
    expect(logs.some((l) => l.includes('kept in the spool for the next start'))).toBe(true);
    expect(await agent.preview()).toBeNull(); // no next report after shutdown()
  });

  it('logs nothing after shutdown() resolved, when the host may have closed its log', async () => {
    const stub = await collector(() => 'hang');
    let closed = false;
    const late: string[] = [];
    const lines: string[] = [];
    const { agent } = agentFor(stub.url, {
      clock: new FakeClock(),
      dataDir: tempDir(),
      timeout: 60_000,
      // A write to an ended stream emits an uncaught 'error': the host crashed after a clean shutdown.
      logger: { warn: (m) => (closed ? late : lines).push(m) },
    });
    agent.counter('c').inc();
    await started(agent);
    await agent.shutdown(300);
    closed = true;
    await tick(100);
    expect(late).toEqual([]);
    expect(lines.some((l) => l.includes('shutdown took over 300 ms'))).toBe(true);
  });

  it('before any report, the first is due firstReportDelay after the first start, not after each start', async () => {
    const stub = await collector();
    const clock = new FakeClock();
    const dataDir = tempDir();
    // Earlier runs on this dataDir, none of which lived 5 minutes (a crash loop, short runs): the
    // first start was 4 minutes ago and no report was made.
    const firstStart = clock.now() - 4 * MINUTE;
    writeFileSync(
      path.join(dataDir, 'state.json'),
      JSON.stringify({ nextSequence: 1, lastReportMs: null, lastSuccessMs: null, noticeShownMs: firstStart }),
    );
    const { agent } = agentFor(stub.url, { clock, dataDir });
    agent.counter('c').inc();
    await started(agent);
    await clock.advance(MINUTE - 1);
    expect(stub.requests).toBe(0);
    await clock.advance(1);
    // Before, each start waited its own 5 minutes, so such a host never reported at all.
    await vi.waitFor(() => expect(stub.accepted).toHaveLength(1));
    await agent.shutdown(500);
  });

  it('a first start dated ahead of the clock (it ran a year ahead then) still lets short runs report', async () => {
    const stub = await collector();
    const dataDir = tempDir();
    const now = Date.UTC(2026, 0, 1);
    writeFileSync(
      path.join(dataDir, 'state.json'),
      JSON.stringify({
        nextSequence: 1,
        lastReportMs: null,
        lastSuccessMs: null,
        noticeShownMs: now + 365 * DAY,
      }),
    );
    // A run that dies a minute in (its clock never moves here), then one six minutes later.
    const crashed = agentFor(stub.url, { clock: new FakeClock(now), dataDir });
    await started(crashed.agent);
    const clock = new FakeClock(now + 6 * MINUTE);
    const { agent } = agentFor(stub.url, { clock, dataDir });
    await started(agent);
    await clock.advance(1);
    // Before, every start waited its own firstReportDelay: a host that never lives 5 minutes never reported.
    await vi.waitFor(() => expect(stub.accepted).toHaveLength(1));
  });

  it('a sent/ it cannot write skips the audit copy only: reports are still spooled on disk', async () => {
    const stub = await collector((n) => (n === 0 ? 200 : 503));
    const clock = new FakeClock();
    const dataDir = tempDir();
    writeFileSync(path.join(dataDir, 'sent'), 'not a directory');
    const { agent, logs } = agentFor(stub.url, { clock, dataDir });
    const c = agent.counter('c');
    await started(agent);
    c.inc();
    await agent.flush(); // delivered; its audit copy cannot be written
    expect(stub.accepted).toHaveLength(1);
    expect(
      logs.some((l) => l.includes('cannot write sent/') && l.includes('skipped')),
      logs.join('\n'),
    ).toBe(true);
    c.inc();
    await agent.flush(); // 503: kept
    // Before, the failed audit write made the whole agent memory-only: this report was not on
    // disk, and a kill -9 now would have lost it.
    expect(readdirSync(path.join(dataDir, 'spool'))).toHaveLength(1);
    expect(logs.some((l) => l.includes('memory only'))).toBe(false);
  });

  it('past maxSeries, drops new series, counts them and says so once per interval', async () => {
    const stub = await collector();
    const clock = new FakeClock();
    const { agent, logs } = agentFor(stub.url, { clock, dataDir: tempDir(), maxSeries: 2 });
    agent.counter('a').inc();
    agent.counter('b').inc();
    agent.counter('c').inc(); // over the cap
    agent.histogram('latency').record(0.1); // over the cap
    await started(agent);
    await agent.flush();
    const sent = stub.accepted[0]!;
    expect(sent.metrics.map((m) => m.name)).toEqual(['a', 'b']);
    expect(sent.drops.series).toBe(2);
    const said = logs.filter((l) => l.includes('maxSeries (2)'));
    expect(said, logs.join('\n')).toHaveLength(1);
    expect(said[0]).toContain('metric c');
  });

  it('at a start with a full spool and a report due, sends the spooled reports before spooling the new one', async () => {
    const stub = await collector(() => 503);
    const clock = new FakeClock();
    const dataDir = tempDir();
    const first = agentFor(stub.url, { clock, dataDir, spoolMaxReports: 3 }).agent;
    first.counter('c').inc();
    await started(first);
    await clock.advance(5 * MINUTE);
    for (let i = 0; i < 3; i++) await clock.advance(DAY);
    await first.shutdown(500);
    expect(readdirSync(path.join(dataDir, 'spool'))).toHaveLength(3); // full
    // The next start, a day later, with the collector back: its report is overdue.
    stub.answer = () => 200;
    await clock.advance(DAY);
    const second = agentFor(stub.url, { clock, dataDir, spoolMaxReports: 3 }).agent;
    await started(second);
    await clock.advance(1);
    await vi.waitFor(() => expect(stub.accepted).toHaveLength(4));
    // Before, the new report was spooled first and pushed out the oldest left over.
    expect(stub.accepted.map((r) => r.drops.reports)).toEqual([
      expect.any(Number),
      expect.any(Number),
      expect.any(Number),
      0,
    ]);
    expect(readdirSync(path.join(dataDir, 'spool'))).toHaveLength(0);
  });

  it('after shutdown() resolved at its deadline, sends, spools and writes nothing more', async () => {
    const stub = await collector();
    const clock = new FakeClock();
    const dataDir = tempDir();
    const { agent } = agentFor(stub.url, { clock, dataDir });
    // Enough wide histograms that the final report is still being encoded at the deadline.
    for (let i = 0; i < 2000; i++) {
      const h = agent.histogram('latency', { shard: String(i) });
      for (let k = 0; k < 200; k++) h.record(Math.exp(((k % 40) - 20) * 0.9));
    }
    await started(agent);
    await agent.shutdown(1);
    const files = (dir: string) =>
      existsSync(path.join(dataDir, dir)) ? readdirSync(path.join(dataDir, dir)) : [];
    const before = {
      spool: files('spool'),
      sent: files('sent'),
      state: readFileSync(path.join(dataDir, 'state.json'), 'utf8'),
    };
    await tick(1500);
    // Before, the final report went on after the deadline: spooled, sent and audited ~200 ms later.
    expect(stub.requests).toBe(0);
    expect({
      spool: files('spool'),
      sent: files('sent'),
      state: readFileSync(path.join(dataDir, 'state.json'), 'utf8'),
    }).toEqual(before);
  });

  it('bounds events per report and counts the rest, never throwing on bad input', async () => {
    const stub = await collector();
    const clock = new FakeClock();
    const { agent } = agentFor(stub.url, { clock, dataDir: null, maxEvents: 2 });
    agent.event('a', { n: 1 });
    agent.event('not valid!', {});
    agent.event('b', { s: 'x'.repeat(5000) });
    agent.event('c');
    const hostile = Object.defineProperty({}, 'boom', {
      enumerable: true,
      get() {
        throw new Error('getter');
      },
    });
    agent.event('d', hostile);
    await agent.flush();
    const r = stub.accepted[0]!;
    expect(r.events.map((e) => e.name)).toEqual(['a', 'b']);
    expect((r.events[1]!.fields['s'] as string).length).toBe(1024);
    expect(r.drops.events).toBe(3);
  });

  it('keeps no more events than one report can carry, and counts the rest with bad names', async () => {
    const stub = await collector();
    const clock = new FakeClock();
    const { agent } = agentFor(stub.url, { clock, dataDir: null, maxReportBytes: 64 * 1024 });
    // 32 fields of 1,024 characters: ~33 KB each, so only one fits in 64 KiB.
    const fields = Object.fromEntries(Array.from({ length: 32 }, (_, i) => [`f${i}`, 'x'.repeat(1024)]));
    for (let i = 0; i < 1000; i++) agent.event('big', fields);
    agent.event(5n as never);
    await agent.flush();
    const r = stub.accepted[0]!;
    expect(r.events).toHaveLength(1);
    expect(r.drops.events).toBe(1000);
    expect(r.drops.errors).toBe(0);
  });

  describe('an endpoint changed between restarts', () => {
    const spool = (dataDir: string) => readdirSync(path.join(dataDir, 'spool')).sort();
    const idOf = (name: string) => name.slice(27, 63);

    /** Two reports spooled for a collector that is down (a flush and shutdown's last report). */
    async function leftFor(url: string, dataDir: string, clock: FakeClock): Promise<string[]> {
      const { agent } = agentFor(url, { clock, dataDir });
      agent.counter('c').inc();
      await agent.flush();
      await agent.shutdown(500);
      expect(spool(dataDir)).toHaveLength(2);
      return spool(dataDir);
    }

    it("leaves the old endpoint's reports to a later start with it, and each audit copy says where it went", async () => {
      const staging = await collector(() => 503);
      const production = await collector();
      const clock = new FakeClock();
      const dataDir = tempDir();
      const left = await leftFor(staging.url, dataDir, clock);

      const { agent } = agentFor(production.url, { clock, dataDir });
      await agent.flush();
      await agent.shutdown(500);
      expect(production.accepted).toHaveLength(2); // its flush and its shutdown
      expect(production.accepted.map((r) => r.reportId)).not.toEqual(
        expect.arrayContaining([idOf(left[0]!)]),
      );
      expect(spool(dataDir)).toEqual(left);

      staging.answer = () => 200;
      const back = agentFor(staging.url, { clock, dataDir });
      await back.agent.flush();
      expect(staging.accepted.map((r) => r.reportId).slice(0, 2)).toEqual(left.map(idOf));
      expect(spool(dataDir)).toEqual([]);
      const sentTo = (url: string) => `${url}/api/v3/report`;
      const copies = readdirSync(path.join(dataDir, 'sent')).map(
        (f) =>
          JSON.parse(readFileSync(path.join(dataDir, 'sent', f), 'utf8')) as {
            sentTo: string;
            reportId: string;
          },
      );
      expect(copies).toHaveLength(5);
      for (const copy of copies) {
        const to = staging.accepted.some((r) => r.reportId === copy.reportId) ? staging.url : production.url;
        expect(copy.sentTo).toBe(sentTo(to));
      }
    });

    it("drops the old endpoint's reports past spoolMaxAge, logged but not counted in the new endpoint's drops", async () => {
      const staging = await collector(() => 503);
      const production = await collector();
      const clock = new FakeClock();
      const dataDir = tempDir();
      await leftFor(staging.url, dataDir, clock);
      const { agent, logs } = agentFor(production.url, { clock, dataDir, spoolMaxAge: DAY });
      await started(agent);
      clock.time += 2 * DAY;
      await agent.flush();
      await agent.flush();
      expect(spool(dataDir)).toEqual([]);
      expect(production.accepted.map((r) => r.drops.reports)).toEqual([0, 0]);
      expect(logs.join('\n')).toContain(
        'dropped 2 report(s) spooled for another endpoint older than spoolMaxAge',
      );
    });

    it('delivers what an earlier version spooled (no endpoint in its name) to the current endpoint, once', async () => {
      const before = await collector(() => 503);
      const clock = new FakeClock();
      const dataDir = tempDir();
      const left = await leftFor(before.url, dataDir, clock);
      for (const name of left) {
        const untagged = name.replace(/\.[0-9a-f]{12}\.pb$/, '.pb');
        renameSync(path.join(dataDir, 'spool', name), path.join(dataDir, 'spool', untagged));
      }
      const now = await collector();
      await agentFor(now.url, { clock, dataDir }).agent.flush();
      expect(now.accepted.map((r) => r.reportId).slice(0, 2)).toEqual(left.map(idOf));
      const another = await collector();
      await agentFor(another.url, { clock, dataDir }).agent.flush();
      expect(another.accepted).toHaveLength(1); // its own report only
      expect(spool(dataDir)).toEqual([]);
    });
  });
});
