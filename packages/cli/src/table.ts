// Aligned text tables for the terminal: numbers right-aligned, everything else left.

/** Control characters (C0, DEL, C1): ESC and friends would drive the operator's terminal. */
const CONTROL = /\p{Cc}/gu;
/**
 * Characters that change how the text around them shows without showing themselves
 * (bidirectional overrides and isolates, zero-width ones): U+202E prints the rest of a line
 * reversed. The dashboard shows the same set (packages/dashboard/app/dom.ts).
 */
const INVISIBLE = /[\u061C\u200B-\u200F\u202A-\u202E\u2060-\u2064\u2066-\u2069\uFEFF]/g;

/**
 * Text from the collector made safe to print: anyone can send a report, so a stored string may
 * carry terminal escape sequences (clear the screen, set the window title); they show as \xNN,
 * and invisible characters as \uNNNN.
 */
export function printable(text: string): string {
  return text
    .replace(CONTROL, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)
    .replace(INVISIBLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * A number as a reader wants it in a table: integers exact, fractions to 4 significant digits (a
 * latency of 0.003142539557026162 s reads 0.003143), but never fewer than the integer part's (a
 * sum of 123456.789 reads 123457, not 123500); `--json` keeps every digit.
 */
function number(v: number): string {
  if (Number.isInteger(v)) return String(v);
  return Math.abs(v) >= 1000 ? String(Math.round(v)) : String(Number(v.toPrecision(4)));
}

export function formatTable(rows: Record<string, unknown>[], columns?: string[]): string {
  if (rows.length === 0) return '(no rows)';
  const keys = columns ?? Object.keys(rows[0]!);
  const cell = (v: unknown) =>
    v === null || v === undefined
      ? '-'
      : typeof v === 'number'
        ? number(v)
        : printable(typeof v === 'object' ? JSON.stringify(v) : String(v));
  const numeric = keys.map((k) =>
    rows.every((r) => r[k] === null || r[k] === undefined || typeof r[k] === 'number'),
  );
  const widths = keys.map((k) => Math.max(k.length, ...rows.map((r) => cell(r[k]).length)));
  const line = (values: string[]) =>
    values
      .map((v, i) => (numeric[i] ? v.padStart(widths[i]!) : v.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [
    line(keys),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map((r) => line(keys.map((k) => cell(r[k])))),
  ].join('\n');
}
