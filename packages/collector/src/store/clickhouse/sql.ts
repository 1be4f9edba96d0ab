// The only way SQL text is built for ClickHouse. ClickHouse 18.16 has no server-side query
// parameters, so values are written into the query as literals: `literal()` is the one escaping
// function (tested against the real server with hostile strings in sql.test.ts), and the `sql`
// template tag passes every interpolated value through it. Names (tables, columns) come from
// fixed lists in this code and go through `ident()`, which refuses anything but [a-z0-9_].

/** A piece of SQL text whose values are already escaped. */
export class Sql {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

export type SqlValue = string | number | boolean | null | Sql | readonly SqlValue[];

/** Bytes that are escaped as \xHH inside a string literal: control characters and DEL. */
const ESCAPED = /[\\'\u0000-\u001f\u007f]/g;

function escapeChar(c: string): string {
  if (c === '\\') return '\\\\';
  if (c === "'") return "\\'";
  return `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
}

/**
 * A ClickHouse literal for a value: strings in single quotes with backslash escapes (other
 * characters, unicode included, pass as UTF-8), finite numbers as written, booleans as 1/0, null
 * as NULL, arrays as [..], and `Sql` fragments unchanged.
 */
export function literal(value: SqlValue): string {
  if (value instanceof Sql) return value.text;
  if (value === null) return 'NULL';
  if (typeof value === 'string') return `'${value.replace(ESCAPED, escapeChar)}'`;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError(`not a finite number: ${value}`);
    return String(value);
  }
  if (typeof value === 'boolean') return value ? '1' : '0';
  if (Array.isArray(value)) return `[${value.map(literal).join(', ')}]`;
  throw new TypeError(`cannot write ${typeof value} as a ClickHouse literal`);
}

/** A table or column name from this code's fixed lists. */
export function ident(name: string): Sql {
  if (!/^[a-z_][a-z0-9_]*$/i.test(name)) throw new TypeError(`not a plain identifier: ${name}`);
  return new Sql(name);
}

/** `sql\`select ... where id = ${value}\``: template text is SQL, every value is a literal. */
export function sql(strings: TemplateStringsArray, ...values: SqlValue[]): Sql {
  let text = strings[0] ?? '';
  for (let i = 0; i < values.length; i++) text += literal(values[i]!) + strings[i + 1];
  return new Sql(text);
}

/** Joins fragments with a separator (`, ` by default). */
export function join(parts: readonly Sql[], separator = ', '): Sql {
  return new Sql(parts.map((p) => p.text).join(separator));
}

/** `a AND b AND ...` of the conditions given (`1` when there are none). */
export function and(conditions: readonly Sql[]): Sql {
  return conditions.length === 0 ? new Sql('1') : join(conditions, ' AND ');
}
