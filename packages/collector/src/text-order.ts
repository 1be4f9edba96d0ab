// Orders of text every store and answer share, so that all of them answer in the same order.

/** Code-unit (byte-like) order, as `<` compares strings. */
export function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Text order for answers: the locale's, then code units where the locale sees no difference
 * (`é` written as one code point or as e and a combining accent compare equal, and each store
 * then answered them in its own row order: a review found ClickHouse's differ from SQLite's).
 */
export function compareText(a: unknown, b: unknown): number {
  const x = String(a);
  const y = String(b);
  return x.localeCompare(y) || compareCodeUnits(x, y);
}
