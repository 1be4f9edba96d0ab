import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import fc from 'fast-check';
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

describe('redactLicenseJson', () => {
  const hide = (s: string) => `h(${s.length})`;

  it('keeps every other byte as sent: a u64::MAX expiry stays exact', () => {
    const json = '{"sub":"ACME Corp","iss":"prod.risingwave.com","tier":"paid","exp":18446744073709551615}';
    expect(redactLicenseJson(json, hide)).toBe(
      '{"sub":"h(9)","iss":"prod.risingwave.com","tier":"paid","exp":18446744073709551615}',
    );
  });

  it("replaces a custom tier's name, which may be the customer's, and every copy of the subject", () => {
    const json = '{ "sub" : "A", "tier": {"name": "acme-gold", "features": ["time_travel"]}, "sub": "B" }';
    const out = redactLicenseJson(json, hide)!;
    expect(out).not.toMatch(/acme-gold|"A"|"B"/);
    expect(JSON.parse(out)).toEqual({ sub: 'h(1)', tier: { name: 'custom', features: ['time_travel'] } });
  });

  it('rewrites a license exactly as parsing, replacing and serializing would, for any JSON object', () => {
    const license = fc.record(
      {
        sub: fc.oneof(fc.string(), fc.jsonValue()),
        tier: fc.oneof(
          fc.constantFrom('paid', 'free'),
          fc.record({ name: fc.string(), features: fc.array(fc.string()) }),
        ),
        exp: fc.integer(),
        other: fc.jsonValue(),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(license, fc.constantFrom(undefined, 1, '\t'), (value, indent) => {
        const json = JSON.stringify(value, null, indent);
        const out = redactLicenseJson(json, hide);
        const expected: Record<string, unknown> = { ...value };
        if ('sub' in value) {
          const sub = value.sub;
          expected.sub = hide(typeof sub === 'string' ? sub : JSON.stringify(sub));
        }
        const tier = value.tier;
        if (typeof tier === 'object' && tier !== null) expected.tier = { ...tier, name: 'custom' };
        if (!('sub' in value) && typeof tier !== 'object') expect(out).toBeNull();
        else expect(JSON.parse(out!)).toEqual(JSON.parse(JSON.stringify(expected)));
      }),
      { numRuns: 2000 },
    );
  });
});
