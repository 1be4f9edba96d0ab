import { describe, expect, it } from 'vitest';
import { createAgent } from './agent.js';
import { AgentError } from './errors.js';
import { type AgentOptions, resolveOptions } from './options.js';

const base: AgentOptions = { endpoint: 'http://127.0.0.1:9', nodeType: 'frontend', dataDir: null, env: {} };

function code(options: Partial<AgentOptions> | Record<string, unknown>): string | undefined {
  try {
    resolveOptions({ ...base, ...options } as AgentOptions);
  } catch (error) {
    expect(error).toBeInstanceOf(AgentError);
    return (error as AgentError).code;
  }
  return undefined;
}

describe('options', () => {
  it('createAgent throws AgentError at once for options the host got wrong', () => {
    expect(() => createAgent({ ...base, endpoint: 'not a url' })).toThrow(AgentError);
    expect(code({ endpoint: 'ftp://x' })).toBe('invalid_option');
    // Each of these parsed once the route was appended, and every report went astray.
    for (const endpoint of [
      'http://',
      'https:',
      'http:/',
      'http://x.example/?token=a',
      'http://x.example/#f',
    ]) {
      expect(code({ endpoint }), endpoint).toBe('invalid_option');
    }
    expect(resolveOptions({ ...base, endpoint: 'https://t.example/prefix/' }).reportUrl.href).toBe(
      'https://t.example/prefix/api/v3/report',
    );
    expect(code({ endpoint: undefined })).toBe('invalid_option');
    // A URL object, as JavaScript callers pass, is its address.
    const asUrl = new URL('https://t.example/x') as unknown as string;
    expect(resolveOptions({ ...base, endpoint: asUrl }).reportUrl.href).toBe(
      'https://t.example/x/api/v3/report',
    );
    // NaN and Infinity are named, not printed as JSON's null.
    expect(() => resolveOptions({ ...base, interval: Number.NaN })).toThrow(/got NaN$/);
    expect(() => resolveOptions({ ...base, interval: Number.POSITIVE_INFINITY })).toThrow(/got Infinity$/);
    expect(code({ nodeType: '' })).toBe('invalid_option');
    expect(code({ nodeType: 'n'.repeat(65) })).toBe('invalid_option');
    expect(code({ trackingId: '' })).toBe('invalid_option');
    expect(code({ trackingId: 'ünicode' })).toBe('invalid_option');
    expect(code({ trackingId: 'x'.repeat(129) })).toBe('invalid_option');
    expect(code({ trackingId: '.' })).toBe('invalid_option');
    expect(code({ trackingId: '..' })).toBe('invalid_option');
    expect(code({ trackingId: '...' })).toBeUndefined();
    expect(code({ interval: 0 })).toBe('invalid_option');
    expect(code({ interval: -5 })).toBe('invalid_option');
    expect(code({ interval: Number.NaN })).toBe('invalid_option');
    expect(code({ maxSeries: 5000 })).toBe('invalid_option');
    expect(code({ format: 'xml' })).toBe('invalid_option');
    expect(code({ version: 'a\0b' })).toBe('invalid_option');
    expect(code({ enabled: 'yes' })).toBe('invalid_option');
    expect(code({ clock: { now: () => 1 } })).toBe('invalid_option');
    expect(code({ trackingId: 'rw-123', interval: 60_000 })).toBeUndefined();
  });

  it('lets the operator turn telemetry off, stronger than enabled: true', () => {
    for (const env of [
      { TIDEWATCH_TELEMETRY: 'off' },
      { TIDEWATCH_TELEMETRY: '0' },
      { TIDEWATCH_TELEMETRY: 'FALSE' },
      { TIDEWATCH_TELEMETRY: 'disabled' },
      // Not one of the "on" words: a misspelt or unusual opt-out is still an opt-out.
      { TIDEWATCH_TELEMETRY: 'none' },
      { TIDEWATCH_TELEMETRY: 'disable' },
      { DO_NOT_TRACK: '1' },
    ]) {
      expect(resolveOptions({ ...base, enabled: true, env }).disabledBy).not.toBeNull();
      expect(createAgent({ ...base, env }).enabled).toBe(false);
    }
    for (const on of ['on', '1', 'TRUE', 'enabled', 'yes', '']) {
      expect(
        resolveOptions({ ...base, env: { TIDEWATCH_TELEMETRY: on, DO_NOT_TRACK: '0' } }).disabledBy,
        on,
      ).toBeNull();
    }
    expect(resolveOptions({ ...base, enabled: false }).disabledBy).toBe('enabled: false');
  });

  it("keeps the operator's opt-out in the real environment even when the host passes its own env", () => {
    for (const [name, value] of [
      ['DO_NOT_TRACK', '1'],
      ['TIDEWATCH_TELEMETRY', 'off'],
    ] as const) {
      const before = process.env[name];
      process.env[name] = value;
      try {
        expect(resolveOptions({ ...base, env: {} }).disabledBy, name).not.toBeNull();
        expect(
          resolveOptions({ ...base, env: { TIDEWATCH_TELEMETRY: 'on' } }).disabledBy,
          name,
        ).not.toBeNull();
      } finally {
        if (before === undefined) delete process.env[name];
        else process.env[name] = before;
      }
    }
  });

  it('reads debug and CI from the environment', () => {
    const o = resolveOptions({ ...base, env: { TIDEWATCH_TELEMETRY_DEBUG: '1', CI: 'true' } });
    expect([o.debug, o.ci]).toEqual([true, true]);
    const p = resolveOptions({ ...base, env: { CI: '' } });
    expect([p.debug, p.ci]).toEqual([false, false]);
  });
});
