/**
 * Values as better-sqlite3 binds them, in place: it takes bytes only as a Buffer, and a Buffer that
 * crossed to a thread arrives as a plain Uint8Array (as does a row's raw payload). Shared by the
 * writer and query threads.
 */
export function bindable(values: unknown[]): unknown[] {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v instanceof Uint8Array && !Buffer.isBuffer(v))
      values[i] = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  }
  return values;
}
