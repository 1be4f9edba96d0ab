// The agent's one configuration object: what the host passes, the defaults, and the operator's
// environment switches, which the agent reads itself (the operator decides, not the host).
import { writeSync } from 'node:fs';
import { DOT_SEGMENT, NATIVE_LIMITS, PRINTABLE_ASCII, UNSTORABLE_TEXT } from '@tidewatch/protocol';
import { AgentError, shown } from './errors.js';

/** Time and timers, injectable so that tests can run days in milliseconds. */
export interface Clock {
  now(): number;
  /**
   * Milliseconds on a clock that only moves forward (the default: performance.now()), so that the
   * agent can tell the wall clock being stepped from time passing. Without it, steps go unseen.
   */
  elapsed?(): number;
  /** Must not keep the process alive (the default unrefs its timers). */
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface Logger {
  warn(message: string): void;
}

export interface AgentOptions {
  /** Collector base URL, e.g. `https://telemetry.example.com`; reports go to `${endpoint}/api/v3/report`. */
  endpoint: string;
  /** Free text, 1–64 characters: `frontend`, `compute`, `pglite`, … */
  nodeType: string;
  /** The cluster's id (1–128 printable ASCII), shared by all its nodes. Default: generated and kept in dataDir. */
  trackingId?: string;
  version?: string;
  gitSha?: string;
  clusterType?: string;
  /** This node reports the cluster-wide facts (`clusterFacts`). */
  isLeader?: boolean;
  /** Called on the leader at each report: node counts and the like (finite numbers, metric-style keys). */
  clusterFacts?: () => Record<string, number> | Promise<Record<string, number>>;
  /** Where the tracking id, state, spool and audit copies live; null keeps everything in memory. */
  dataDir?: string | null;
  /** Milliseconds between reports. */
  interval?: number;
  /** Milliseconds from the very first start to the first report. */
  firstReportDelay?: number;
  /** Random extra delay, as a fraction of the interval (and of firstReportDelay). */
  jitter?: number;
  enabled?: boolean;
  /** Reports are validated and acknowledged by the collector but never stored (the host's own tests). */
  isTest?: boolean;
  format?: 'protobuf' | 'json';
  gzip?: boolean;
  /** Milliseconds one HTTP attempt may take. */
  timeout?: number;
  /** First retry delay after a failed delivery; doubles per failure up to maxBackoff. */
  retryBase?: number;
  maxBackoff?: number;
  maxSeries?: number;
  maxEvents?: number;
  /** Buckets per histogram series (memory: 16 bytes each, allocated as needed). */
  histogramBuckets?: number;
  /**
   * The largest report body (before gzip) to send: the collector refuses bigger ones (its
   * --body-limit, 1 MiB by default). A report over it first loses histogram resolution, then
   * its widest series.
   */
  maxReportBytes?: number;
  spoolMaxReports?: number;
  spoolMaxBytes?: number;
  spoolMaxAge?: number;
  /** Audit copies of sent reports kept in <dataDir>/sent/. */
  sentMax?: number;
  logger?: Logger;
  clock?: Clock;
  /** Uniform random numbers in [0, 1) for jitter; injectable for tests. */
  random?: () => number;
  /**
   * The environment to read the operator's switches from (default process.env). An opt-out in
   * process.env (TIDEWATCH_TELEMETRY=off, DO_NOT_TRACK=1) holds whatever this says.
   */
  env?: Record<string, string | undefined>;
}

export const DEFAULTS = {
  interval: 24 * 60 * 60 * 1000,
  firstReportDelay: 5 * 60 * 1000,
  jitter: 0.1,
  format: 'protobuf',
  gzip: true,
  timeout: 10_000,
  retryBase: 1000,
  maxBackoff: 60 * 60 * 1000,
  maxSeries: 2000,
  maxEvents: 1000,
  histogramBuckets: 1024,
  maxReportBytes: 1024 * 1024,
  spoolMaxReports: 100,
  spoolMaxBytes: 16 * 1024 * 1024,
  spoolMaxAge: 30 * 24 * 60 * 60 * 1000,
  sentMax: 10,
} as const;

export type ResolvedOptions = Required<
  Omit<AgentOptions, 'trackingId' | 'clusterFacts' | 'env' | 'dataDir'>
> & {
  trackingId: string | null;
  clusterFacts: AgentOptions['clusterFacts'] | null;
  dataDir: string | null;
  reportUrl: URL;
  /** Operator switches, read from the environment. */
  disabledBy: string | null;
  debug: boolean;
  ci: boolean;
};

/**
 * Lets the process exit while `handle` waits. A host may have replaced the global setTimeout
 * with one that returns a number (a polyfill, an old fake-timer library): then there is nothing
 * to unref, and calling it would throw inside the agent on every timer.
 */
export function unrefTimer(handle: unknown): void {
  (handle as { unref?: () => void } | null)?.unref?.();
}

export const systemClock: Clock = {
  now: () => Date.now(),
  elapsed: () => performance.now(),
  setTimeout(callback, ms) {
    const handle = setTimeout(callback, ms);
    unrefTimer(handle);
    return handle;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/**
 * Writes to file descriptor 2 itself, inside a try: through process.stderr, a pipe whose reader had
 * gone (a dead log pipe) failed with EPIPE as an 'error' event that nothing handled, and crashed a
 * host that never wrote to stderr itself. The line is dropped then.
 */
const stderrLogger: Logger = {
  warn: (message) => {
    try {
      writeSync(2, `${message}\n`);
    } catch {}
  },
};

function fail(message: string): never {
  throw new AgentError('invalid_option', message);
}

function text(value: unknown, name: string, max: number, required = false): string {
  if (value === undefined && !required) return '';
  if (typeof value !== 'string' || (required && value.length === 0))
    fail(`${name} must be a ${required ? 'non-empty ' : ''}string`);
  if (value.length > max || UNSTORABLE_TEXT.test(value)) {
    fail(`${name} must be at most ${max} characters, without NUL or unpaired surrogates`);
  }
  return value;
}

function number(value: unknown, name: string, fallback: number, min: number, max: number, integer = false) {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(value >= min && value <= max) || (integer && !Number.isInteger(value))) {
    fail(`${name} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}, got ${shown(value)}`);
  }
  return value;
}

const OFF = new Set(['off', '0', 'false', 'disabled', 'no']);
const truthy = (v: string | undefined) => v !== undefined && v !== '' && !OFF.has(v.trim().toLowerCase());

/**
 * The values of TIDEWATCH_TELEMETRY that leave telemetry on. Any other value turns it off: an
 * operator who writes `none`, `disable` or `nope` means off, and a misspelt opt-out must not send.
 */
const ON = new Set(['', 'on', '1', 'true', 'enabled', 'yes']);

/** Which switch in `env` turns telemetry off, or null. */
function optOutOf(env: Record<string, string | undefined>): string | null {
  const telemetry = env['TIDEWATCH_TELEMETRY'];
  if (telemetry !== undefined && !ON.has(telemetry.trim().toLowerCase()))
    return `TIDEWATCH_TELEMETRY=${telemetry}`;
  return truthy(env['DO_NOT_TRACK']) ? 'DO_NOT_TRACK' : null;
}

/** Validates the host's options (throwing AgentError) and applies defaults and the environment. */
export function resolveOptions(options: AgentOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null) fail('options must be an object');
  // A URL object is taken as its address (the type says string; JavaScript callers pass either).
  const given: unknown = options.endpoint;
  const o = given instanceof URL ? { ...options, endpoint: given.href } : options;
  const env = o.env ?? process.env;

  // The endpoint is parsed on its own first: `http://` or `https:` would otherwise parse once the
  // route is appended (its first segment taken for the host), and a query or fragment would
  // swallow the route.
  let base: URL;
  try {
    base = new URL(typeof o.endpoint === 'string' ? o.endpoint : shown(o.endpoint));
  } catch {
    fail(`endpoint ${shown(o.endpoint)} is not a URL like https://telemetry.example.com`);
  }
  if (typeof o.endpoint !== 'string' || !/^https?:$/.test(base.protocol) || base.hostname === '') {
    fail(`endpoint ${shown(o.endpoint)} must be an http:// or https:// URL with a host`);
  }
  if (base.search !== '' || base.hash !== '' || o.endpoint.includes('#') || o.endpoint.includes('?')) {
    fail(
      `endpoint ${shown(o.endpoint)} must not have a ?query or #fragment: reports go to ENDPOINT/api/v3/report`,
    );
  }
  const reportUrl = new URL(`${base.href.replace(/\/+$/, '')}/api/v3/report`);
  if (
    o.trackingId !== undefined &&
    (typeof o.trackingId !== 'string' ||
      o.trackingId.length > NATIVE_LIMITS.trackingIdMax ||
      !PRINTABLE_ASCII.test(o.trackingId))
  ) {
    fail(`trackingId must be 1-${NATIVE_LIMITS.trackingIdMax} printable ASCII characters`);
  }
  // The collector refuses these (400 invalid_tracking_id): every report would be dropped.
  if (typeof o.trackingId === 'string' && DOT_SEGMENT.test(o.trackingId)) {
    fail(
      `trackingId must not be "." or "..": such an id cannot be opened in a URL (the collector refuses it)`,
    );
  }
  if (o.format !== undefined && o.format !== 'protobuf' && o.format !== 'json') {
    fail(`format must be 'protobuf' or 'json'`);
  }
  for (const flag of ['enabled', 'isLeader', 'isTest', 'gzip'] as const) {
    if (o[flag] !== undefined && typeof o[flag] !== 'boolean') fail(`${flag} must be a boolean`);
  }
  if (o.dataDir !== undefined && o.dataDir !== null && (typeof o.dataDir !== 'string' || o.dataDir === '')) {
    fail('dataDir must be a directory path or null');
  }
  if (o.clusterFacts !== undefined && typeof o.clusterFacts !== 'function')
    fail('clusterFacts must be a function');
  if (o.logger !== undefined && typeof o.logger?.warn !== 'function')
    fail('logger must have a warn(message) method');
  if (
    o.clock !== undefined &&
    (typeof o.clock?.now !== 'function' ||
      typeof o.clock.setTimeout !== 'function' ||
      typeof o.clock.clearTimeout !== 'function')
  ) {
    fail('clock must have now(), setTimeout() and clearTimeout()');
  }
  if (o.random !== undefined && typeof o.random !== 'function') fail('random must be a function');
  const nodeType = text(o.nodeType, 'nodeType', NATIVE_LIMITS.nodeTypeMax, true);
  if (nodeType.trim() === '') fail('nodeType must not be blank');

  const day = 24 * 60 * 60 * 1000;
  const year = 365 * day;
  // The operator's switches in the real environment hold even when the host passes its own `env`:
  // the operator decides, not the code that embeds the agent.
  const optOut = optOutOf(env) ?? (env === process.env ? null : optOutOf(process.env));

  return {
    endpoint: o.endpoint,
    reportUrl,
    nodeType,
    trackingId: o.trackingId ?? null,
    version: text(o.version, 'version', NATIVE_LIMITS.textMax),
    gitSha: text(o.gitSha, 'gitSha', NATIVE_LIMITS.textMax),
    clusterType: text(o.clusterType, 'clusterType', NATIVE_LIMITS.textMax),
    isLeader: o.isLeader ?? false,
    clusterFacts: o.clusterFacts ?? null,
    dataDir: o.dataDir === undefined ? '.tidewatch' : o.dataDir,
    interval: number(o.interval, 'interval', DEFAULTS.interval, 1, year),
    firstReportDelay: number(o.firstReportDelay, 'firstReportDelay', DEFAULTS.firstReportDelay, 0, year),
    jitter: number(o.jitter, 'jitter', DEFAULTS.jitter, 0, 1),
    enabled: o.enabled ?? true,
    isTest: o.isTest ?? false,
    format: o.format ?? DEFAULTS.format,
    gzip: o.gzip ?? DEFAULTS.gzip,
    timeout: number(o.timeout, 'timeout', DEFAULTS.timeout, 1, 10 * 60 * 1000),
    retryBase: number(o.retryBase, 'retryBase', DEFAULTS.retryBase, 1, day),
    maxBackoff: number(o.maxBackoff, 'maxBackoff', DEFAULTS.maxBackoff, 1, year),
    maxSeries: number(o.maxSeries, 'maxSeries', DEFAULTS.maxSeries, 0, NATIVE_LIMITS.metricsMax, true),
    maxEvents: number(o.maxEvents, 'maxEvents', DEFAULTS.maxEvents, 0, NATIVE_LIMITS.eventsMax, true),
    histogramBuckets: number(
      o.histogramBuckets,
      'histogramBuckets',
      DEFAULTS.histogramBuckets,
      32,
      NATIVE_LIMITS.bucketsMax,
      true,
    ),
    maxReportBytes: number(
      o.maxReportBytes,
      'maxReportBytes',
      DEFAULTS.maxReportBytes,
      16 * 1024,
      NATIVE_LIMITS.bodyMax,
      true,
    ),
    spoolMaxReports: number(o.spoolMaxReports, 'spoolMaxReports', DEFAULTS.spoolMaxReports, 1, 100_000, true),
    spoolMaxBytes: number(o.spoolMaxBytes, 'spoolMaxBytes', DEFAULTS.spoolMaxBytes, 1, 2 ** 40),
    spoolMaxAge: number(o.spoolMaxAge, 'spoolMaxAge', DEFAULTS.spoolMaxAge, 1, 10 * year),
    sentMax: number(o.sentMax, 'sentMax', DEFAULTS.sentMax, 0, 10_000, true),
    logger: o.logger ?? stderrLogger,
    clock: o.clock ?? systemClock,
    random: o.random ?? Math.random,
    disabledBy: o.enabled === false ? 'enabled: false' : optOut,
    debug: truthy(env['TIDEWATCH_TELEMETRY_DEBUG']),
    ci: truthy(env['CI']),
  };
}
