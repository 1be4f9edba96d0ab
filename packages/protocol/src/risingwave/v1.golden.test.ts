// Golden tests for RisingWave legacy protocol v1 (JSON bodies, RisingWave up to 1.7.x), written from
// the v1 section of RISINGWAVE-WIRE.md.
import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../errors.js';
import type { NodeReport, NodeType } from '../model.js';
import { decodeV1Report } from './v1.js';

const utf8 = (s: string) => new TextEncoder().encode(s);
const json = (value: unknown) => utf8(JSON.stringify(value));

/** Runs `fn`, which must throw a ProtocolError (any other outcome fails the test). */
function protocolError(fn: () => unknown): ProtocolError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ProtocolError) return error;
    throw error;
  }
  throw new Error('expected a ProtocolError, but the decoder returned a value');
}

/** The example of RISINGWAVE-WIRE.md, byte for byte (note `4.0`, as Rust's serde prints it). */
const WIRE_EXAMPLE =
  '{"tracking_id":"5c0a7e8d-1f0b-4c1e-9a55-3d2f0c9e7b11","session_id":' +
  '"0d6f2b8e-7a3c-4f5d-8e21-6b9c1a2d3e4f","system_data":{"memory":{"used":3221225472,"total":8589934592},' +
  '"os":{"name":"Ubuntu","kernel_version":"5.15.0-1051-aws","version":"22.04"},"cpu":{"available":4.0}},' +
  '"up_time":21600,"time_stamp":1709280000,"node_type":"Meta","node_count":{"meta_count":1,' +
  '"compute_count":2,"frontend_count":1,"compactor_count":1},"meta_backend":"Etcd"}';

const EXAMPLE_EXPECTED: NodeReport = {
  protocol: 'risingwave_v1',
  trackingId: '5c0a7e8d-1f0b-4c1e-9a55-3d2f0c9e7b11',
  sessionId: '0d6f2b8e-7a3c-4f5d-8e21-6b9c1a2d3e4f',
  nodeType: 'meta',
  reportTime: 1709280000,
  upTime: 21600,
  isTest: false,
  system: {
    memoryUsed: 3221225472,
    memoryTotal: 8589934592,
    osName: 'Ubuntu',
    osVersion: '22.04',
    osKernel: '5.15.0-1051-aws',
    cpuAvailable: 4,
  },
  meta: {
    version: null,
    gitSha: null,
    metaBackend: 'etcd',
    clusterType: null,
    nodeCount: { meta: 1, compute: 2, frontend: 1, compactor: 1 },
    streamJobCount: null,
    streamJobs: [],
    objectStore: null,
    connectorUsage: [],
    connectorUsageJson: null,
    licenseTier: null,
    licenseSubject: null,
  },
  flags: [],
};

const example = (): Record<string, unknown> => JSON.parse(WIRE_EXAMPLE);
const withFields = (fields: Record<string, unknown>) => json({ ...example(), ...fields });

const BASE_ONLY = {
  tracking_id: 'c1a2b3c4-0000-4000-8000-000000000001',
  session_id: 'a1b2c3d4-1111-4111-8111-111111111111',
  system_data: {
    memory: { used: 1073741824, total: 2147483648 },
    os: { name: 'Alpine Linux', kernel_version: '6.6.8', version: '3.19' },
    cpu: { available: 1.5 },
  },
  up_time: 60,
  time_stamp: 1704067200,
};

describe('RisingWave v1 meta reports', () => {
  it('decodes the example of the wire document exactly: Etcd becomes etcd, no version becomes null', () => {
    expect(decodeV1Report('meta', utf8(WIRE_EXAMPLE))).toEqual(EXAMPLE_EXPECTED);
  });

  it.each([
    ['Mem', 'memory'],
    ['Etcd', 'etcd'],
    ['Sql', 'rdb'],
  ] as const)('maps meta_backend %s to %s', (wire, backend) => {
    expect(decodeV1Report('meta', withFields({ meta_backend: wire })).meta?.metaBackend).toBe(backend);
  });

  it('stores an unknown, missing or non-string meta_backend as unknown instead of rejecting', () => {
    for (const backend of ['etcd', 'Postgres', '', 42, null, undefined]) {
      const report = decodeV1Report('meta', withFields({ meta_backend: backend }));
      expect(report.meta?.metaBackend).toBeNull();
    }
  });

  it('does not mistake inherited object keys such as toString for a meta_backend', () => {
    for (const backend of ['toString', 'constructor', '__proto__', 'hasOwnProperty', 'valueOf']) {
      const report = decodeV1Report('meta', withFields({ meta_backend: backend }));
      expect(report.meta?.metaBackend).toBeNull();
    }
  });

  it("takes a 1.4-era memory block's available as the total (total was used + available) and flags it", () => {
    const body = withFields({
      system_data: {
        memory: { used: 3221225472, total: 8589934592, available: 5368709120 },
        os: { name: 'Ubuntu', kernel_version: '5.15.0-1051-aws', version: '22.04' },
        cpu: { available: 4.0 },
      },
      node_count: { meta_count: 0, compute_count: 1, frontend_count: 1, compactor_count: 1 },
    });
    const report = decodeV1Report('meta', body);
    expect(report.system).toEqual({ ...EXAMPLE_EXPECTED.system, memoryTotal: 5368709120 });
    expect(report.meta?.nodeCount).toEqual({ meta: 0, compute: 1, frontend: 1, compactor: 1 });
    expect(report.flags).toEqual(['legacy_memory_total']);
  });

  it('takes available as the total when a legacy memory block has no total', () => {
    const body = withFields({ system_data: { memory: { used: 100, available: 900 } } });
    const report = decodeV1Report('meta', body);
    expect(report.system.memoryUsed).toBe(100);
    expect(report.system.memoryTotal).toBe(900);
    expect(report.flags).toEqual(['legacy_memory_total']);
  });

  it('keeps a CPU count too large for a double (JSON 1e999) as unknown and flags it', () => {
    const report = decodeV1Report('meta', utf8(WIRE_EXAMPLE.replace('"available":4.0', '"available":1e999')));
    expect(report.system.cpuAvailable).toBeNull();
    expect(report.flags).toEqual(['number_not_finite']);
  });

  it('decodes a nightly build that sent streaming_job_count and rw_version', () => {
    const body = withFields({
      streaming_job_count: 12,
      rw_version: { version: '1.7.0-nightly-20240201', git_sha: '4f9a1c2b3d' },
      meta_backend: 'Sql',
    });
    expect(decodeV1Report('meta', body)).toEqual({
      ...EXAMPLE_EXPECTED,
      meta: {
        ...EXAMPLE_EXPECTED.meta,
        version: '1.7.0-nightly-20240201',
        gitSha: '4f9a1c2b3d',
        metaBackend: 'rdb',
        streamJobCount: 12,
      },
    });
  });

  it('accepts a meta report without node_count, system_data or session_id', () => {
    const report = decodeV1Report(
      'meta',
      json({ tracking_id: 'cluster-1', node_type: 'Meta', up_time: 1, time_stamp: 2 }),
    );
    expect(report).toEqual({
      protocol: 'risingwave_v1',
      trackingId: 'cluster-1',
      sessionId: '',
      nodeType: 'meta',
      reportTime: 2,
      upTime: 1,
      isTest: false,
      system: {
        memoryUsed: null,
        memoryTotal: null,
        osName: null,
        osVersion: null,
        osKernel: null,
        cpuAvailable: null,
      },
      meta: {
        version: null,
        gitSha: null,
        metaBackend: null,
        clusterType: null,
        nodeCount: null,
        streamJobCount: null,
        streamJobs: [],
        objectStore: null,
        connectorUsage: [],
        connectorUsageJson: null,
        licenseTier: null,
        licenseSubject: null,
      },
      flags: [],
    } satisfies NodeReport);
  });

  it('replaces lone surrogates (JSON \\ud800 escapes, not UTF-8) with U+FFFD and flags them', () => {
    // JSON.stringify escapes a lone surrogate as \udXXX; a store would keep mangled bytes.
    const body = withFields({
      system_data: {
        ...BASE_ONLY.system_data,
        os: { name: 'Linux\ud800', kernel_version: '\udfff6.6', version: 'ok' },
      },
      rw_version: { version: '2.1.0', git_sha: 'abc\udbff' },
    });
    const report = decodeV1Report('meta', body);
    expect(report.system.osName).toBe('Linux\uFFFD');
    expect(report.system.osKernel).toBe('\uFFFD6.6');
    expect(report.meta?.gitSha).toBe('abc\uFFFD');
    expect(report.flags).toContain('surrogate_replaced');
    // A well-formed pair (an astral character) is kept as it is.
    const astral = withFields({ rw_version: { version: '2.1.0', git_sha: 'sha\u{1F600}' } });
    expect(decodeV1Report('meta', astral).meta?.gitSha).toBe('sha\u{1F600}');
  });

  it('keeps a subnormal CPU count as 0, as every store can (ClickHouse flushes subnormals to 0)', () => {
    const cpu = (available: number) =>
      decodeV1Report('meta', withFields({ system_data: { ...BASE_ONLY.system_data, cpu: { available } } }))
        .system.cpuAvailable;
    expect(cpu(5e-324)).toBe(0);
    expect(Math.abs(cpu(-1e-310)!)).toBe(0);
    expect(cpu(2 ** -1022)).toBe(2 ** -1022);
    expect(cpu(0.5)).toBe(0.5);
  });

  it('ignores fields it does not know', () => {
    const body = withFields({ future_field: { nested: [1, 2, 3] }, another: 'x' });
    expect(decodeV1Report('meta', body)).toEqual(EXAMPLE_EXPECTED);
  });

  it('accepts a byte order mark and whitespace around the JSON', () => {
    const body = utf8(`\uFEFF \n${WIRE_EXAMPLE}\n`);
    expect(decodeV1Report('meta', body)).toEqual(EXAMPLE_EXPECTED);
  });
});

describe('RisingWave v1 compute, frontend and compactor reports', () => {
  it.each([
    ['compute', 'Compute'],
    ['frontend', 'Frontend'],
    ['compactor', 'Compactor'],
  ] as const)('decodes a %s report with no meta facts', (nodeType, wire) => {
    expect(decodeV1Report(nodeType, json({ ...BASE_ONLY, node_type: wire }))).toEqual({
      protocol: 'risingwave_v1',
      trackingId: 'c1a2b3c4-0000-4000-8000-000000000001',
      sessionId: 'a1b2c3d4-1111-4111-8111-111111111111',
      nodeType,
      reportTime: 1704067200,
      upTime: 60,
      isTest: false,
      system: {
        memoryUsed: 1073741824,
        memoryTotal: 2147483648,
        osName: 'Alpine Linux',
        osVersion: '3.19',
        osKernel: '6.6.8',
        cpuAvailable: 1.5,
      },
      meta: null,
      flags: [],
    } satisfies NodeReport);
  });

  it('ignores meta-only fields in a compute report', () => {
    const body = json({ ...BASE_ONLY, node_type: 'Compute', meta_backend: 'Etcd', node_count: 'garbage' });
    expect(decodeV1Report('compute', body).meta).toBeNull();
  });
});

describe('RisingWave v1 rejections', () => {
  it.each([
    ['meta', 'Compute'],
    ['compute', 'Meta'],
    ['frontend', 'Compactor'],
    ['compactor', 'Frontend'],
    ['meta', 'meta'],
    ['meta', 'META'],
    ['meta', ''],
    ['meta', 1],
    ['meta', null],
    ['meta', ['Meta']],
    ['meta', 'toString'],
    ['meta', '__proto__'],
  ] as const satisfies ReadonlyArray<readonly [NodeType, unknown]>)(
    'rejects a body sent to /report/%s with node_type %j as node_type_mismatch',
    (path, nodeType) => {
      expect(protocolError(() => decodeV1Report(path, withFields({ node_type: nodeType })))).toMatchObject({
        code: 'node_type_mismatch',
        status: 400,
      });
    },
  );

  it('rejects a body without node_type as node_type_mismatch', () => {
    const { node_type: _, ...rest } = example();
    expect(protocolError(() => decodeV1Report('meta', json(rest)))).toMatchObject({
      code: 'node_type_mismatch',
      message: 'the path says meta but the body has no node_type',
    });
  });

  it.each([
    ['empty', ''],
    ['truncated', WIRE_EXAMPLE.slice(0, 100)],
    ['single-quoted', "{'tracking_id':'x'}"],
    ['trailing garbage', `${WIRE_EXAMPLE}}`],
    ['two documents', `${WIRE_EXAMPLE}${WIRE_EXAMPLE}`],
    ['NaN', '{"up_time":NaN}'],
  ])('rejects invalid JSON (%s) as undecodable', (_, text) => {
    expect(protocolError(() => decodeV1Report('meta', utf8(text)))).toMatchObject({
      code: 'undecodable',
      status: 400,
    });
  });

  it.each([
    ['a lone 0xff byte', [0xff]],
    ['a lone continuation byte inside a string', [...utf8('{"tracking_id":"a'), 0x80, ...utf8('"}')]],
    ['an overlong encoding of "/"', [...utf8('{"a":"'), 0xc0, 0xaf, ...utf8('"}')]],
    ['an encoded surrogate', [...utf8('{"a":"'), 0xed, 0xa0, 0x80, ...utf8('"}')]],
    ['a truncated 3-byte sequence', [...utf8('{"a":"'), 0xe2, 0x82]],
    ['UTF-16LE', [0xff, 0xfe, 0x7b, 0x00, 0x7d, 0x00]],
  ])('rejects bytes that are not UTF-8 (%s) as undecodable', (_, bytes) => {
    expect(protocolError(() => decodeV1Report('meta', Uint8Array.from(bytes))).code).toBe('undecodable');
  });

  it.each([
    ['an array', '[]'],
    ['an array of the report', `[${WIRE_EXAMPLE}]`],
    ['a number', '42'],
    ['null', 'null'],
    ['a string', '"Meta"'],
    ['true', 'true'],
  ])('rejects JSON that is %s as invalid_report', (_, text) => {
    for (const path of ['meta', 'compute'] as const) {
      expect(protocolError(() => decodeV1Report(path, utf8(text)))).toMatchObject({
        code: 'invalid_report',
        status: 400,
      });
    }
  });

  const wrongTypes: Array<[string, Record<string, unknown>, string]> = [
    ['tracking_id is a number', { tracking_id: 12345 }, 'invalid_tracking_id'],
    ['tracking_id is empty', { tracking_id: '' }, 'invalid_tracking_id'],
    ['tracking_id is missing', { tracking_id: undefined }, 'invalid_tracking_id'],
    ['tracking_id has 129 characters', { tracking_id: 'x'.repeat(129) }, 'invalid_tracking_id'],
    ['tracking_id is not ASCII', { tracking_id: 'clüster' }, 'invalid_tracking_id'],
    ['tracking_id is ..', { tracking_id: '..' }, 'invalid_tracking_id'],
    ['tracking_id has a control character', { tracking_id: 'a\u0001b' }, 'invalid_tracking_id'],
    ['session_id is a number', { session_id: 7 }, 'invalid_field'],
    ['session_id is an object', { session_id: {} }, 'invalid_field'],
    ['up_time is a string', { up_time: '21600' }, 'invalid_field'],
    ['up_time is negative', { up_time: -1 }, 'invalid_field'],
    ['time_stamp is a boolean', { time_stamp: true }, 'invalid_field'],
    ['time_stamp is an array', { time_stamp: [1709280000] }, 'invalid_field'],
    ['system_data is a string', { system_data: 'linux' }, 'invalid_field'],
    ['system_data is an array', { system_data: [] }, 'invalid_field'],
    ['memory is a number', { system_data: { memory: 8 } }, 'invalid_field'],
    ['memory.used is a string', { system_data: { memory: { used: '3 GiB', total: 1 } } }, 'invalid_field'],
    ['memory.total is null-ish text', { system_data: { memory: { total: 'null' } } }, 'invalid_field'],
    ['memory.available is negative', { system_data: { memory: { available: -5 } } }, 'invalid_field'],
    ['os is a string', { system_data: { os: 'Ubuntu' } }, 'invalid_field'],
    ['os.name is a number', { system_data: { os: { name: 22.04 } } }, 'invalid_field'],
    ['os.version is an object', { system_data: { os: { version: {} } } }, 'invalid_field'],
    ['cpu.available is a string', { system_data: { cpu: { available: '4.0' } } }, 'invalid_field'],
    ['cpu is a number', { system_data: { cpu: 4 } }, 'invalid_field'],
    ['node_count is an array', { node_count: [1, 2, 1, 1] }, 'invalid_field'],
    ['node_count.compute_count is a string', { node_count: { compute_count: '2' } }, 'invalid_field'],
    ['node_count.meta_count is a boolean', { node_count: { meta_count: true } }, 'invalid_field'],
    ['streaming_job_count is a string', { streaming_job_count: '12' }, 'invalid_field'],
    ['rw_version is a string', { rw_version: '1.7.0' }, 'invalid_field'],
    ['rw_version.version is a number', { rw_version: { version: 1.7 } }, 'invalid_field'],
    ['os.name is too long', { system_data: { os: { name: 'x'.repeat(1025) } } }, 'string_too_long'],
  ];

  it.each(wrongTypes)('rejects a meta report where %s with a ProtocolError', (_, fields, code) => {
    expect(protocolError(() => decodeV1Report('meta', withFields(fields)))).toMatchObject({
      code,
      status: 400,
    });
  });
});

describe('RisingWave v1 odd values that are kept', () => {
  it('clamps numbers above 2^53-1 and flags number_clamped', () => {
    const body = utf8(WIRE_EXAMPLE.replace('"up_time":21600', '"up_time":18446744073709551615'));
    const report = decodeV1Report('meta', body);
    expect(report.upTime).toBe(Number.MAX_SAFE_INTEGER);
    expect(report.flags).toEqual(['number_clamped']);
  });

  it('truncates fractional seconds instead of rejecting', () => {
    const report = decodeV1Report('meta', withFields({ up_time: 21600.75, time_stamp: 1709280000.5 }));
    expect(report).toMatchObject({ upTime: 21600, reportTime: 1709280000 });
  });

  it('reads a missing time_stamp and up_time as 0', () => {
    const report = decodeV1Report('meta', withFields({ up_time: undefined, time_stamp: null }));
    expect(report).toMatchObject({ upTime: 0, reportTime: 0 });
  });

  it('turns an infinite cpu.available into null', () => {
    const body = utf8(WIRE_EXAMPLE.replace('"available":4.0', '"available":1e999'));
    expect(decodeV1Report('meta', body).system.cpuAvailable).toBeNull();
  });

  it('replaces NUL in strings and flags nul_replaced', () => {
    const body = withFields({
      system_data: { os: { name: 'Ubu\u0000ntu' } },
      rw_version: { version: '1.6\u0000', git_sha: 'abc' },
    });
    const report = decodeV1Report('meta', body);
    expect(report.system.osName).toBe('Ubu\uFFFDntu');
    expect(report.meta?.version).toBe('1.6\uFFFD');
    expect(report.flags).toEqual(['nul_replaced']);
  });

  it('marks a body with is_test true as a test', () => {
    expect(decodeV1Report('meta', withFields({ is_test: true })).isTest).toBe(true);
    expect(decodeV1Report('meta', withFields({ is_test: 'yes' })).isTest).toBe(false);
  });

  it('caps node counts at 2^32-1 like the uint32 they are', () => {
    const report = decodeV1Report('meta', withFields({ node_count: { compute_count: 2 ** 40 } }));
    expect(report.meta?.nodeCount).toEqual({ meta: 0, compute: 0xffffffff, frontend: 0, compactor: 0 });
  });
});
