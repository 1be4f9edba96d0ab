// A hand-written reader for the agent's protobuf report (proto/tidewatch/report.proto), on the
// shared Reader (../wire-reader.ts).
//
// Why by hand: protobuf-es's reflective `fromBinary` reads every uint64 as a bigint and builds each
// message through reflection. A 500-series report took ~3 ms to parse (27% of it garbage
// collection) and a 1 MiB report of wide histograms ~45 ms, which the rate limits do not bound
// (SECURITY.md). This reader builds the plain shape validate.ts checks directly, with counts as
// numbers. The generated schema stays the reference: a property test checks that whatever this
// reader accepts validates exactly as `fromBinary`'s reading of the same bytes does.
//
// Semantics follow protobuf-es: unknown fields are skipped, the last value of a scalar field wins,
// a singular message field that appears twice is merged, repeated fields (packed or not) append,
// map entries default a missing key or value (and may hold nothing else), strings must be valid UTF-8. Unlike protobuf-es, a
// known field with the wrong wire type is refused.
import { WireType } from '@bufbuild/protobuf/wire';
import { expect, Reader, WireError } from '../wire-reader.js';

type Plain = Record<string, unknown>;
const FROM_WIRE_KIND: Record<number, string> = { 1: 'counter', 2: 'gauge', 3: 'histogram' };

function readSystem(r: Reader, end: number, s: Plain): Plain {
  r.fields(end, (r, f, w) => {
    if (f === 1) s['memoryUsed'] = r.n64(w, f);
    else if (f === 2) s['memoryTotal'] = r.n64(w, f);
    else if (f === 3) s['osName'] = r.str(w, f);
    else if (f === 4) s['osVersion'] = r.str(w, f);
    else if (f === 5) s['osKernel'] = r.str(w, f);
    else if (f === 6) s['cpuAvailable'] = r.dbl(w, f);
    else return false;
    return true;
  });
  return s;
}

function readProcess(r: Reader, end: number, p: Plain): Plain {
  r.fields(end, (r, f, w) => {
    if (f === 1) p['heapUsed'] = r.n64(w, f);
    else if (f === 2) p['eventLoopDelayP99'] = r.dbl(w, f);
    else if (f === 3) p['uptime'] = r.dbl(w, f);
    else if (f === 4) p['runtime'] = r.str(w, f);
    else return false;
    return true;
  });
  return p;
}

function readDrops(r: Reader, end: number, d: Plain): Plain {
  r.fields(end, (r, f, w) => {
    if (f < 1 || f > 5) return false;
    d[DROP_FIELDS[f - 1]!] = r.n64(w, f);
    return true;
  });
  return d;
}
const DROP_FIELDS = ['series', 'events', 'reports', 'values', 'errors'];

/** One map entry (key field 1 a string, value field 2 read by `value`), set on `into`. */
function readEntry(
  r: Reader,
  end: number,
  into: Plain,
  value: (r: Reader, w: WireType) => unknown,
  empty: unknown,
) {
  let key = '';
  let v: unknown = empty;
  r.fields(end, (r, f, w) => {
    if (f === 1) key = r.str(w, f);
    else if (f === 2) v = value(r, w);
    // protobuf-es reads any other field of an entry as if it had no value and then takes its
    // bytes for tags: refused, so that no reading differs (no encoder writes one).
    else throw new WireError(`map entry field ${f}: an entry holds only a key (1) and a value (2)`);
    return true;
  });
  into[key] = v;
}

const doubleValue = (r: Reader, w: WireType) => r.dbl(w, 2);
const stringValue = (r: Reader, w: WireType) => r.str(w, 2);

/** A FieldValue message: its oneof's value (the last one set), undefined when none is. */
function fieldValue(r: Reader, w: WireType): unknown {
  let value: unknown;
  r.fields(r.nested(w, 2), (r, f, w) => {
    if (f === 1) value = r.str(w, f);
    else if (f === 2) value = r.dbl(w, f);
    else if (f === 3) value = r.flag(w, f);
    else return false;
    return true;
  });
  return value;
}

function readHistogram(r: Reader, end: number, h: Plain): Plain {
  const positive = h['positive'] as Plain;
  const counts = positive['bucketCounts'] as (number | bigint)[];
  r.fields(end, (r, f, w) => {
    switch (f) {
      case 1:
        h['scale'] = r.s32(w, f);
        return true;
      case 2:
        h['zeroCount'] = r.n64(w, f);
        return true;
      case 3:
        positive['offset'] = r.s32(w, f);
        return true;
      case 4:
        if (w === WireType.LengthDelimited) r.packedU64(r.nested(w, f), counts);
        else counts.push(r.n64(w, f));
        return true;
      case 5:
        h['count'] = r.n64(w, f);
        return true;
      case 6:
        h['sum'] = r.dbl(w, f);
        return true;
      case 7:
        h['min'] = r.dbl(w, f);
        return true;
      case 8:
        h['max'] = r.dbl(w, f);
        return true;
      default:
        return false;
    }
  });
  return h;
}

const emptyHistogram = (): Plain => ({
  scale: 0,
  zeroCount: 0,
  positive: { offset: 0, bucketCounts: [] },
  count: 0,
  sum: 0,
  min: 0,
  max: 0,
});

function readMetric(r: Reader, end: number): Plain {
  let kind = 0;
  const labels: Plain = {};
  const m: Plain = { name: '', unit: '', description: '', labels, value: 0, histogram: undefined };
  r.fields(end, (r, f, w) => {
    switch (f) {
      case 1:
        m['name'] = r.str(w, f);
        return true;
      case 2:
        m['unit'] = r.str(w, f);
        return true;
      case 3:
        m['description'] = r.str(w, f);
        return true;
      case 4:
        expect(w, WireType.Varint, f);
        kind = r.int32();
        return true;
      case 5:
        readEntry(r, r.nested(w, f), labels, stringValue, '');
        return true;
      case 6:
        m['value'] = r.dbl(w, f);
        return true;
      case 7:
        m['histogram'] = readHistogram(
          r,
          r.nested(w, f),
          (m['histogram'] as Plain | undefined) ?? emptyHistogram(),
        );
        return true;
      default:
        return false;
    }
  });
  m['kind'] = FROM_WIRE_KIND[kind] ?? `unknown kind ${kind}`;
  return m;
}

function readEvent(r: Reader, end: number): Plain {
  const fields: Plain = {};
  const e: Plain = { name: '', timeMs: 0, fields };
  r.fields(end, (r, f, w) => {
    if (f === 1) e['name'] = r.str(w, f);
    else if (f === 2) e['timeMs'] = r.n64(w, f, true);
    else if (f === 3) readEntry(r, r.nested(w, f), fields, fieldValue, undefined);
    else return false;
    return true;
  });
  return e;
}

/**
 * The report's fields as plain values (64-bit integers as numbers, or bigints past 2^49) for
 * validateReport. Throws WireError (or a RangeError on an absurd length) for bytes that are not a
 * valid AgentReport.
 */
export function readAgentReport(bytes: Uint8Array): Plain {
  const r = new Reader(bytes);
  const cluster: Plain = {};
  const metrics: Plain[] = [];
  const events: Plain[] = [];
  const report: Plain = {
    protocol: 0,
    reportId: '',
    sequence: 0,
    trackingId: '',
    sessionId: '',
    nodeType: '',
    isLeader: false,
    version: '',
    gitSha: '',
    clusterType: '',
    ci: false,
    isTest: false,
    intervalStartMs: 0,
    intervalEndMs: 0,
    system: undefined,
    process: undefined,
    cluster,
    metrics,
    events,
    drops: undefined,
    agentVersion: '',
  };
  r.fields(r.len, (r, f, w) => {
    switch (f) {
      case 1:
        report['protocol'] = r.u32(w, f);
        return true;
      case 2:
      case 4:
      case 5:
      case 6:
      case 8:
      case 9:
      case 10:
      case 21:
        report[STRING_FIELDS[f]!] = r.str(w, f);
        return true;
      case 3:
        report['sequence'] = r.n64(w, f);
        return true;
      case 7:
        report['isLeader'] = r.flag(w, f);
        return true;
      case 11:
        report['ci'] = r.flag(w, f);
        return true;
      case 12:
        report['isTest'] = r.flag(w, f);
        return true;
      case 13:
        report['intervalStartMs'] = r.n64(w, f, true);
        return true;
      case 14:
        report['intervalEndMs'] = r.n64(w, f, true);
        return true;
      case 15:
        report['system'] = readSystem(r, r.nested(w, f), (report['system'] as Plain | undefined) ?? {});
        return true;
      case 16:
        report['process'] = readProcess(r, r.nested(w, f), (report['process'] as Plain | undefined) ?? {});
        return true;
      case 17:
        readEntry(r, r.nested(w, f), cluster, doubleValue, 0);
        return true;
      case 18:
        metrics.push(readMetric(r, r.nested(w, f)));
        return true;
      case 19:
        events.push(readEvent(r, r.nested(w, f)));
        return true;
      case 20:
        report['drops'] = readDrops(r, r.nested(w, f), (report['drops'] as Plain | undefined) ?? {});
        return true;
      default:
        return false;
    }
  });
  return report;
}

const STRING_FIELDS: Record<number, string> = {
  2: 'reportId',
  4: 'trackingId',
  5: 'sessionId',
  6: 'nodeType',
  8: 'version',
  9: 'gitSha',
  10: 'clusterType',
  21: 'agentVersion',
};
