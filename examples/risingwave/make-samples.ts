// Writes the sample RisingWave reports the README's curl examples post (run: npx tsx
// examples/risingwave/make-samples.ts). The bytes are what a RisingWave 2.4 meta leader sends.
import { writeFileSync } from 'node:fs';
import { create, toBinary } from '@bufbuild/protobuf';
import { risingwaveWire as rw } from '@tidewatch/protocol';

const dir = new URL('./', import.meta.url);

const meta = create(rw.MetaReportSchema, {
  base: {
    trackingId: '7f3e9c1a-4b2d-4e8f-9a6c-1d5b3e7f9a2c',
    sessionId: 'b2c4d6e8-1a3b-4c5d-8e7f-9a0b1c2d3e4f',
    systemData: {
      memory: { used: 6_442_450_944n, total: 17_179_869_184n },
      os: { name: 'Ubuntu', version: '22.04', kernelVersion: '6.5.0-1018-aws' },
      cpu: { available: 8 },
    },
    upTime: 86_400n,
    reportTime: 1_764_000_000n,
    nodeType: rw.TelemetryNodeType.META,
    isTest: false,
  },
  metaBackend: rw.MetaBackend.RDB,
  nodeCount: { meta: 1, compute: 3, frontend: 2, compactor: 1 },
  rwVersion: { rwVersion: '2.4.1', gitSha: '9d2b1f7' },
  streamJobCount: 3,
  streamJobs: [
    { tableId: 1001, connectorName: 'kafka' },
    { tableId: 1002, connectorName: 'postgres-cdc' },
    { tableId: 1003 },
  ],
  clusterType: rw.TelemetryClusterType.KUBERNETES,
  objectStoreMediaType: 's3',
  connectorUsageJsonStr: JSON.stringify({
    source: [{ '1001': { connector: 'kafka', format: 'FORMAT_TYPE_PLAIN', encode: 'ENCODE_TYPE_JSON' } }],
    sink: [{ '1004': { connector: 'iceberg', format: 'FORMAT_TYPE_UPSERT', encode: 'ENCODE_TYPE_PARQUET' } }],
  }),
  licenseInfoJsonStr: JSON.stringify({
    sub: 'example-customer',
    iss: 'prod.risingwave.com',
    tier: 'paid',
    rwu_limit: 64,
    exp: 1_900_000_000,
  }),
});
writeFileSync(new URL('meta-report.pb', dir), toBinary(rw.MetaReportSchema, meta));
console.log('wrote examples/risingwave/meta-report.pb');
