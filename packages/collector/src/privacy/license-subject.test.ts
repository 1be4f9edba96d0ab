// The license policy on its own: the subject hashed in the row and in the raw body, the same
// license always rewritten alike, and a flood of distinct licenses handled like the first one.

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { fromBinary } from '@bufbuild/protobuf';
import { decodeV2Report, risingwaveWire } from '@tidewatch/protocol';
import { describe, expect, it } from 'vitest';
import { metaReport } from '../../test-support/risingwave.js';
import { reportRow } from '../ingest/rows.js';
import type { Store } from '../store/store.js';
import { LicenseSubjectPolicy } from './license-subject.js';

const salted = () =>
  LicenseSubjectPolicy.hashed({ ensureSetting: async () => 'unused' } as unknown as Store, 'test-salt');

function applied(policy: LicenseSubjectPolicy, licenseJson: string) {
  const bytes = metaReport({ trackingId: 'cluster-1', licenseJson });
  const report = decodeV2Report('meta', bytes);
  const row = policy.apply(reportRow(report, bytes, Date.now()), report);
  const stored = fromBinary(risingwaveWire.MetaReportSchema, row.raw).licenseInfoJsonStr;
  return { row, raw: Buffer.from(row.raw).toString('latin1'), stored };
}

describe('LicenseSubjectPolicy', () => {
  it('rewrites a license sent again exactly as the first time', async () => {
    const policy = await salted();
    const license = '{"sub":"ACME Corp","tier":"paid","exp":1893456000}';
    const first = applied(policy, license);
    const again = applied(policy, license);
    expect(first.raw).not.toContain('ACME Corp');
    expect(first.row.licenseSubject).toMatch(/^hmac-sha256:[0-9a-f]{64}$/);
    expect(JSON.parse(first.stored)).toEqual({
      sub: first.row.licenseSubject,
      tier: 'paid',
      exp: 1893456000,
    });
    expect(again.stored).toBe(first.stored);
    expect(again.row.licenseSubject).toBe(first.row.licenseSubject);
  });

  it('redacts every one of thousands of distinct licenses, short and long, and leaves one without a subject alone', async () => {
    const policy = await salted();
    for (let i = 0; i < 2_500; i++) {
      const name = `Customer ${i}`;
      const padding = i % 500 === 0 ? 'x'.repeat(4000) : '';
      const { row, raw } = applied(policy, JSON.stringify({ sub: name, tier: 'paid', note: padding }));
      expect(raw).not.toContain(name);
      expect(row.licenseSubject).toMatch(/^hmac-sha256:/);
    }
    const bare = '{"tier":"free"}';
    expect(applied(policy, bare).raw).toContain(bare);
    expect(applied(policy, bare).row.licenseSubject).toBeNull();
  });

  it('keeps no memory for made-up subjects of a megabyte each (anyone may post them)', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const policy = await salted();
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 100; i++) {
      const subject = `${i}`.padEnd(1 << 20, 'x');
      expect(policy.protect(subject)).toMatch(/^hmac-sha256:[0-9a-f]{64}$/);
    }
    gc();
    // 100 MB were sent; a cache of them would keep all of it.
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(20 * 1024 * 1024);
    // A real customer name is still remembered: hashed alike every time.
    expect(policy.protect('ACME Corp')).toBe(policy.protect('ACME Corp'));
  });
});
