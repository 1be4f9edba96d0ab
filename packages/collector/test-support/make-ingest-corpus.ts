// Writes the hostile-input corpus (packages/collector/test/corpus/): small bodies and manifest.json.
// Deterministic: rerunning gives the same files. Run: npx tsx packages/collector/test-support/make-ingest-corpus.ts
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { create, toBinary } from '@bufbuild/protobuf';
import { encodeReportJson, encodeReportProtobuf, risingwaveWire as rw } from '@tidewatch/protocol';
import { agentReport } from './agent-report.js';
import { CORPUS_DIR, type CorpusEntry } from './ingest-corpus.js';
import { event, eventBatch, metaReport, nodeReport, v1MetaReport } from './risingwave.js';

const PROTOBUF = 'application/x-protobuf';
const JSON_TYPE = 'application/json';
const ID = '2f9d1c3b-8a7e-4f60-9b21-0c4d5e6f7a8b';
const SESSION = 'a6b5c4d3-e2f1-4a0b-9c8d-7e6f5a4b3c2d';

/** Deterministic bytes (mulberry32), so the corpus does not change between runs. */
function pseudoRandom(length: number, seed: number): Uint8Array {
  let a = seed >>> 0;
  return Uint8Array.from({ length }, () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) & 0xff;
  });
}

const utf8 = (s: string) => new TextEncoder().encode(s);
const cat = (...parts: (Uint8Array | number[])[]) => Uint8Array.from(parts.flatMap((p) => [...p]));
const meta = () => metaReport({ trackingId: ID, sessionId: SESSION });
const v1 = (o: Record<string, unknown>) => utf8(JSON.stringify({ ...JSON.parse(v1MetaReport()), ...o }));
const native = (o: Parameters<typeof agentReport>[0] = {}) =>
  agentReport({ reportId: 'c3d2e1f0-a9b8-4c7d-8e6f-5a4b3c2d1e0f', sessionId: SESSION, trackingId: ID, ...o });

/** A meta report whose base is valid, with `patch` applied to the MetaReport message. */
function metaWith(patch: Record<string, unknown>, base: Record<string, unknown> = {}): Uint8Array {
  return toBinary(
    rw.MetaReportSchema,
    create(rw.MetaReportSchema, {
      base: { trackingId: ID, sessionId: SESSION, nodeType: rw.TelemetryNodeType.META, ...base },
      ...patch,
    }),
  );
}

type Case = Omit<CorpusEntry, 'file'> & { name: string; body: Uint8Array };
const cases: Case[] = [];
const add = (
  name: string,
  route: string,
  contentType: string | undefined,
  body: Uint8Array,
  status: number,
  error: string | undefined,
  what: string,
  contentEncoding?: string,
) => cases.push({ name, route, contentType, contentEncoding, body, status, error, what });

// RisingWave v2 node reports (protobuf).
const v2 = '/api/v2/report/meta';
add(
  'v2-meta-valid-unknown-field.pb',
  v2,
  PROTOBUF,
  cat(meta(), [0xa0, 0x06, 0x01]),
  200,
  undefined,
  'a valid meta report plus an unknown field 100 (a newer RisingWave): accepted',
);
add('v2-random-bytes.bin', v2, PROTOBUF, pseudoRandom(512, 1), 400, 'undecodable', '512 random bytes');
add(
  'v2-meta-truncated.pb',
  v2,
  PROTOBUF,
  meta().subarray(0, 90),
  400,
  'undecodable',
  'a valid meta report cut off in the middle of a field',
);
add(
  'v2-meta-wrong-wire-type.pb',
  v2,
  PROTOBUF,
  Uint8Array.from([0x08, 0x01]),
  400,
  'undecodable',
  'field 1 (base, a message) sent as a varint',
);
add(
  'v2-meta-huge-varint.pb',
  v2,
  PROTOBUF,
  cat(meta(), [0x28], Array(11).fill(0xff), [0x01]),
  400,
  'undecodable',
  'a valid report, then field 5 as an 12-byte varint (longer than 10 bytes)',
);
add(
  'v2-meta-huge-length.pb',
  v2,
  PROTOBUF,
  Uint8Array.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x00]),
  400,
  'undecodable',
  'base with a length prefix of 2^32-1 bytes and one byte of data',
);
add(
  'v2-meta-deep-groups.pb',
  v2,
  PROTOBUF,
  new Uint8Array(20_000).fill(0x5b),
  400,
  'undecodable',
  '20,000 nested start-group tags of an unknown field, never closed',
);
add('v2-meta-empty.pb', v2, PROTOBUF, new Uint8Array(0), 400, 'invalid_report', 'an empty body');
add(
  'v2-meta-node-type-mismatch.pb',
  v2,
  PROTOBUF,
  nodeReport('compute', { trackingId: ID }),
  400,
  'node_type_mismatch',
  'a compute report posted to the meta route',
);
add(
  'v2-meta-tracking-id-129.pb',
  v2,
  PROTOBUF,
  metaWith({}, { trackingId: 'x'.repeat(129) }),
  400,
  'invalid_tracking_id',
  'tracking_id of 129 characters (the limit is 128)',
);
add(
  'v2-meta-tracking-id-newline.pb',
  v2,
  PROTOBUF,
  metaWith({}, { trackingId: 'abc\ndef' }),
  400,
  'invalid_tracking_id',
  'tracking_id with a newline (not printable ASCII)',
);
add(
  'v2-meta-tracking-id-empty.pb',
  v2,
  PROTOBUF,
  metaWith({}, { trackingId: '' }),
  400,
  'invalid_tracking_id',
  'no tracking_id',
);
add(
  'v2-meta-session-id-129.pb',
  v2,
  PROTOBUF,
  metaWith({}, { sessionId: 's'.repeat(129) }),
  400,
  'invalid_field',
  'session_id of 129 characters (the limit is 128)',
);
add(
  'v2-meta-version-1025.pb',
  v2,
  PROTOBUF,
  metaWith({ rwVersion: { rwVersion: 'v'.repeat(1025) } }),
  400,
  'string_too_long',
  'rw_version of 1,025 characters (the limit is 1,024)',
);
add(
  'v2-meta-invalid-utf8.pb',
  v2,
  PROTOBUF,
  cat([0x0a, 0x28, 0x0a, 0x24], utf8(ID), [0x30, 0x01], [0x42, 0x03, 0xff, 0xfe, 0x80]),
  400,
  'undecodable',
  'object_store_media_type is not UTF-8 (0xff 0xfe 0x80)',
);
add(
  'v2-compute-as-json.json',
  '/api/v2/report/compute',
  JSON_TYPE,
  utf8('{"tracking_id":"x"}'),
  415,
  'unsupported_media_type',
  'JSON to a protobuf route',
);
add(
  'v2-meta-no-content-type.pb',
  v2,
  undefined,
  meta(),
  415,
  'unsupported_media_type',
  'a valid report without Content-Type',
);
add(
  'v2-meta-text-plain.pb',
  v2,
  'text/plain',
  meta(),
  415,
  'unsupported_media_type',
  'a valid report as text/plain',
);
add(
  'v2-meta-brotli.pb',
  v2,
  PROTOBUF,
  meta(),
  415,
  'unsupported_encoding',
  'Content-Encoding: br (only gzip is accepted)',
  'br',
);
add(
  'v2-meta-not-gzip.pb',
  v2,
  PROTOBUF,
  meta(),
  400,
  'invalid_gzip',
  'Content-Encoding: gzip on a body that is not gzip',
  'gzip',
);
add(
  'v2-meta-gzip-truncated.gz',
  v2,
  PROTOBUF,
  gzipSync(meta()).subarray(0, 40),
  400,
  'invalid_gzip',
  'gzip stream cut off',
  'gzip',
);
add(
  'v2-meta-gzip-twice.gz',
  v2,
  PROTOBUF,
  gzipSync(gzipSync(meta())),
  400,
  'undecodable',
  'gzip inside gzip: inflated once, the body is still gzip, not protobuf',
  'gzip',
);
add(
  'v2-meta-gzip-bomb.gz',
  v2,
  PROTOBUF,
  gzipSync(new Uint8Array(16 * 1024 * 1024), { level: 9 }),
  413,
  'payload_too_large',
  '16 KiB of gzip inflating to 16 MiB of zeros (the limit is 1 MiB inflated)',
  'gzip',
);
add(
  'v2-unknown-node.pb',
  '/api/v2/report/storage',
  PROTOBUF,
  meta(),
  404,
  'unknown_node_type',
  'a node type that does not exist',
);

// RisingWave v2 events.
const good = (name: string) => ({ trackingId: ID, name });
const batch = eventBatch([good('a'), good('b'), good('c')]);
add(
  'v2-events-one-bad.pb',
  '/api/v2/report/events',
  PROTOBUF,
  eventBatch([good('first'), { trackingId: '', name: 'bad' }, good('third')]),
  400,
  'invalid_tracking_id',
  'a batch of three events, the middle one without tracking_id: nothing of it may be stored',
);
add(
  'v2-events-truncated.pb',
  '/api/v2/report/events',
  PROTOBUF,
  batch.subarray(0, batch.length - 7),
  400,
  'undecodable',
  'a batch of three events cut off inside the last one',
);
add(
  'v2-events-wrong-wire-type.pb',
  '/api/v2/report/events',
  PROTOBUF,
  Uint8Array.from([0x0d, 1, 2, 3, 4]),
  400,
  'undecodable',
  'events (field 1, messages) sent as a fixed32',
);
add(
  'v2-event-truncated.pb',
  '/api/v2/report/event',
  PROTOBUF,
  event(good('x')).subarray(0, 20),
  400,
  'undecodable',
  'a single event cut off inside tracking_id',
);
add(
  'v2-event-negative-time.pb',
  '/api/v2/report/event',
  PROTOBUF,
  cat([0x0a, 0x24], utf8(ID), [0x18], Array(9).fill(0xff), [0x01]),
  200,
  undefined,
  'event_time_sec of 2^64-1 (a uint64 over 2^53-1): clamped, flagged number_clamped and stored',
);
add(
  'v2-event-batch-as-single.pb',
  '/api/v2/report/event',
  PROTOBUF,
  batch,
  400,
  'undecodable',
  'a batch posted to the single-event route: its first field reads as a tracking_id that is not UTF-8',
);

// RisingWave v1 (JSON).
const v1Route = '/api/v1/report/meta';
add(
  'v1-deep-arrays.json',
  v1Route,
  JSON_TYPE,
  utf8('['.repeat(20_000) + ']'.repeat(20_000)),
  400,
  'invalid_report',
  'arrays nested 20,000 deep (not an object)',
);
add(
  'v1-deep-objects.json',
  v1Route,
  JSON_TYPE,
  utf8('{"a":'.repeat(10_000) + '1' + '}'.repeat(10_000)),
  400,
  'node_type_mismatch',
  'objects nested 10,000 deep (no node_type, no tracking_id)',
);
add(
  'v1-deep-system-data.json',
  v1Route,
  JSON_TYPE,
  v1({ system_data: JSON.parse('{"memory":'.repeat(2_000) + '1' + '}'.repeat(2_000)) }),
  200,
  undefined,
  'system_data nested 2,000 deep where numbers belong: a usable report, stored without system facts (raw keeps all)',
);
add(
  'v1-invalid-utf8.json',
  v1Route,
  JSON_TYPE,
  cat(utf8('{"tracking_id":"'), [0xc3, 0x28], utf8('"}')),
  400,
  'undecodable',
  'JSON with an invalid UTF-8 sequence (0xc3 0x28)',
);
add(
  'v1-not-json.json',
  v1Route,
  JSON_TYPE,
  utf8('{"tracking_id": "abc", '),
  400,
  'undecodable',
  'JSON cut off',
);
add('v1-array.json', v1Route, JSON_TYPE, utf8('[1,2,3]'), 400, 'invalid_report', 'a JSON array');
add(
  'v1-tracking-id-129.json',
  v1Route,
  JSON_TYPE,
  v1({ tracking_id: 't'.repeat(129) }),
  400,
  'invalid_tracking_id',
  'tracking_id of 129 characters',
);
add(
  'v1-os-name-1025.json',
  v1Route,
  JSON_TYPE,
  v1({ system_data: { os: { name: 'o'.repeat(1025), version: '1', kernel_version: '1' } } }),
  400,
  'string_too_long',
  'system_data.os.name of 1,025 characters',
);
add(
  'v1-node-type-constructor.json',
  v1Route,
  JSON_TYPE,
  v1({ node_type: 'constructor' }),
  400,
  'node_type_mismatch',
  'node_type "constructor" (an inherited property name)',
);
add(
  'v1-proto-pollution.json',
  v1Route,
  JSON_TYPE,
  utf8(v1MetaReport().replace('{', '{"__proto__":{"polluted":true},"constructor":{"prototype":{"x":1}},')),
  200,
  undefined,
  '__proto__ and constructor keys next to a valid report: stored, nothing polluted',
);
add(
  'v1-huge-number.json',
  v1Route,
  JSON_TYPE,
  utf8(v1MetaReport().replace('21600', '1e400')),
  400,
  'invalid_field',
  'up_time 1e400 (parses as Infinity)',
);
add(
  'v1-as-protobuf.json',
  v1Route,
  PROTOBUF,
  utf8(v1MetaReport()),
  415,
  'unsupported_media_type',
  'a valid v1 report sent as protobuf',
);
add(
  'v1-form.json',
  v1Route,
  'application/x-www-form-urlencoded',
  utf8(v1MetaReport()),
  415,
  'unsupported_media_type',
  'a valid v1 report as a form',
);

// Tidewatch agent (v3).
const v3 = '/api/v3/report';
add('v3-valid.json', v3, JSON_TYPE, encodeReportJson(native()), 200, undefined, 'a valid agent report');
add('v3-random.pb', v3, PROTOBUF, pseudoRandom(600, 2), 400, 'undecodable', '600 random bytes');
add(
  'v3-truncated.pb',
  v3,
  PROTOBUF,
  encodeReportProtobuf(native()).subarray(0, 70),
  400,
  'undecodable',
  'a valid protobuf report cut off',
);
add(
  'v3-deep.json',
  v3,
  JSON_TYPE,
  utf8(`{"protocol":3,"system":${'{"a":'.repeat(10_000)}1${'}'.repeat(10_001)}`),
  400,
  'invalid_tracking_id',
  'system nested 10,000 deep',
);
add(
  'v3-invalid-utf8.json',
  v3,
  JSON_TYPE,
  cat(utf8('{"protocol":3,"trackingId":"'), [0xed, 0xa0, 0x80], utf8('"}')),
  400,
  'undecodable',
  'a UTF-8-encoded lone surrogate (0xed 0xa0 0x80), which is not valid UTF-8',
);
add(
  'v3-protocol-4.json',
  v3,
  JSON_TYPE,
  utf8(JSON.stringify({ ...native(), protocol: 4 })),
  400,
  'unsupported_protocol',
  'protocol 4 (this collector reads 3)',
);
add(
  'v3-nan.json',
  v3,
  JSON_TYPE,
  utf8(JSON.stringify(native()).replace('"uptime":3600', '"uptime":NaN')),
  400,
  'undecodable',
  'NaN (not JSON)',
);
add(
  'v3-version-257.json',
  v3,
  JSON_TYPE,
  encodeReportJson(native({ version: 'v'.repeat(257) })),
  400,
  'string_too_long',
  'version of 257 characters (the limit is 256)',
);
add(
  'v3-histogram-inconsistent.json',
  v3,
  JSON_TYPE,
  utf8(
    JSON.stringify(native({ metrics: [] })).replace(
      '"metrics":[]',
      '"metrics":[{"name":"q.d","kind":"histogram","histogram":{"scale":0,"zeroCount":0,"count":5,"sum":1,"min":0,"max":1,"positive":{"offset":0,"bucketCounts":[1]}}}]',
    ),
  ),
  400,
  'inconsistent_histogram',
  'a histogram whose count is not the sum of its buckets',
);
add(
  'v3-text-plain.json',
  v3,
  'text/plain',
  encodeReportJson(native()),
  415,
  'unsupported_media_type',
  'a valid report as text/plain',
);

mkdirSync(CORPUS_DIR, { recursive: true });
for (const f of readdirSync(CORPUS_DIR)) rmSync(`${CORPUS_DIR}${f}`);
const manifest: CorpusEntry[] = cases.map(({ name, body, ...entry }) => {
  writeFileSync(`${CORPUS_DIR}${name}`, body);
  return { file: name, ...entry };
});
writeFileSync(`${CORPUS_DIR}manifest.json`, `${JSON.stringify(manifest, null, 2)}\n`);
console.log(`wrote ${manifest.length} cases to ${CORPUS_DIR}`);
