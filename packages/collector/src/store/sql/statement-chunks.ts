// How a write splits its rows into statements, on SQLite and PostgreSQL.

/** Rows per INSERT statement: well under SQLite's 32,766 and PostgreSQL's 65,535 parameters. */
export const ROWS_PER_STATEMENT = 500;

export function chunks<T>(rows: T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < rows.length; i += ROWS_PER_STATEMENT) out.push(rows.slice(i, i + ROWS_PER_STATEMENT));
  return out;
}

/**
 * chunks() with each chunk's length rounded up to a power of two (at most ROWS_PER_STATEMENT) by
 * repeating its last item, for statements whose text holds one placeholder group per item and
 * where a repeated item changes nothing. The SQLite writer keeps a prepared statement per text:
 * with a text per length, imports and bursts made it keep up to 1,000 of them (~67 MB); now ~10.
 */
export function paddedChunks<T>(rows: T[]): T[][] {
  return chunks(rows).map((chunk) => {
    let size = 1;
    while (size < chunk.length) size *= 2;
    size = Math.min(size, ROWS_PER_STATEMENT);
    const last = chunk.at(-1)!;
    while (chunk.length < size) chunk.push(last);
    return chunk;
  });
}
