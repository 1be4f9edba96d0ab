// Text formats for exports (the cluster list's CSV and NDJSON, `tidewatch query --csv`): stored
// strings come from anyone who can send a report, so cells are made safe for spreadsheets.

/**
 * One CSV cell: RFC 4180 quoting; a leading = + - @ (or tab, CR) is prefixed with ' so spreadsheets
 * never run it as a formula. A cell with a semicolon or a tab is quoted too: a spreadsheet whose
 * locale separates fields by `;` (de, fr) would split `x;=1+2` there and run the second part.
 * Numbers keep every digit; objects and arrays are written as JSON; null is an empty cell.
 */
export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  const safe = /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
  return /[",;\t\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

/** One CSV record (without its line break). */
export function csvLine(values: readonly unknown[]): string {
  return values.map(csvCell).join(',');
}

/**
 * One NDJSON line: JSON.stringify leaves U+2028, U+2029 and U+0085 raw, and readers that split
 * on every line break (Python's splitlines) would cut a record there.
 */
export function ndjsonLine(value: unknown): string {
  return JSON.stringify(value).replace(
    /[\u0085\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
