// Aligned text tables for the terminal: numbers right-aligned, everything else left.

/** Control characters (C0, DEL, C1): ESC and friends would drive the operator's terminal. */
const CONTROL = /\p{Cc}/gu;
/**
 * Characters that change how the text around them shows without showing themselves (format
 * characters such as bidirectional overrides, zero-width and tag characters; line and paragraph
 * separators; the other default-ignorable ones): U+202E prints the rest of a line reversed. The
 * dashboard shows the same set (packages/dashboard/app/dom.ts).
 */
const INVISIBLE = /[\p{Cf}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}]/gu;

/** \uNNNN (a UTF-16 unit), or both halves of a pair: what JSON and JavaScript read back. */
const unicodeEscape = (c: string) =>
  [...Array(c.length).keys()].map((i) => `\\u${c.charCodeAt(i).toString(16).padStart(4, '0')}`).join('');

/**
 * Text from the collector made safe to print: anyone can send a report, so a stored string may
 * carry terminal escape sequences (clear the screen, set the window title); they show as \xNN,
 * and invisible characters as \uNNNN.
 */
export function printable(text: string): string {
  return text
    .replace(CONTROL, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)
    .replace(INVISIBLE, unicodeEscape);
}

/**
 * JSON for the terminal (`--json`): the same value, with what printable() escapes written as
 * \uNNNN escapes (JSON.stringify leaves DEL, C1 controls and invisible characters raw).
 */
export function printableJson(value: unknown): string {
  // C0 controls inside strings are escaped by JSON.stringify already; outside them are its own
  // line breaks, which stay.
  return JSON.stringify(value, null, 2).replace(RAW_IN_JSON, unicodeEscape);
}
const RAW_IN_JSON = /[\u007F-\u009F\p{Cf}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}]/gu;

/**
 * A number as a reader wants it in a table: integers exact, fractions to 4 significant digits (a
 * latency of 0.003142539557026162 s reads 0.003143), but never fewer than the integer part's (a
 * sum of 123456.789 reads 123457, not 123500); `--json` keeps every digit.
 */
function number(v: number): string {
  if (Number.isInteger(v)) return String(v);
  return Math.abs(v) >= 1000 ? String(Math.round(v)) : String(Number(v.toPrecision(4)));
}

/** A row's value in a column. Rows are any objects: the API answers' interfaces have no index signature. */
export function cellOf(row: object, column: string): unknown {
  return (row as Record<string, unknown>)[column];
}

export function formatTable(rows: readonly object[], columns?: string[]): string {
  if (rows.length === 0) return '(no rows)';
  const keys = columns ?? Object.keys(rows[0]!);
  const cell = (v: unknown) =>
    v === null || v === undefined
      ? '-'
      : typeof v === 'number'
        ? number(v)
        : printable(typeof v === 'object' ? JSON.stringify(v) : String(v));
  const numeric = keys.map((k) =>
    rows.every((r) => {
      const v = cellOf(r, k);
      return v === null || v === undefined || typeof v === 'number';
    }),
  );
  const widths = keys.map((k) => Math.max(k.length, ...rows.map((r) => cell(cellOf(r, k)).length)));
  const line = (values: string[]) =>
    values
      .map((v, i) => (numeric[i] ? v.padStart(widths[i]!) : v.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [
    line(keys),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map((r) => line(keys.map((k) => cell(cellOf(r, k))))),
  ].join('\n');
}
