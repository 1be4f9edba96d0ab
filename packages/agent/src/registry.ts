// The registry: every metric series the host created, and the handles it records through.
//
// A handle IS its series (no indirection): `counter('queries', { kind: 'select' })` looks the
// series up once (a Map keyed by name and sorted labels) and returns the object whose inc() only
// touches its own fields. Hosts keep handles; looking them up per call works but allocates.
import {
  type ExpHistogramData,
  KEY_PATTERN,
  type MetricKind,
  type MetricSeries,
  NAME_PATTERN,
  NATIVE_LIMITS,
  UNSTORABLE_TEXT,
} from '@tidewatch/protocol';
import { describeError, ownCopy, setOwn, shown } from './errors.js';
import { HistogramSeries, VALUE_MAX } from './histogram.js';

export interface Counter {
  /** Adds n (default 1). NaN, negative n and n over 1e300 are ignored and counted in drops.values. */
  inc(n?: number): void;
}
export interface Gauge {
  /** Sets the value reported until the next set(). NaN and values past ±1e300 are ignored and counted. */
  set(v: number): void;
}
export interface Histogram {
  /**
   * Records v ≥ 0 (durations in seconds). NaN, negative v and v over 1e300 are ignored and
   * counted in drops.values.
   */
  record(v: number): void;
}

export type Labels = Record<string, string | number | boolean>;

export interface MetricInfo {
  /** UCUM-style unit: `s`, `By`, `1`, `{query}`. */
  unit?: string;
  /** One line: what is counted and why. */
  description?: string;
}

export class CounterSeries implements Counter {
  value = 0;
  rejected = 0;
  constructor(readonly labels: Record<string, string>) {}

  // Hot path: a type check (free when the JIT already knows n is a number), one comparison pair
  // and an add on the handle's own field. Without the type check, inc('5') would turn the count
  // into a string and inc(5n) would throw.
  inc(n = 1): void {
    // 1e300 is VALUE_MAX written out: a module-level const costs a context load in optimized code.
    if (typeof n === 'number' && n >= 0 && n <= 1e300) this.value += n;
    else this.rejected++;
  }
}

export class GaugeSeries implements Gauge {
  value = Number.NaN; // NaN: never set, not reported
  rejected = 0;
  constructor(readonly labels: Record<string, string>) {}

  set(v: number): void {
    // False for NaN and ±Infinity too; the type check keeps out '5', true, [] and 5n.
    if (typeof v === 'number' && v >= -VALUE_MAX && v <= VALUE_MAX) this.value = v;
    else this.rejected++;
  }
}

class LabelledHistogram extends HistogramSeries {
  constructor(
    readonly labels: Record<string, string>,
    maxBuckets: number,
  ) {
    super(maxBuckets);
  }
}

/** What a dropped or invalid series records into: nothing, at no cost. Frozen: shared by every agent. */
export const NOOP_HANDLE: Counter & Gauge & Histogram = Object.freeze({
  inc() {},
  set() {},
  record() {},
});

type AnySeries = CounterSeries | GaugeSeries | LabelledHistogram;

interface Family {
  kind: MetricKind;
  unit: string;
  description: string;
  series: Map<string, AnySeries>;
}

export interface RegistrySnapshot {
  metrics: MetricSeries[];
  /** Values ignored on the hot path since the last reset. */
  rejectedValues: number;
}

export class Registry {
  private readonly families = new Map<string, Family>();
  private readonly infos = new Map<string, { unit: string; description: string }>();
  private seriesCount = 0;
  /** Series not created (cap reached, invalid name or labels) since the last reset. */
  droppedSeries = 0;

  constructor(
    private readonly maxSeries: number,
    private readonly histogramBuckets: number,
    private readonly onProblem: (message: string) => void,
  ) {}

  counter(name: string, labels?: Labels, info?: MetricInfo): Counter {
    return (this.guarded('counter', name, labels, info) as CounterSeries | undefined) ?? NOOP_HANDLE;
  }
  gauge(name: string, labels?: Labels, info?: MetricInfo): Gauge {
    return (this.guarded('gauge', name, labels, info) as GaugeSeries | undefined) ?? NOOP_HANDLE;
  }
  histogram(name: string, labels?: Labels, info?: MetricInfo): Histogram {
    return (this.guarded('histogram', name, labels, info) as LabelledHistogram | undefined) ?? NOOP_HANDLE;
  }

  /** Sets a metric's unit and description (before or after its first series). */
  describe(name: string, info: MetricInfo): void {
    try {
      if (typeof name !== 'string' || !NAME_PATTERN.test(name)) {
        this.onProblem(`describe(${shown(name)}): not a metric name like query.duration; ignored`);
        return;
      }
      const clean = this.info(name, info);
      if (!clean) return;
      // Bounded like series: a host describing a new name per table or per request would
      // otherwise grow this map without end (842 MB in 12 s, measured).
      if (!this.infos.has(name) && !this.families.has(name) && this.infos.size >= this.maxSeries) {
        this.onProblem(`describe(${name}): ${this.maxSeries} metrics are described already; ignored`);
        return;
      }
      this.infos.set(ownCopy(name), clean);
      const family = this.families.get(name);
      if (family) Object.assign(family, clean);
    } catch (error) {
      this.onProblem(`describe(${shown(name)}): ${describeError(error)}`);
    }
  }

  /** series(), never throwing into the host: labels or info with a getter (or Proxy) that throws. */
  private guarded(kind: MetricKind, name: string, labels: Labels | undefined, info: MetricInfo | undefined) {
    try {
      return this.series(kind, name, labels, info);
    } catch (error) {
      return this.drop(`metric ${shown(name)}: ${describeError(error)}`);
    }
  }

  private info(name: string, info: MetricInfo | undefined) {
    if (info === undefined) return undefined;
    const unit = typeof info?.unit === 'string' ? info.unit : '';
    const description = typeof info?.description === 'string' ? info.description : '';
    if (
      unit.length > NATIVE_LIMITS.unitMax ||
      description.length > NATIVE_LIMITS.descriptionMax ||
      UNSTORABLE_TEXT.test(unit + description)
    ) {
      this.onProblem(
        `metric ${name}: unit (≤ ${NATIVE_LIMITS.unitMax}) or description (≤ ${NATIVE_LIMITS.descriptionMax}) too long or not storable; ignored`,
      );
      return undefined;
    }
    return { unit, description };
  }

  private series(kind: MetricKind, name: string, labels: Labels | undefined, info: MetricInfo | undefined) {
    if (typeof name !== 'string' || !NAME_PATTERN.test(name)) {
      return this.drop(
        `metric name ${JSON.stringify(name)} is not like query.duration (letters, digits, _ . - /)`,
      );
    }
    const clean = cleanLabels(labels);
    if (typeof clean === 'string') return this.drop(`metric ${name}: ${clean}`);
    let family = this.families.get(name);
    if (family && family.kind !== kind) {
      return this.drop(`metric ${name} is a ${family.kind}, not a ${kind}`);
    }
    const described = this.info(name, info);
    const key = JSON.stringify(clean);
    const existing = family?.series.get(key);
    if (existing) {
      if (described) {
        this.infos.set(name, described);
        Object.assign(family!, described);
      }
      return existing;
    }
    if (this.seriesCount >= this.maxSeries) {
      // Logged at most once per interval (onProblem), as the README says: a host that reaches
      // the cap should learn which metric it lost and that maxSeries can be raised.
      return this.drop(
        `metric ${name}: maxSeries (${this.maxSeries}) series exist already; this one is dropped`,
      );
    }
    if (!family) {
      family = { kind, unit: '', description: '', series: new Map() };
      this.families.set(ownCopy(name), family);
    }
    // Kept only for a series that exists: the info of a dropped one would be kept for ever.
    if (described) this.infos.set(ownCopy(name), described);
    Object.assign(family, this.infos.get(name));
    const series =
      kind === 'counter'
        ? new CounterSeries(clean)
        : kind === 'gauge'
          ? new GaugeSeries(clean)
          : new LabelledHistogram(clean, this.histogramBuckets);
    family.series.set(key, series);
    this.seriesCount++;
    return series;
  }

  private drop(message: string): undefined {
    this.droppedSeries++;
    this.onProblem(message);
    return undefined;
  }

  /**
   * Every series in the wire model. With reset, counters and histograms start a new interval
   * (reports carry deltas) and the drop counts restart; gauges keep their last value.
   */
  snapshot(reset: boolean): RegistrySnapshot {
    const metrics: MetricSeries[] = [];
    let rejectedValues = 0;
    for (const [name, family] of this.families) {
      for (const series of family.series.values()) {
        rejectedValues += series.rejected;
        let value = 0;
        let histogram: ExpHistogramData | null = null;
        if (series instanceof LabelledHistogram) {
          histogram = series.snapshot(reset);
        } else {
          value = series.value;
          if (reset) series.rejected = 0;
          if (series instanceof CounterSeries && reset) series.value = 0;
          if (Number.isNaN(value)) continue; // a gauge never set
        }
        const { unit, description, kind } = family;
        metrics.push({ name, unit, description, kind, labels: series.labels, value, histogram });
      }
    }
    return { metrics, rejectedValues };
  }
}

/** Labels as sorted string pairs, or why they are unusable. */
function cleanLabels(labels: Labels | undefined): Record<string, string> | string {
  if (labels === undefined || labels === null) return {};
  if (typeof labels !== 'object') return 'labels must be an object';
  const keys = Object.keys(labels).sort();
  if (keys.length > NATIVE_LIMITS.labelsMax) return `more than ${NATIVE_LIMITS.labelsMax} labels`;
  const out: Record<string, string> = {};
  for (const key of keys) {
    if (!KEY_PATTERN.test(key)) return `label key ${JSON.stringify(key)} is not like query_kind`;
    const raw = labels[key];
    if (typeof raw !== 'string' && typeof raw !== 'number' && typeof raw !== 'boolean') {
      return `label ${key} must be a string, number or boolean`;
    }
    const value = String(raw);
    if (value.length > NATIVE_LIMITS.labelValueMax || UNSTORABLE_TEXT.test(value)) {
      return `label ${key} is longer than ${NATIVE_LIMITS.labelValueMax} characters or not storable`;
    }
    setOwn(out, key, ownCopy(value));
  }
  return out;
}
