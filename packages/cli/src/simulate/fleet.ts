// The simulated fleet's fixed facts: which RisingWave releases exist and when, and for each
// cluster when it appears, when it goes silent, its shape, and when it upgrades. Everything
// here is decided up front from the seed; what happens day by day is in activity.ts.
import { derivedHex, derivedUuid, Rng } from './random.js';

export const DAY_MS = 86_400_000;

export interface Release {
  version: string;
  gitSha: string;
  releasedAt: number;
  /** Wire features by release (RISINGWAVE-WIRE.md: fields were added over time). */
  protocol: 'v1' | 'v2';
  hasClusterType: boolean;
  hasObjectStore: boolean;
  /** How it sends events: none, one EventMessage per request (2.0/2.1), or batches. */
  events: 'none' | 'single' | 'batch';
  hasConnectorUsage: boolean;
  hasLicense: boolean;
  /** Before 1.5, v1 memory had `available`, and `total` over-counted. */
  legacyMemory: boolean;
  /** Query latency of the agent's histogram: a regression in one release, fixed in the next. */
  latencyMedian: number;
  latencySigma: number;
}

/** Oldest first. The last three are released during the simulated period. */
const CATALOG: [string, number, number][] = [
  // version, latency median (s), latency sigma
  ['1.3.0', 0.006, 0.9],
  ['1.5.4', 0.006, 0.9],
  ['1.7.3', 0.0055, 0.9],
  ['1.8.2', 0.005, 0.85],
  ['1.9.1', 0.005, 0.85],
  ['1.10.1', 0.0045, 0.85],
  ['2.0.4', 0.0045, 0.8],
  ['2.1.3', 0.004, 0.8],
  ['2.2.5', 0.004, 0.8],
  ['2.3.3', 0.0035, 0.8],
  ['2.4.2', 0.0035, 0.75],
  ['2.5.1', 0.0033, 0.75],
  ['2.6.0', 0.0034, 1.25],
  ['2.6.2', 0.0032, 0.75],
];
const IN_PERIOD = [0.18, 0.5, 0.78];
const RELEASE_GAP_DAYS = 50;

function minor(version: string): number {
  const [major, minorPart] = version.split('.').map(Number);
  return major! * 100 + minorPart!;
}

/** The releases, dated relative to the period: older ones before it, the last three inside it. */
export function releases(periodStart: number, periodEnd: number): Release[] {
  const span = periodEnd - periodStart;
  const before = CATALOG.length - IN_PERIOD.length;
  return CATALOG.map(([version, latencyMedian, latencySigma], i) => {
    const m = minor(version);
    return {
      version,
      gitSha: derivedHex(7, 'git', version),
      releasedAt:
        i < before
          ? periodStart - (before - i) * RELEASE_GAP_DAYS * DAY_MS
          : periodStart + IN_PERIOD[i - before]! * span,
      protocol: m < 108 ? 'v1' : 'v2',
      hasClusterType: m >= 110,
      hasObjectStore: m >= 200,
      events: m < 200 ? 'none' : m < 202 ? 'single' : 'batch',
      hasConnectorUsage: m >= 202,
      hasLicense: m >= 205,
      legacyMemory: m < 105,
      latencyMedian,
      latencySigma,
    };
  });
}

export const CLUSTER_TYPES = ['kubernetes', 'docker_compose', 'single_node', 'cloud_hosted'] as const;
export type ClusterType = (typeof CLUSTER_TYPES)[number];
export type MetaBackend = 'etcd' | 'rdb' | 'memory';

export interface Nodes {
  meta: number;
  compute: number;
  frontend: number;
  compactor: number;
}

export interface Upgrade {
  at: number;
  /** Index into releases(). */
  release: number;
}

export interface ClusterPlan {
  index: number;
  trackingId: string;
  /** When it first reports; before the period for the clusters already running at its start. */
  bornAt: number;
  /** When it stops reporting for good (possibly later than now), or null. */
  silentAt: number | null;
  clusterType: ClusterType;
  /** Chosen at first install; etcd clusters may move to rdb when they upgrade past 2.1. */
  memoryBackend: boolean;
  migratesToRdb: boolean;
  objectStore: string;
  nodes: Nodes;
  /** Bytes per node, and CPUs. */
  memoryTotal: number;
  cpus: number;
  os: { name: string; version: string; kernel: string };
  /** The first entry is the version at bornAt. */
  upgrades: Upgrade[];
  /** Reliability signal: a few clusters recover from failures many times a day. */
  unreliable: boolean;
  /** Stream jobs at the start of the period (skewed: most have a few, some hundreds). */
  initialJobs: number;
  /** Creates per day (drops follow at a similar rate). */
  activity: number;
  licenseTier: 'free' | 'paid' | 'invalid';
  /** Agent: queries per day. */
  queriesPerDay: number;
  /** An old test rig that sends is_test=true (validated, then discarded by the collector). */
  isTest: boolean;
  /** Process restarts (a new session id for every node) every this many ms. */
  restartEvery: number;
}

export interface FleetOptions {
  seed: string;
  clusters: number;
  days: number;
  /** The simulated "now": the end of the period. */
  now: number;
}

/**
 * The period: `days` whole UTC days ending with the day of `now`. The fleet is planned over whole
 * days (`planEnd` is the next midnight) and `now` only cuts what has been sent yet, so two runs on
 * the same day produce the same bytes for the same moments, and the collector deduplicates them.
 */
export function period(o: Pick<FleetOptions, 'days' | 'now'>): {
  start: number;
  end: number;
  planEnd: number;
} {
  const today = Math.floor(o.now / DAY_MS) * DAY_MS;
  return { start: today - (o.days - 1) * DAY_MS, end: o.now, planEnd: today + DAY_MS };
}

const OS = [
  { name: 'Ubuntu', version: '22.04', kernel: '5.15.0-1051-aws' },
  { name: 'Ubuntu', version: '24.04', kernel: '6.8.0-1014-aws' },
  { name: 'Debian GNU/Linux', version: '12', kernel: '6.1.0-18-cloud-amd64' },
  { name: 'Amazon Linux', version: '2023', kernel: '6.1.72-96.166.amzn2023.x86_64' },
  { name: 'Red Hat Enterprise Linux', version: '9.3', kernel: '5.14.0-362.8.1.el9_3.x86_64' },
];
const GIB = 1024 ** 3;

function shape(rng: Rng, type: ClusterType): { nodes: Nodes; memoryTotal: number; cpus: number } {
  const one = { meta: 1, compute: 1, frontend: 1, compactor: 1 };
  if (type === 'single_node')
    return { nodes: one, memoryTotal: rng.pick([8, 16, 32]) * GIB, cpus: rng.pick([4, 8]) };
  if (type === 'docker_compose')
    return { nodes: one, memoryTotal: rng.pick([16, 32, 64]) * GIB, cpus: rng.pick([4, 8, 16]) };
  const big = type === 'kubernetes';
  const compute = Math.min(big ? 32 : 8, Math.max(1, Math.round(rng.logNormal(big ? 2.5 : 1.6, 0.8))));
  return {
    nodes: {
      meta: big && rng.chance(0.3) ? 3 : 1,
      compute,
      frontend: Math.min(4, 1 + Math.floor(compute / 4) + (rng.chance(0.3) ? 1 : 0)),
      compactor: Math.min(4, 1 + Math.floor(compute / 6)),
    },
    memoryTotal: rng.pick([16, 32, 64, 128]) * GIB,
    cpus: rng.pick([4, 8, 16, 32]),
  };
}

function objectStore(rng: Rng, type: ClusterType): string {
  if (type === 'single_node') return rng.weighted({ fs: 6, minio: 2, s3: 2 });
  if (type === 'docker_compose') return rng.weighted({ minio: 6, s3: 3, fs: 1 });
  if (type === 'cloud_hosted') return rng.weighted({ s3: 7, gcs: 2, azblob: 1 });
  return rng.weighted({ s3: 55, gcs: 15, azblob: 10, minio: 17, hdfs: 3 });
}

/** The newest release out by `at`. */
function latestAt(all: readonly Release[], at: number): number {
  let latest = 0;
  for (let i = 0; i < all.length; i++) if (all[i]!.releasedAt <= at) latest = i;
  return latest;
}

function firstVersion(rng: Rng, all: readonly Release[], at: number, old: boolean): number {
  const latest = latestAt(all, at);
  // Clusters installed long ago run anything; new installs mostly take the newest release.
  const r = rng.next();
  const back = old ? Math.floor(rng.exp(3.2)) : r < 0.7 ? 0 : r < 0.9 ? 1 : 2;
  return Math.max(0, latest - back);
}

/** The version at bornAt (for the clusters already running, the one they run when the period starts), then upgrades. */
function upgradePath(
  rng: Rng,
  all: readonly Release[],
  bornAt: number,
  until: number,
  start: number,
): Upgrade[] {
  const established = Math.max(bornAt, start);
  const first = firstVersion(rng, all, established, bornAt < start);
  const path: Upgrade[] = [{ at: bornAt, release: first }];
  // Some never upgrade, most of all those already far behind; the others follow each release
  // after a personal lag.
  const behind = latestAt(all, established) - first;
  if (rng.chance(behind > 2 ? 0.7 : 0.25)) return path;
  const lag = (3 + rng.exp(25)) * DAY_MS;
  let current = { at: established, release: first };
  for (;;) {
    // Only releases that come out while it runs: being behind at the start is the cluster's habit.
    const next = all.findIndex((r, i) => i > current.release && r.releasedAt > current.at);
    if (next < 0) break;
    const at = Math.max(
      all[next]!.releasedAt + lag * (0.5 + rng.next()),
      current.at + (2 + rng.exp(10)) * DAY_MS,
    );
    if (at >= until) break;
    current = { at, release: latestAt(all, at) };
    path.push(current);
  }
  return path;
}

export function planCluster(o: FleetOptions, index: number, all: readonly Release[]): ClusterPlan {
  const rng = new Rng(o.seed, 'cluster', index);
  const { start, planEnd: end } = period(o);
  const span = end - start;
  // About 45% run already when the period starts; the others arrive, a little faster over time.
  const bornAt = rng.chance(0.45)
    ? start - rng.exp(200) * DAY_MS
    : start + Math.sqrt(rng.next()) * span * 0.98;
  const established = Math.max(bornAt, start);
  const trial = bornAt >= start && rng.chance(0.25);
  const lifetime = trial
    ? (1 + rng.exp(4)) * DAY_MS
    : rng.chance(0.2)
      ? rng.exp(span)
      : Number.POSITIVE_INFINITY;
  const silentAt = established + lifetime < end ? established + lifetime : null;
  const clusterType = rng.weighted({ kubernetes: 50, docker_compose: 18, single_node: 20, cloud_hosted: 12 });
  const { nodes, memoryTotal, cpus } = shape(rng, clusterType);
  const upgrades = upgradePath(rng, all, bornAt, silentAt ?? end, start);
  return {
    index,
    trackingId: derivedUuid(o.seed, 'cluster', index),
    bornAt,
    silentAt,
    clusterType,
    memoryBackend: clusterType === 'single_node' ? rng.chance(0.3) : rng.chance(0.02),
    migratesToRdb: rng.chance(0.6),
    objectStore: objectStore(rng, clusterType),
    nodes,
    memoryTotal,
    cpus,
    os: rng.pick(OS),
    upgrades,
    unreliable: rng.chance(0.06),
    initialJobs: Math.min(400, Math.floor(rng.logNormal(clusterType === 'single_node' ? 2 : 6, 1.3))),
    activity: Math.min(3, rng.logNormal(0.15, 1.2)),
    licenseTier: rng.weighted({ free: 70, paid: 26, invalid: 4 }),
    queriesPerDay: Math.min(3000, Math.round(rng.logNormal(600, 1))),
    isTest: rng.chance(0.02),
    restartEvery: (4 + rng.exp(20)) * DAY_MS,
  };
}

export function planFleet(o: FleetOptions): { releases: Release[]; clusters: ClusterPlan[] } {
  const { start, planEnd } = period(o);
  const all = releases(start, planEnd);
  return { releases: all, clusters: Array.from({ length: o.clusters }, (_, i) => planCluster(o, i, all)) };
}

/** The release a cluster runs at `at`. */
export function releaseAt(plan: ClusterPlan, at: number): number {
  let release = plan.upgrades[0]!.release;
  for (const u of plan.upgrades) if (u.at <= at) release = u.release;
  return release;
}

export function metaBackendAt(plan: ClusterPlan, all: readonly Release[], release: Release): MetaBackend {
  if (plan.memoryBackend) return 'memory';
  // The SQL meta store became the default in 2.1; older installs stay on etcd unless they move.
  if (minor(release.version) < 201) return 'etcd';
  const bornOn = minor(all[plan.upgrades[0]!.release]!.version);
  return bornOn >= 201 || plan.migratesToRdb ? 'rdb' : 'etcd';
}
