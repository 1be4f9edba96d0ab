// The query API over HTTP, with the tab's token. Errors come back as typed exceptions so views can
// tell "sign in again" from "this route is not there yet" from a real error.
import { getToken } from './auth';

export class UnauthorizedError extends Error {}

/** A token the browser cannot put in a header at all (a character no token has). */
export class UnsendableTokenError extends UnauthorizedError {}

/** 404: an unknown route (not built yet) or an unknown cluster, depending on the route. */
export class NotFoundError extends Error {}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

let controller = new AbortController();

/** Cancels the requests of the previous view; called on every navigation. */
export function cancelPending(): void {
  controller.abort();
  controller = new AbortController();
}

export type Params = Record<string, string | number | null | undefined>;

export function queryString(params: Params): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== '') search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

async function request(path: string, params: Params): Promise<Response> {
  const token = getToken();
  if (!token) throw new UnauthorizedError('Sign in with an access token.');
  const signal = controller.signal;
  let headers: Headers;
  try {
    headers = new Headers({ authorization: `Bearer ${token}`, accept: 'application/json' });
  } catch {
    // The browser refuses the header before anything is sent (fetch would say "Failed to fetch"):
    // a character no header may carry, most often a curly quote or a line break from copying.
    throw new UnsendableTokenError(
      'that token has a character no token has (a curly quote or a line break from copying it?)',
    );
  }
  let response: Response;
  try {
    response = await fetch(`${path}${queryString(params)}`, {
      headers,
      signal,
      cache: 'no-store',
    });
  } catch (error) {
    if (signal.aborted) throw error;
    // The browser's own words ("Failed to fetch", "NetworkError when attempting…") do not say
    // what failed: no answer at all means the collector is down or unreachable.
    throw new ApiError(
      0,
      'unreachable',
      'The collector did not answer (stopped, restarting, or the network is down); reload this page once it is back.',
    );
  }
  if (response.ok) return response;
  let code = 'error';
  let message = `${response.status} ${response.statusText}`;
  try {
    const body = (await response.json()) as { error?: string; message?: string };
    code = body.error ?? code;
    message = body.message ?? message;
  } catch (error) {
    if (signal.aborted) throw error;
    // not JSON: keep the status line
  }
  if (response.status === 401) throw new UnauthorizedError(message);
  if (response.status === 404) throw new NotFoundError(message);
  throw new ApiError(response.status, code, message);
}

export async function getJson<T>(path: string, params: Params = {}): Promise<T> {
  return (await (await request(path, params)).json()) as T;
}

export async function getText(path: string, params: Params = {}): Promise<string> {
  return (await request(path, params)).text();
}

export function isAbort(error: unknown): boolean {
  return error instanceof DOMException && error.name === 'AbortError';
}

// Shapes of the answers (CONTRACT.md and the OpenAPI document at /docs).
/** What a statistic left out: clusters with reports in the range, by reason. */
export interface Excluded {
  ci: number;
  internal: number;
}
export interface ActiveAnswer {
  excluded?: Excluded;
  series: { day: string; clusters: number }[];
}
export interface BreakdownAnswer {
  excluded?: Excluded;
  rows: { value: string | null; clusters: number }[];
}
export interface OverviewAnswer {
  excluded?: Excluded;
  from: string;
  to: string;
  clusters: { active: number; new: number; silent: number; total: number };
  lifetimeDays?: { p50: number | null; p90: number | null };
}
export interface VersionsAnswer {
  excluded?: Excluded;
  days: string[];
  versions: { version: string | null; clusters: number[] }[];
}
export interface EventItem {
  trackingId: string;
  receivedAt: string;
  eventTime: string;
  stage: string | null;
  name: string;
  connector: string | null;
  catalogId: number;
  node: string;
  object: string | null;
  attributes: unknown;
}
export interface EventsAnswer {
  events: EventItem[];
  next: string | null;
}
export interface AgentEventItem {
  trackingId: string;
  receivedAt: string;
  time: string;
  name: string;
  fields: unknown;
}
export interface AgentEventsAnswer {
  events: AgentEventItem[];
  next: string | null;
}
export interface MetricRow {
  value: string | null;
  clusters?: number;
  total?: number;
  last?: number;
  min?: number | null;
  max?: number | null;
  avg?: number | null;
  count?: number;
  sum?: number;
  p50?: number | null;
  p90?: number | null;
  p99?: number | null;
  /** How far p50, p90 and p99 may be from the exact values (0.0108: 1.08%). */
  relativeError?: number;
}
export interface MetricAnswer {
  excluded?: Excluded;
  name: string;
  from: string;
  to: string;
  kind: 'counter' | 'gauge' | 'histogram' | null;
  rows: MetricRow[];
}
export interface NodeCounts {
  meta: number;
  compute: number;
  frontend: number;
  compactor: number;
}
export interface ClusterAnswer {
  trackingId: string;
  firstSeen: string;
  lastSeen: string;
  version: string | null;
  gitSha: string | null;
  clusterType: string | null;
  metaBackend: string | null;
  nodeCount: NodeCounts | null;
  streamJobCount: number | null;
  objectStore: string | null;
  licenseTier?: string | null;
  connectors: string[];
  reports: NodeCounts;
  events: number;
  agentReports?: number;
}
export interface ClusterListAnswer {
  clusters: {
    trackingId: string;
    firstSeen: string;
    lastSeen: string;
    version: string | null;
    clusterType: string | null;
  }[];
  next: string | null;
  /** Clusters in the whole filtered list, every page. */
  total: number;
}
export interface DistributionAnswer {
  excluded?: Excluded;
  of: string;
  unit: 'bytes' | 'nodes' | 'jobs';
  clusters: number;
  unknown: number;
  min: number | null;
  p50: number | null;
  p90: number | null;
  p99: number | null;
  max: number | null;
  buckets: { from: number; to: number; clusters: number }[];
}
export interface ConnectorUsageRow {
  connector: string | null;
  format: string | null;
  encode: string | null;
  clusters: number;
  count: number;
}
/** GET /query/event-counts: events (and the clusters they came from) per group. */
export interface EventCountsAnswer {
  excluded?: Excluded;
  rows: { value: string | null; events: number; clusters: number }[];
}
export interface ConnectorsAnswer {
  excluded?: Excluded;
  clusters: number;
  sources: ConnectorUsageRow[];
  sinks: ConnectorUsageRow[];
}
export interface AdoptionAnswer {
  excluded?: Excluded;
  from: string;
  to: string;
  releases: {
    version: string;
    firstDay: string;
    beforeRange: boolean;
    peakShare: number;
    peakDay: string;
    latestShare: number;
    daysTo: Record<string, number | null>;
  }[];
}
export interface HistoryAnswer {
  trackingId: string;
  days: {
    day: string;
    factsAt: string;
    version: string | null;
    clusterType: string | null;
    licenseTier: string | null;
    memoryTotal: number | null;
    nodeCount: NodeCounts | null;
    streamJobCount: number | null;
    connectors: string[];
  }[];
  sessions: {
    sessionId: string;
    nodeType: string;
    source: 'risingwave' | 'agent';
    firstSeen: string;
    lastSeen: string;
    reports: number;
    memoryTotal: number | null;
    cpuAvailable: number | null;
  }[];
}
export interface MetricNamesAnswer {
  metrics: { name: string; kind: string; unit: string; clusters: number }[];
}
