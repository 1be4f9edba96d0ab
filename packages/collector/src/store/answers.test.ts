import { describe, expect, it } from 'vitest';
import { compareText } from '../text-order.js';
import { versionCountsOf } from './answers.js';

describe('answer order', () => {
  it('orders texts the locale sees as equal the same way whatever order the store returned them in', () => {
    const composed = '\u00e91.0'; // é as one code point
    const decomposed = 'e\u03011.0'; // e and a combining acute accent
    expect(composed.localeCompare(decomposed)).toBe(0);
    const rows = (versions: string[]) =>
      versions.map((version) => ({ day: '2026-11-28', version, clusters: 1 }));
    const one = versionCountsOf(rows([composed, decomposed, '2.0'])).map((r) => r.version);
    const other = versionCountsOf(rows(['2.0', decomposed, composed])).map((r) => r.version);
    expect(one).toEqual(other);
    expect(Math.sign(compareText(composed, decomposed))).toBe(-Math.sign(compareText(decomposed, composed)));
    expect(compareText('a', 'a')).toBe(0);
  });
});
