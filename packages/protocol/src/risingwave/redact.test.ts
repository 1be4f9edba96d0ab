import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { describe, expect, it } from 'vitest';
import { redactLicenseJson } from '../embedded-json.js';
import { MetaReportSchema, ReportBaseSchema } from '../gen/risingwave/telemetry_pb.js';
import { redactV2LicenseSubject } from './v2.js';

const license = (sub: string) => JSON.stringify({ sub, tier: 'paid', exp: 1893456000 });
const text = (bytes: Uint8Array) => Buffer.from(bytes).toString('latin1');

describe('redactV2LicenseSubject', () => {
  it('replaces the subject in every license field and keeps every other byte, unknown fields too', () => {
    const report = toBinary(
      MetaReportSchema,
      create(MetaReportSchema, {
        base: create(ReportBaseSchema, { trackingId: 'cluster-1', sessionId: 's' }),
        streamJobCount: 7,
        licenseInfoJsonStr: license('ACME Corp'),
      }),
    );
    // A newer cluster's unknown field 99, then a second license field (a decoder keeps the last).
    const extra = new BinaryWriter()
      .tag(99, WireType.LengthDelimited)
      .string('from the future')
      .tag(10, WireType.LengthDelimited)
      .string(license('ACME Corp'))
      .finish();
    const body = new Uint8Array([...report, ...extra]);
    const out = redactV2LicenseSubject(body, (json) => redactLicenseJson(json, (s) => `h(${s.length})`));
    expect(text(out)).not.toContain('ACME Corp');
    expect(text(out)).toContain('from the future');
    const decoded = fromBinary(MetaReportSchema, out, { readUnknownFields: true });
    expect(JSON.parse(decoded.licenseInfoJsonStr)).toEqual({ sub: 'h(9)', tier: 'paid', exp: 1893456000 });
    expect(decoded.base?.trackingId).toBe('cluster-1');
    expect(decoded.streamJobCount).toBe(7);
  });

  it('returns the very bytes when there is no subject to redact', () => {
    const body = toBinary(MetaReportSchema, create(MetaReportSchema, { streamJobCount: 3 }));
    expect(redactV2LicenseSubject(body, () => 'x')).toBe(body);
    const license = toBinary(
      MetaReportSchema,
      create(MetaReportSchema, { licenseInfoJsonStr: '{"tier":"paid"}' }),
    );
    expect(redactV2LicenseSubject(license, (json) => redactLicenseJson(json, () => 'x'))).toBe(license);
  });
});
