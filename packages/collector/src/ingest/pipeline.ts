// What every ingest route does after decoding: drop is_test, stamp the receive time, normalize to
// rows, and wait for the group commit before the route answers 200.
import type { AgentReport, ClusterEvent, NodeReport } from '@tidewatch/protocol';
import { agentReportFlags, eventFlags, reportFlags, withFlags } from '../abuse/plausibility.js';
import { CollectorError } from '../errors.js';
import type { CollectorMetrics } from '../ops/metrics.js';
import type { LicenseSubjectPolicy } from '../privacy/license-subject.js';
import { type KnownSeries, type Store, seriesKey, type WriteBatch } from '../store/store.js';
import { boundedStoreRead, storeReason } from '../store/store-errors.js';
import { KeyedQueue } from './keyed-queue.js';
import {
  agentReportWrite,
  canonicalSeriesLabels,
  DEFAULT_SERIES_CAPS,
  type SeriesCaps,
} from './native-rows.js';
import { eventRows, reportRow } from './rows.js';
import type { WriteBatcher } from './write-batcher.js';

export interface IngestResult {
  /**
   * `stored` once committed (or already stored: a retry), `discarded` for is_test, `blocked` when
   * the cluster was erased and is blocked: nothing was stored, and nothing needs sending again.
   */
  status: 'stored' | 'discarded' | 'blocked';
  reports: number;
  events: number;
}

/** The answer for a report or batch of an erased, blocked cluster (counted in blocked_rows_total). */
const BLOCKED: IngestResult = Object.freeze({ status: 'blocked', reports: 0, events: 0 });

export class IngestPipeline {
  private readonly oneAtATime = new KeyedQueue();

  constructor(
    private readonly batcher: WriteBatcher,
    private readonly metrics: CollectorMetrics,
    private readonly store: Store,
    private readonly license: LicenseSubjectPolicy,
    private readonly caps: SeriesCaps = DEFAULT_SERIES_CAPS,
    /** How long the read before a write may take (the batcher's store timeout; 0: no limit). */
    private readonly storeTimeoutMs = 30_000,
  ) {}

  async agentReport(report: AgentReport, raw: Uint8Array, receivedAt: number): Promise<IngestResult> {
    if (report.isTest) {
      this.metrics.discardedTest.inc();
      return { status: 'discarded', reports: 0, events: 0 };
    }
    const id = report.trackingId;
    const labels = canonicalSeriesLabels(report.metrics);
    const adds = (known: KnownSeries) =>
      report.metrics.some((m, i) => !known.series.has(seriesKey(m.name, labels[i]!)));
    const store = (known: KnownSeries) => this.storeAgentReport(report, raw, receivedAt, known, labels);
    const known = await this.knownSeries(id);
    // A report that adds no series cannot pass a cap: stored at once (the steady state).
    if (!adds(known)) return store(known);
    // One that does waits its turn per cluster, through its commit: the caps are checked against
    // what is stored, and reports checked at the same moment would each see room for all of their
    // new series (20 concurrent reports of 100 new names stored 2,000 names against a cap of 500).
    // Exact within a collector; collectors sharing a store can each add one report's worth past a
    // cap. A report whose series another one stored meanwhile leaves the queue before committing.
    const outcome = await this.oneAtATime.run(id, async () => {
      const fresh = await this.knownSeries(id);
      return adds(fresh) ? { result: await store(fresh) } : { known: fresh };
    });
    return outcome.result ?? store(outcome.known);
  }

  private async storeAgentReport(
    report: AgentReport,
    raw: Uint8Array,
    receivedAt: number,
    known: KnownSeries,
    labels: readonly string[],
  ): Promise<IngestResult> {
    const { write, droppedSeries } = agentReportWrite(report, raw, receivedAt, known, this.caps, labels);
    const odd = agentReportFlags(report, receivedAt);
    write.report.flags = withFlags(write.report.flags, odd);
    const blocked = await this.commit({ reports: [], events: [], agentReports: [write] });
    if (blocked.has(report.trackingId)) return BLOCKED;
    this.metrics.seriesDropped.inc(droppedSeries);
    if (droppedSeries > 0) this.metrics.flagged.inc({ flag: 'series_capped' });
    this.count(odd);
    this.metrics.accepted.inc({ protocol: 'tidewatch_v3', kind: 'agent_report' });
    return { status: 'stored', reports: 1, events: write.events.length };
  }

  async report(report: NodeReport, raw: Uint8Array, receivedAt: number): Promise<IngestResult> {
    if (report.isTest) {
      this.metrics.discardedTest.inc();
      return { status: 'discarded', reports: 0, events: 0 };
    }
    const row = this.license.apply(reportRow(report, raw, receivedAt), report);
    const odd = reportFlags(report, receivedAt);
    row.flags = withFlags(row.flags, odd);
    const blocked = await this.commit({ reports: [row], events: [] });
    if (blocked.has(report.trackingId)) return BLOCKED;
    this.count([...report.flags, ...odd]);
    this.metrics.accepted.inc({ protocol: report.protocol, kind: `${report.nodeType}_report` });
    return { status: 'stored', reports: 1, events: 0 };
  }

  /** One request's events; `body` is the request's (inflated) body, for the retry keys (eventRows). */
  async events(
    events: { event: ClusterEvent; raw: Uint8Array }[],
    receivedAt: number,
    body: Uint8Array,
  ): Promise<IngestResult> {
    const real = events.filter((e) => !e.event.isTest);
    this.metrics.discardedTest.inc(events.length - real.length);
    // An empty batch stores nothing, and nothing in it was is_test: "discarded" would say so.
    if (events.length === 0) return { status: 'stored', reports: 0, events: 0 };
    if (real.length === 0) return { status: 'discarded', reports: 0, events: 0 };
    const rows = eventRows(real, receivedAt, body, await this.legacyEventKeysUntil()).map((row, i) => {
      const odd = eventFlags(real[i]!.event, receivedAt);
      this.count(odd);
      return { ...row, flags: withFlags(row.flags, odd) };
    });
    const blocked = await this.commit({ reports: [], events: rows });
    // A batch may mix clusters (RisingWave sends one cluster's, anyone can send several).
    const stored = blocked.size === 0 ? real : real.filter((e) => !blocked.has(e.event.trackingId));
    if (stored.length === 0) return BLOCKED;
    for (const e of stored) this.count(e.event.flags);
    this.metrics.accepted.inc({ protocol: 'risingwave_v2', kind: 'event' }, stored.length);
    return { status: 'stored', reports: 0, events: stored.length };
  }

  /**
   * The series a cluster has stored, read before its agent report is written: like the write, it
   * fails as 503 store_unavailable (a dropped connection was a 500) and is bounded by the store
   * timeout (a lock on metric_series held the report as long as the lock).
   */
  private knownSeries(trackingId: string): Promise<KnownSeries> {
    return this.readBeforeWrite(this.store.knownSeries(trackingId), "this cluster's series");
  }

  /** The store's legacy keys' boundary (fixed once it is migrated): read at the first events request. */
  private legacyUntil: number | null | undefined;

  private async legacyEventKeysUntil(): Promise<number | null> {
    this.legacyUntil ??= await this.readBeforeWrite(this.store.legacyEventKeysUntil(), 'its settings');
    return this.legacyUntil;
  }

  private readBeforeWrite<T>(read: Promise<T>, what: string): Promise<T> {
    return boundedStoreRead(
      read,
      this.storeTimeoutMs,
      `the store could not read ${what}, so nothing was stored; send it again later`,
    );
  }

  /** Commits the batch; resolves with the tracking ids whose rows were dropped as blocked. */
  private async commit(batch: WriteBatch): Promise<ReadonlySet<string>> {
    try {
      return await this.batcher.write(batch);
    } catch (error) {
      throw new CollectorError(
        'store_unavailable',
        `the store could not commit this write, so it was not acknowledged; send it again later (${storeReason(error)})`,
        503,
      );
    }
  }

  private count(flags: readonly string[]): void {
    for (const flag of flags) this.metrics.flagged.inc({ flag });
  }
}
