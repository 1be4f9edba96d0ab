// What the simulated fleet sends, day by day: every node's report each 6 hours, stream jobs
// created and dropped (with their events), recoveries, license checks and, optionally, one agent
// report per cluster per day. Days must be walked in order (job lists carry over); each day's
// randomness is seeded by (seed, cluster, day), so the bytes are the same on every run.
import { agentLatencyMedian, agentReportOf } from './agent-day.js';
import { PAID_FEATURES, SINK_WEIGHTS, SINKS, SOURCE_WEIGHTS, SOURCES } from './connectors.js';
import {
  type ClusterPlan,
  DAY_MS,
  type FleetOptions,
  metaBackendAt,
  period,
  planFleet,
  type Release,
  releaseAt,
} from './fleet.js';
import { derivedUuid, Rng } from './random.js';
import {
  agentReportBytes,
  type BaseFacts,
  type EventFacts,
  type Job,
  type NodeName,
  v1Report,
  v2Event,
  v2EventBatch,
  v2Report,
} from './wire.js';

/** One request's worth: what the public route would receive, and when. */
export interface WireItem {
  /** The cluster that sends it (also inside the body). */
  trackingId: string;
  receivedAt: number;
  path: string;
  contentType: 'application/x-protobuf' | 'application/json';
  body: Uint8Array;
  kind: 'report' | 'events' | 'agent';
  /** Events in the body (event items only). */
  events: number;
}

const HOUR_MS = 3_600_000;
const REPORT_EVERY_MS = 6 * HOUR_MS;
const PROTOBUF = 'application/x-protobuf';

interface ClusterState {
  jobs: Job[];
  nextCatalogId: number;
  sources: string[];
  sinks: string[];
  /** Report phase within the 6-hour cycle, per node instance. */
  phases: { node: NodeName; instance: number; phase: number }[];
  agentPhase: number;
  agentSequence: number;
  lastAgentAt: number | null;
}

/** Everything that happens to a cluster on one day, in time order. */
type Happening =
  | { at: number; what: 'report'; node: NodeName; instance: number }
  | { at: number; what: 'create'; kind: Job['kind'] }
  | { at: number; what: 'drop' }
  | { at: number; what: 'event'; event: Omit<EventFacts, 'trackingId' | 'timeSec' | 'isTest' | 'catalogId'> }
  | { at: number; what: 'agent' };

export interface SimulationOptions extends FleetOptions {
  agents: boolean;
}

export class FleetSimulation {
  readonly releases: Release[];
  readonly clusters: ClusterPlan[];
  readonly start: number;
  readonly end: number;
  private readonly states = new Map<number, ClusterState>();

  constructor(private readonly o: SimulationOptions) {
    const fleet = planFleet(o);
    this.releases = fleet.releases;
    this.clusters = fleet.clusters;
    ({ start: this.start, end: this.end } = period(o));
  }

  /** Start of each simulated UTC day, oldest first. */
  days(): number[] {
    return Array.from({ length: this.o.days }, (_, i) => this.start + i * DAY_MS);
  }

  /**
   * Advances every cluster through the day starting at `dayStart` and yields what it sends with a
   * receive time in [emitFrom, end]. Earlier items are generated (state must advance) but dropped.
   */
  *day(dayStart: number, emitFrom: number): Generator<WireItem> {
    for (const plan of this.clusters) yield* this.clusterDay(plan, dayStart, emitFrom);
  }

  private state(plan: ClusterPlan): ClusterState {
    let state = this.states.get(plan.index);
    if (state) return state;
    const rng = new Rng(this.o.seed, 'setup', plan.index);
    const sources = [rng.weighted(SOURCE_WEIGHTS)];
    while (sources.length < 3 && rng.chance(0.4)) sources.push(rng.weighted(SOURCE_WEIGHTS));
    const sinks = [rng.weighted(SINK_WEIGHTS)];
    if (rng.chance(0.35)) sinks.push(rng.weighted(SINK_WEIGHTS));
    const phases: ClusterState['phases'] = [];
    for (const node of ['meta', 'compute', 'frontend', 'compactor'] as const) {
      // Only the elected meta leader reports for the meta nodes.
      const count = node === 'meta' ? 1 : plan.nodes[node];
      for (let instance = 0; instance < count; instance++) {
        phases.push({ node, instance, phase: Math.floor(rng.next() * REPORT_EVERY_MS) });
      }
    }
    state = {
      jobs: [],
      nextCatalogId: 1000 + rng.int(0, 5000),
      sources,
      sinks,
      phases,
      agentPhase: Math.floor(rng.next() * DAY_MS),
      agentSequence: 0,
      lastAgentAt: null,
    };
    // Clusters running before the period already have their jobs (created before we watched).
    if (plan.bornAt < this.start) {
      for (let i = 0; i < plan.initialJobs; i++) state.jobs.push(this.newJob(rng, state, jobKind(rng)));
    }
    this.states.set(plan.index, state);
    return state;
  }

  private newJob(rng: Rng, state: ClusterState, kind: Job['kind']): Job {
    const id = state.nextCatalogId;
    state.nextCatalogId += rng.int(1, 4);
    if (kind === 'mv' || kind === 'table') return { id, kind, connector: null, format: null, encode: null };
    const connector = rng.pick(kind === 'source' ? state.sources : state.sinks);
    const [format, encode] = rng.weighted((kind === 'source' ? SOURCES : SINKS)[connector]![1]).split('/');
    return { id, kind, connector, format: format!, encode: encode! };
  }

  private *clusterDay(plan: ClusterPlan, dayStart: number, emitFrom: number): Generator<WireItem> {
    const from = Math.max(plan.bornAt, dayStart, this.start);
    // The whole day is planned even when it is today: `now` only cuts what is sent, so a later run
    // on the same day repeats the same bytes for the same moments.
    const to = Math.min(plan.silentAt ?? Number.POSITIVE_INFINITY, dayStart + DAY_MS);
    if (from >= to) return;
    const state = this.state(plan);
    const rng = new Rng(this.o.seed, 'day', plan.index, dayStart);
    const within = () => from + Math.floor(rng.next() * (to - from));
    const happenings: Happening[] = [];

    for (const { node, instance, phase } of state.phases) {
      for (let at = dayStart + phase; at < to; at += REPORT_EVERY_MS) {
        if (at >= from) happenings.push({ at, what: 'report', node, instance });
      }
    }
    // New clusters build their pipelines in the first days; then jobs come and go slowly.
    const young = plan.bornAt >= this.start && from - plan.bornAt < 3 * DAY_MS;
    const creates = rng.poisson(plan.activity + (young ? 1 + plan.initialJobs / 3 : 0));
    for (let i = 0; i < creates; i++) happenings.push({ at: within(), what: 'create', kind: jobKind(rng) });
    const drops = rng.poisson(plan.activity * 0.6);
    for (let i = 0; i < drops; i++) happenings.push({ at: within(), what: 'drop' });
    const recovery = (name: string) => ({ stage: 'recovery', name, node: 'meta' }) as const;
    const failures = rng.poisson(plan.unreliable ? 0.5 + rng.exp(3) : 0.03);
    for (let i = 0; i < failures; i++)
      happenings.push({ at: within(), what: 'event', event: recovery('failure_recovery') });
    for (let i = rng.poisson(0.02); i > 0; i--)
      happenings.push({ at: within(), what: 'event', event: recovery('normal_recovery') });
    if (rng.chance(0.005))
      happenings.push({ at: within(), what: 'event', event: recovery('adhoc_recovery') });
    for (const u of plan.upgrades.slice(1)) {
      // An upgrade restarts the cluster: RisingWave logs a normal recovery.
      if (u.at >= from && u.at < to)
        happenings.push({ at: u.at + 60_000, what: 'event', event: recovery('normal_recovery') });
    }
    if (rng.chance(0.12)) {
      const feature = rng.pick(PAID_FEATURES);
      const success = plan.licenseTier === 'paid' || rng.chance(0.2);
      const event = {
        stage: 'unspecified',
        name: feature,
        node: 'paywall',
        attributes: JSON.stringify({ success }),
      } as const;
      happenings.push({ at: within(), what: 'event', event });
    }
    if (rng.chance(0.01)) {
      happenings.push({
        at: within(),
        what: 'event',
        event: { stage: 'unspecified', name: 'connection_create', node: 'frontend' },
      });
    }
    const agentAt = dayStart + state.agentPhase;
    if (this.o.agents && agentAt >= from && agentAt < to) happenings.push({ at: agentAt, what: 'agent' });
    happenings.sort((a, b) => a.at - b.at);

    const pending: { at: number; facts: EventFacts }[] = [];
    for (const h of happenings) {
      const release = this.releases[releaseAt(plan, h.at)]!;
      if (h.what === 'report') {
        const item = this.report(plan, state, rng, release, h.node, h.instance, h.at);
        if (item.receivedAt >= emitFrom && item.receivedAt <= this.end) yield item;
        continue;
      }
      if (h.what === 'agent') {
        const item = this.agentReport(plan, state, rng, release, h.at);
        if (item.receivedAt >= emitFrom && item.receivedAt <= this.end) yield item;
        continue;
      }
      const event = this.applyChange(plan, state, rng, h);
      if (event && release.events !== 'none') pending.push({ at: h.at, facts: event });
    }
    yield* this.eventItems(pending, plan, emitFrom);
  }

  /** Applies a create or drop to the job list; returns the event RisingWave logs for it, if any. */
  private applyChange(
    plan: ClusterPlan,
    state: ClusterState,
    rng: Rng,
    h: Exclude<Happening, { what: 'report' | 'agent' }>,
  ): EventFacts | null {
    const common = { trackingId: plan.trackingId, timeSec: Math.floor(h.at / 1000), isTest: plan.isTest };
    if (h.what === 'event') return { ...common, catalogId: 0, ...h.event };
    if (h.what === 'create') {
      const job = this.newJob(rng, state, h.kind);
      state.jobs.push(job);
      if (job.kind !== 'source' && job.kind !== 'sink') return null;
      return {
        ...common,
        stage: 'create_stream_job',
        name: job.kind,
        node: 'frontend',
        catalogId: job.id,
        connector: job.connector ?? undefined,
        attributes: JSON.stringify({ format: job.format, encode: job.encode }),
        object: job.kind,
      };
    }
    if (state.jobs.length === 0) return null;
    const [job] = state.jobs.splice(Math.floor(rng.next() * state.jobs.length), 1);
    if (job!.kind !== 'source') return null;
    return {
      ...common,
      stage: 'drop_stream_job',
      name: 'source',
      node: 'frontend',
      catalogId: job!.id,
      connector: job!.connector ?? undefined,
      object: 'source',
    };
  }

  /** 2.0/2.1 post each event alone; later versions batch what happens within 10 seconds. */
  private *eventItems(pending: { at: number; facts: EventFacts }[], plan: ClusterPlan, emitFrom: number) {
    const groups: { at: number; single: boolean; events: EventFacts[] }[] = [];
    for (const { at, facts } of pending) {
      const single = this.releases[releaseAt(plan, at)]!.events === 'single';
      const last = groups[groups.length - 1];
      if (!single && last && !last.single && at - last.at < 10_000 && last.events.length < 100) {
        last.events.push(facts);
      } else {
        groups.push({ at, single, events: [facts] });
      }
    }
    for (const { at, single, events } of groups) {
      const receivedAt = at + (single ? 150 : 10_000);
      if (receivedAt < emitFrom || receivedAt > this.end) continue;
      yield {
        trackingId: plan.trackingId,
        receivedAt,
        path: single ? '/api/v2/report/event' : '/api/v2/report/events',
        contentType: PROTOBUF,
        body: single ? v2Event(events[0]!) : v2EventBatch(events),
        kind: 'events',
        events: events.length,
      } satisfies WireItem;
    }
  }

  /** When the node's current process started: the last upgrade or periodic restart. */
  private sessionStart(plan: ClusterPlan, at: number): number {
    const established = Math.max(plan.bornAt, this.start - 30 * DAY_MS);
    let start = established + Math.floor((at - established) / plan.restartEvery) * plan.restartEvery;
    for (const u of plan.upgrades) if (u.at <= at && u.at > start) start = u.at;
    return start;
  }

  private report(
    plan: ClusterPlan,
    state: ClusterState,
    rng: Rng,
    release: Release,
    node: NodeName,
    instance: number,
    at: number,
  ): WireItem {
    const started = this.sessionStart(plan, at);
    const base: BaseFacts = {
      trackingId: plan.trackingId,
      sessionId: derivedUuid(this.o.seed, 'session', plan.index, node, instance, started),
      node,
      reportTime: Math.floor(at / 1000),
      upTime: Math.floor((at - started) / 1000),
      isTest: plan.isTest,
      memoryUsed: Math.floor(plan.memoryTotal * (0.25 + rng.next() * 0.5)),
      memoryTotal: plan.memoryTotal,
      os: plan.os,
      cpus: plan.cpus,
    };
    const meta =
      node === 'meta'
        ? {
            release,
            metaBackend: metaBackendAt(plan, this.releases, release),
            nodes: plan.nodes,
            jobs: state.jobs,
            clusterType: plan.clusterType,
            objectStore: plan.objectStore,
            licenseJson: licenseJson(plan, at),
          }
        : null;
    const receivedAt = at + 20 + Math.floor(rng.next() * 400);
    if (release.protocol === 'v1') {
      return {
        trackingId: plan.trackingId,
        receivedAt,
        path: `/api/v1/report/${node}`,
        contentType: 'application/json',
        body: v1Report(base, meta, release.legacyMemory),
        kind: 'report',
        events: 0,
      };
    }
    return {
      trackingId: plan.trackingId,
      receivedAt,
      path: `/api/v2/report/${node}`,
      contentType: PROTOBUF,
      body: v2Report(base, meta),
      kind: 'report',
      events: 0,
    };
  }

  private agentReport(
    plan: ClusterPlan,
    state: ClusterState,
    rng: Rng,
    release: Release,
    at: number,
  ): WireItem {
    state.agentSequence++;
    const queries = Math.min(5000, rng.poisson(plan.queriesPerDay));
    // Latency depends on the release (one of them regressed its tail) and a little on the cluster.
    const latencies = Array.from({ length: queries }, () =>
      rng.logNormal(agentLatencyMedian(plan, release), release.latencySigma),
    );
    const errors = rng.poisson(queries * (plan.unreliable ? 0.02 : 0.003));
    const started = this.sessionStart(plan, at);
    const memoryUsed = Math.floor(plan.memoryTotal * (0.25 + rng.next() * 0.5));
    const heapUsed = Math.floor(rng.logNormal(80e6, 0.4));
    const eventLoopDelayP99 = rng.logNormal(0.012, 0.5);
    const report = agentReportOf({
      plan,
      release,
      at,
      reportId: derivedUuid(this.o.seed, 'agent', plan.index, at),
      sequence: state.agentSequence,
      sessionId: derivedUuid(this.o.seed, 'agent-session', plan.index, started),
      intervalStartMs: state.lastAgentAt ?? at - DAY_MS,
      memoryUsed,
      process: {
        heapUsed,
        eventLoopDelayP99,
        uptime: Math.floor((at - started) / 1000),
        runtime: 'node v20.19.0',
      },
      cluster: { stream_jobs: state.jobs.length },
      queries,
      errors,
      connections: rng.int(1, 20 * plan.nodes.frontend),
      latencies,
    });
    state.lastAgentAt = at;
    const protobuf = plan.index % 2 === 0;
    return {
      trackingId: plan.trackingId,
      receivedAt: at + 30 + Math.floor(rng.next() * 300),
      path: '/api/v3/report',
      contentType: protobuf ? PROTOBUF : 'application/json',
      body: agentReportBytes(report, protobuf),
      kind: 'agent',
      events: 0,
    };
  }
}

function jobKind(rng: Rng): Job['kind'] {
  return rng.weighted({ source: 45, sink: 25, mv: 25, table: 5 });
}

function licenseJson(plan: ClusterPlan, at: number): string {
  if (plan.licenseTier === 'invalid')
    return JSON.stringify({ error: 'invalid license key: InvalidSignature' });
  const exp = Math.floor(at / 1000 / 86_400) * 86_400 + 365 * 86_400;
  if (plan.licenseTier === 'free') {
    return JSON.stringify({ sub: 'default', iss: 'prod.risingwave.com', tier: 'free', rwu_limit: null, exp });
  }
  return JSON.stringify({
    sub: `customer-${plan.trackingId.slice(0, 8)}`,
    iss: 'prod.risingwave.com',
    tier: 'paid',
    rwu_limit: 16 * plan.nodes.compute,
    exp,
  });
}
