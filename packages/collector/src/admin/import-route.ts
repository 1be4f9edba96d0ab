// `POST /admin/import` (admin token): bulk history with backdated receive times, for `tidewatch
// simulate --token`, benchmarks and migrations. The public routes stamp the collector's clock and
// never trust a client's; this route trusts the receive time only from an admin, and still sends
// every body through the same decoders and row builders as the public route of its path.
import {
  type AgentReport,
  decodeNativeReport,
  decodeV1Report,
  decodeV2Event,
  decodeV2EventBatchRaw,
  decodeV2Report,
  type ImportAnswer,
  NATIVE_CONTENT_TYPES,
  type NativeContentType,
  NODE_TYPES,
  type NodeType,
  ProtocolError,
} from '@tidewatch/protocol';
import type { FastifyInstance } from 'fastify';
import { requireToken } from '../auth/require-token.js';
import { DeadlineError, withDeadline } from '../deadline.js';
import { CollectorError } from '../errors.js';
import { acceptRawBodies, inflatedBody, mediaType, requireMediaType } from '../http/body.js';
import { agentReportWrite, DEFAULT_SERIES_CAPS } from '../ingest/native-rows.js';
import { eventRows, reportRow } from '../ingest/rows.js';
import type { LicenseSubjectPolicy } from '../privacy/license-subject.js';
import { retentionCutoffDay } from '../privacy/retention.js';
import { calendarDay } from '../query/day-range.js';
import type {
  AgentReportWrite,
  EventRow,
  KnownSeries,
  ReportRow,
  Store,
  WriteResult,
} from '../store/store.js';
import { seriesKey } from '../store/store.js';
import { boundedStoreRead, storeReason, storeUnavailable } from '../store/store-errors.js';
import { DAY_MS, utcDay } from '../utc-day.js';
import { recordAudit } from './audit.js';

/** The longest stretch an import decodes without letting other requests run. */
const IMPORT_SLICE_MS = 10;

/** Inflated NDJSON bytes per request: about 50,000 typical reports with their base64 bodies. */
export const IMPORT_BODY_LIMIT = 64 * 1024 * 1024;
export const IMPORT_MAX_LINES = 50_000;
/** One decoded wire body: the native protocol's own limit, above RisingWave's 1 MiB default. */
const LINE_BODY_MAX = 4 * 1024 * 1024;
const CLOCK_SKEW_MS = 5 * 60_000;
const MAX_AGE_MS = 400 * DAY_MS;
/** The largest time a JavaScript Date can hold. */
const MAX_DATE_MS = 8.64e15;

const NDJSON = ['application/x-ndjson', 'application/ndjson'] as const;
const PROTOBUF = ['application/x-protobuf', 'application/protobuf', 'application/octet-stream'] as const;
const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** A line that cannot be imported: the whole request is refused, so nothing is half-written. */
class LineError extends Error {}

type Decoded =
  | { kind: 'report'; rows: ReportRow[]; discarded: number }
  | { kind: 'events'; rows: EventRow[]; discarded: number }
  | { kind: 'agent'; report: AgentReport; raw: Uint8Array; receivedAt: number };

function receiveTime(value: unknown, now: number): number {
  let ms: number;
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new LineError('receivedAt must be whole milliseconds');
    ms = value;
  } else if (typeof value === 'string' && ISO_8601.test(value)) {
    ms = Date.parse(value);
    // Date.parse rolls 2026-02-30 over to March: the calendar day must exist as written. It also
    // reads T24:00 as the next day's midnight, which would store the line under another day.
    if (Number.isNaN(ms) || calendarDay(value.slice(0, 10)) === null || value.slice(11, 13) === '24') {
      throw new LineError(`receivedAt ${JSON.stringify(value)} is not a valid time`);
    }
  } else {
    throw new LineError('receivedAt must be an ISO 8601 time with a zone or a number of ms since the epoch');
  }
  // Beyond ±8.64e15 ms a Date holds no time at all (and printing it would throw).
  if (Math.abs(ms) > MAX_DATE_MS) throw new LineError(`receivedAt ${ms} is not a valid time`);
  if (ms > now + CLOCK_SKEW_MS) {
    throw new LineError(`receivedAt ${new Date(ms).toISOString()} is in the future`);
  }
  if (ms < now - MAX_AGE_MS) {
    throw new LineError(`receivedAt ${new Date(ms).toISOString()} is more than 400 days ago`);
  }
  return ms;
}

function wireBody(value: unknown): Uint8Array {
  if (typeof value !== 'string' || !BASE64.test(value)) {
    throw new LineError('body must be the wire body in standard base64 (with padding)');
  }
  // Checked before decoding: base64 is 4/3 of the bytes.
  if ((value.length / 4) * 3 > LINE_BODY_MAX + 2) {
    throw new LineError(`body is larger than ${LINE_BODY_MAX} bytes`);
  }
  return Buffer.from(value, 'base64');
}

function requireType(contentType: unknown, accepted: readonly string[]): string {
  const type = mediaType(typeof contentType === 'string' ? contentType : undefined);
  if (!accepted.includes(type)) {
    throw new LineError(`contentType must be ${accepted.join(' or ')} for this path, not "${type}"`);
  }
  return type;
}

const REPORT_PATH = /^\/api\/(v1|v2)\/report\/([a-z]+)$/;

/** Decodes one wire body exactly as the public route of `path` would. */
function decode(
  path: unknown,
  contentType: unknown,
  raw: Uint8Array,
  receivedAt: number,
  license: LicenseSubjectPolicy,
  legacyUntil: number | null,
): Decoded {
  if (path === '/api/v2/report/events' || path === '/api/v2/report/event') {
    requireType(contentType, PROTOBUF);
    const events =
      path === '/api/v2/report/events' ? decodeV2EventBatchRaw(raw) : [{ event: decodeV2Event(raw), raw }];
    const real = events.filter((e) => !e.event.isTest);
    return {
      kind: 'events',
      rows: eventRows(real, receivedAt, raw, legacyUntil),
      discarded: events.length - real.length,
    };
  }
  if (path === '/api/v3/report') {
    const type = requireType(contentType, NATIVE_CONTENT_TYPES) as NativeContentType;
    return { kind: 'agent', report: decodeNativeReport(raw, type), raw, receivedAt };
  }
  const match = typeof path === 'string' ? REPORT_PATH.exec(path) : null;
  if (!match || !(NODE_TYPES as readonly string[]).includes(match[2]!)) {
    throw new LineError(
      `path ${JSON.stringify(path)} is not an ingest path (/api/v2/report/{${NODE_TYPES.join(',')}}, ` +
        '/api/v2/report/events, /api/v2/report/event, /api/v1/report/{node}, /api/v3/report)',
    );
  }
  const node = match[2] as NodeType;
  const v2 = match[1] === 'v2';
  requireType(contentType, v2 ? PROTOBUF : ['application/json']);
  const report = v2 ? decodeV2Report(node, raw) : decodeV1Report(node, raw);
  if (report.isTest) return { kind: 'report', rows: [], discarded: 1 };
  return { kind: 'report', rows: [license.apply(reportRow(report, raw, receivedAt), report)], discarded: 0 };
}

/**
 * What a failed store call answers: only a store that cannot answer now is worth sending again
 * (503); anything else is a bug of ours, answered 500 with its stack in the log (a 503 had an
 * operator retry for ever).
 */
function importStoreError(error: unknown, doing: string): unknown {
  if (storeUnavailable(error) === null) return error;
  return new CollectorError(
    'store_unavailable',
    `the store could not ${doing}; nothing of this import was written, send it again later (${storeReason(error)})`,
    503,
  );
}

const LINE_KEYS = ['receivedAt', 'path', 'contentType', 'body'];

function parseLine(
  text: string,
  now: number,
  license: LicenseSubjectPolicy,
  legacyUntil: number | null,
): Decoded {
  let line: unknown;
  try {
    line = JSON.parse(text);
  } catch (error) {
    throw new LineError(`not JSON: ${(error as Error).message}`);
  }
  if (typeof line !== 'object' || line === null || Array.isArray(line)) {
    throw new LineError('each line must be a JSON object {receivedAt, path, contentType, body}');
  }
  for (const key of Object.keys(line)) {
    if (!LINE_KEYS.includes(key)) {
      throw new LineError(
        `unknown key ${JSON.stringify(key.slice(0, 40))} (a line has ${LINE_KEYS.join(', ')})`,
      );
    }
  }
  const { receivedAt, path, contentType, body } = line as Record<string, unknown>;
  const at = receiveTime(receivedAt, now);
  const raw = wireBody(body);
  try {
    return decode(path, contentType, raw, at, license, legacyUntil);
  } catch (error) {
    if (error instanceof ProtocolError) throw new LineError(`${String(path)}: ${error.message}`);
    throw error;
  }
}

/** The per-cluster series caps apply across the lines of one import as they would across requests. */
class SeriesLedger {
  private readonly known = new Map<string, KnownSeries>();
  constructor(
    private readonly store: Store,
    /** --store-timeout: a stalled store is a 503, not a request that never ends. */
    private readonly storeTimeout: number,
  ) {}

  async write(report: AgentReport, raw: Uint8Array, receivedAt: number): Promise<AgentReportWrite> {
    let known = this.known.get(report.trackingId);
    if (!known) {
      known = await boundedStoreRead(
        this.store.knownSeries(report.trackingId),
        this.storeTimeout,
        "the store could not read a cluster's series; nothing of this import was written, send it again later",
      );
      this.known.set(report.trackingId, known);
    }
    const { write } = agentReportWrite(report, raw, receivedAt, known, DEFAULT_SERIES_CAPS);
    for (const m of write.metrics) {
      known.names.add(m.name);
      known.series.add(seriesKey(m.name, m.labels));
    }
    return write;
  }
}

const NOTHING_WRITTEN: WriteResult = {
  reportsInserted: 0,
  eventsInserted: 0,
  agentReportsInserted: 0,
  blocked: 0,
  blockedIds: [],
};

const countsSchema = {
  type: 'object',
  properties: {
    reports: { type: 'integer' },
    events: { type: 'integer' },
    agentReports: { type: 'integer' },
  },
} as const;

export async function importRoute(
  app: FastifyInstance,
  opts: {
    store: Store;
    license: LicenseSubjectPolicy;
    /** The collector's retention (0: keeps everything): older lines are dropped as `expired`. */
    retentionMonths: number;
    /** How long the read before the write may take (--store-timeout; 0: no limit). */
    storeTimeout: number;
  },
) {
  const { store } = opts;
  acceptRawBodies(app, IMPORT_BODY_LIMIT);
  app.post(
    '/admin/import',
    {
      bodyLimit: IMPORT_BODY_LIMIT,
      // onRequest, not preHandler: nobody without an admin token gets to upload 64 MiB.
      onRequest: requireToken(store, 'admin'),
      schema: {
        tags: ['admin'],
        summary: 'Import history with backdated receive times (NDJSON of wire bodies)',
        description:
          'Body: `application/x-ndjson` (gzip allowed), at most 50,000 lines and 64 MiB inflated. Each line: ' +
          '`{"receivedAt": "<ISO 8601>" | <ms>, "path": "<a public ingest path>", "contentType": ' +
          '"application/x-protobuf" | "application/json", "body": "<base64 of the exact wire body>"}`. ' +
          'Every body is decoded as its public route would; `is_test` items are discarded. receivedAt must ' +
          'be at most 5 minutes ahead and at most 400 days ago. One bad line refuses the whole request ' +
          '(400 naming the line); otherwise everything is written in one transaction. Dedup keys are those ' +
          'of the public routes, so a retried import stores nothing twice.',
        consumes: [...NDJSON],
        security: [{ bearer: [] }],
        response: {
          200: {
            type: 'object',
            properties: {
              lines: { type: 'integer' },
              imported: countsSchema,
              duplicates: { type: 'integer', description: 'rows already stored (a retried import)' },
              discarded: { type: 'integer', description: 'is_test reports and events' },
              expired: {
                type: 'integer',
                description:
                  'reports and events received before the retention period (--retention-months): not stored',
              },
              blocked: {
                type: 'integer',
                description: 'rows of erased (blocked) clusters, dropped until an admin lifts the block',
              },
            },
          },
        },
      },
    },
    async (request) => {
      requireMediaType(request, NDJSON);
      const text = Buffer.from(await inflatedBody(request, IMPORT_BODY_LIMIT)).toString('utf8');
      const { lines, reports, events, agentReports, discarded, expired } = await decodeImport(text, {
        ...opts,
        now: Date.now(),
      });
      let first = Number.POSITIVE_INFINITY;
      let last = Number.NEGATIVE_INFINITY;
      for (const r of [...reports, ...events, ...agentReports.map((w) => w.report)]) {
        first = Math.min(first, r.receivedAt);
        last = Math.max(last, r.receivedAt);
      }
      const rows = reports.length + events.length + agentReports.length;
      const summary = (result: WriteResult): ImportAnswer => {
        const imported = {
          reports: result.reportsInserted,
          events: result.eventsInserted,
          agentReports: result.agentReportsInserted,
        };
        const duplicates = rows - imported.reports - imported.events - imported.agentReports - result.blocked;
        return { lines, imported, duplicates, discarded, expired, blocked: result.blocked };
      };
      // An empty body changes nothing (tidewatch simulate sends one to check its token first):
      // nothing to audit.
      const audit = async (result: WriteResult) => {
        if (lines === 0) return;
        const { imported, duplicates, blocked } = summary(result);
        await recordAudit(opts.store, request, 'import', null, {
          lines,
          ...imported,
          duplicates,
          blocked,
          discarded,
          expired,
          ...(rows > 0 ? { from: new Date(first).toISOString(), to: new Date(last).toISOString() } : {}),
        });
      };
      const write =
        rows > 0 ? store.writeBatch({ reports, events, agentReports }) : Promise.resolve(NOTHING_WRITTEN);
      let result: WriteResult;
      try {
        result = await withDeadline(write, opts.storeTimeout, 'the store did not commit in time');
      } catch (error) {
        if (!(error instanceof DeadlineError)) throw importStoreError(error, 'commit this import');
        // Like an ingest write past the timeout: the transaction may still commit, and if it
        // does, the audit log says so.
        write.then(audit).catch(() => {});
        throw new CollectorError(
          'store_unavailable',
          `the store did not commit this import within ${Math.round(opts.storeTimeout / 1000)} s; its transaction is still running and may yet store it, and sending the same import again stores nothing twice`,
          503,
        );
      }
      await audit(result);
      return summary(result);
    },
  );
}

/** An import body's lines, decoded as their public routes would; what is left to write. */
interface DecodedImport {
  /** Lines that are not blank. */
  lines: number;
  reports: ReportRow[];
  events: EventRow[];
  agentReports: AgentReportWrite[];
  /** is_test reports and events. */
  discarded: number;
  /** Reports and events older than the retention keeps. */
  expired: number;
}

/**
 * Decodes every line of an import, or refuses the whole body with a 4xx naming the first bad
 * line. Yields to the event loop every IMPORT_SLICE_MS: 50,000 lines take seconds, and ingest,
 * /healthz and /readyz must keep answering meanwhile (a 1 s probe failed during a large import).
 */
async function decodeImport(
  text: string,
  opts: {
    store: Store;
    license: LicenseSubjectPolicy;
    retentionMonths: number;
    storeTimeout: number;
    now: number;
  },
): Promise<DecodedImport> {
  const { store, now } = opts;
  const all = text.split('\n');
  const lines = all.reduce((n, l) => (l.trim() === '' ? n : n + 1), 0);
  if (lines > IMPORT_MAX_LINES) {
    throw new CollectorError(
      'too_many_lines',
      `an import holds at most ${IMPORT_MAX_LINES} lines, this one ${lines}; split it into several requests`,
      413,
    );
  }
  // A line older than the retention keeps would show until the next daily pass deleted it.
  const keptFrom = opts.retentionMonths > 0 ? retentionCutoffDay(now, opts.retentionMonths) : null;
  const expiredAt = (receivedAt: number) => keptFrom !== null && utcDay(receivedAt) < keptFrom;
  // Only an import with event lines needs the boundary; bounded like the write itself, so a
  // stalled store is a 503, not a request that never ends.
  let legacyUntil: number | null = null;
  if (text.includes('/api/v2/report/event')) {
    legacyUntil = await boundedStoreRead(
      store.legacyEventKeysUntil(),
      opts.storeTimeout,
      'the store could not read its settings; nothing of this import was written, send it again later',
    );
  }
  const decoded: DecodedImport = {
    lines,
    reports: [],
    events: [],
    agentReports: [],
    discarded: 0,
    expired: 0,
  };
  const ledger = new SeriesLedger(store, opts.storeTimeout);
  let slice = performance.now();
  for (let i = 0; i < all.length; i++) {
    if (performance.now() - slice > IMPORT_SLICE_MS) {
      await new Promise((resolve) => setImmediate(resolve));
      slice = performance.now();
    }
    const line = all[i]!.trim();
    if (line === '') continue;
    let item: ReturnType<typeof parseLine>;
    try {
      item = parseLine(line, now, opts.license, legacyUntil);
    } catch (error) {
      if (error instanceof LineError)
        throw new CollectorError('invalid_line', `line ${i + 1}: ${error.message}`);
      throw error;
    }
    if (item.kind === 'agent') {
      if (item.report.isTest) decoded.discarded++;
      else if (expiredAt(item.receivedAt)) decoded.expired++;
      else decoded.agentReports.push(await ledger.write(item.report, item.raw, item.receivedAt));
      continue;
    }
    decoded.discarded += item.discarded;
    const kept = item.rows.filter((r) => !expiredAt(r.receivedAt));
    decoded.expired += item.rows.length - kept.length;
    if (item.kind === 'report') decoded.reports.push(...(kept as ReportRow[]));
    else decoded.events.push(...(kept as EventRow[]));
  }
  return decoded;
}
