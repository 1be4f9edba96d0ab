// The terminal tables of `tidewatch query`.
import { describe, expect, it } from 'vitest';
import { formatTable, printableJson } from './table.js';

describe('formatTable', () => {
  it('prints integers exactly and fractions to 4 significant digits, right-aligned', () => {
    const text = formatTable([
      { quantile: 'p50', seconds: 0.003142539557026162, count: 9_007_199_254_740_991 },
      { quantile: 'p99', seconds: 12.5, count: 3 },
      { quantile: 'sum', seconds: 123456.789, count: 0 },
    ]);
    expect(text.split('\n')).toEqual([
      'quantile   seconds             count',
      '--------  --------  ----------------',
      'p50       0.003143  9007199254740991',
      'p99           12.5                 3',
      'sum         123457                 0',
    ]);
  });

  it('shows control characters from the collector as escapes, never raw', () => {
    expect(formatTable([{ name: 'a\u001b[2Jb' }])).toContain('a\\x1b[2Jb');
  });

  it('shows characters that reorder or hide text as \\u escapes (a right-to-left override)', () => {
    const table = formatTable([{ os: 'Ubu\u202Entu', version: '1.0\u200B' }]);
    expect(table).toContain('Ubu\\u202entu');
    expect(table).toContain('1.0\\u200b');
    expect(table).not.toMatch(/[\u200B\u202E]/);
  });

  it('shows tag characters, soft hyphens, fillers and variation selectors too, astral ones as their pair', () => {
    const table = formatTable([{ version: '2.4.1\u{E0041}\u00AD\u3164\uFE0F\u2028' }]);
    expect(table).toContain('2.4.1\\udb40\\udc41\\u00ad\\u3164\\ufe0f\\u2028');
  });
});

describe('printableJson', () => {
  it('is the same JSON value with invisible and C1 characters escaped, its own line breaks kept', () => {
    const value = { os: 'Ubu\u202Entu', v: '1\u0085\u{E0041}', esc: '\u001b[2J', n: 1 };
    const text = printableJson(value);
    expect(JSON.parse(text)).toEqual(value);
    expect(text).not.toMatch(/[\u0080-\u009F\u202E\u{E0041}\u001b]/u);
    expect(text.split('\n')).toHaveLength(6);
  });
});
