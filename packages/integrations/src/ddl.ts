// Which objects a piece of SQL creates or drops: the action and the kind of object, never a name,
// a column or a value. Called only after PostgreSQL answered a statement with the CREATE or DROP
// command tag, so it is off the hot path; it still reads the text once, without a regex per character.

export type DdlAction = 'create' | 'drop';
/** `other`: functions, schemas, sequences, types, extensions, … (the kind only). */
export type DdlObject = 'table' | 'view' | 'materialized_view' | 'index' | 'other';

export interface DdlStatement {
  action: DdlAction;
  object: DdlObject;
}

const WORD = /[a-z_][a-z_0-9$]*/iy;
const MODIFIERS = new Set([
  'global',
  'local',
  'temp',
  'temporary',
  'unlogged',
  'unique',
  'materialized',
  'recursive',
]);

export interface DdlOptions {
  /**
   * Leave out the objects PGlite's live-query extension creates and drops for itself (names
   * starting `live_query_` or `_notify_`). Only on PGlite: elsewhere such names are the
   * application's own.
   */
  liveQueryObjects?: boolean;
}

/**
 * The CREATE and DROP statements of `sql`, in order. Statements are split on `;` outside string
 * literals (also E'…' with backslash escapes), quoted identifiers, dollar quotes and comments.
 * Temporary objects are left out: they live for a session, not in the schema.
 */
export function ddlStatements(sql: string, options: DdlOptions = {}): DdlStatement[] {
  const found: DdlStatement[] = [];
  let i = 0;
  while (i < sql.length) {
    i = skipBlank(sql, i);
    const head = headAt(sql, i, options.liveQueryObjects === true);
    if (head) found.push(head);
    i = endOfStatement(sql, i) + 1;
  }
  return found;
}

/** The lower-cased word at `i` and the position after it, or null. */
function wordAt(sql: string, i: number): { word: string; end: number } | null {
  WORD.lastIndex = i;
  const match = WORD.exec(sql);
  return match ? { word: match[0].toLowerCase(), end: WORD.lastIndex } : null;
}

/**
 * CREATE [OR REPLACE] [modifiers…] <kind>, or DROP [MATERIALIZED] <kind>, at `i`: word by word, so
 * that comments may stand between the words as whitespace does (`create /* x *\/ table`).
 */
function headAt(sql: string, i: number, skipLiveQueryObjects: boolean): DdlStatement | null {
  const first = wordAt(sql, i);
  if (first?.word !== 'create' && first?.word !== 'drop') return null;
  let next = wordAt(sql, skipBlank(sql, first.end));
  if (first.word === 'create' && next?.word === 'or') {
    const replace = wordAt(sql, skipBlank(sql, next.end));
    if (replace?.word !== 'replace') return null;
    next = wordAt(sql, skipBlank(sql, replace.end));
  }
  let materialized = false;
  let temporary = false;
  while (next && MODIFIERS.has(next.word)) {
    materialized ||= next.word === 'materialized';
    temporary ||= next.word === 'temp' || next.word === 'temporary';
    next = wordAt(sql, skipBlank(sql, next.end));
  }
  if (!next) return null;
  // A temporary object lives for the session, not in the schema; PGlite's live queries create
  // and drop their own views, tables, functions and triggers for every subscription (a review
  // counted 22 "DDL" events for 10 subscriptions and no DDL of the application's).
  if (temporary) return null;
  if (skipLiveQueryObjects && LIVE_QUERY_NAME.test(objectName(sql, next.end))) return null;
  return { action: first.word, object: kindOf(materialized, next.word) };
}

/** Names PGlite's live-query extension gives the objects it manages itself. */
const LIVE_QUERY_NAME = /^(live_query_|_notify_)/;

/** The object's name after its kind (past IF [NOT] EXISTS), unquoted; '' if none is found. */
function objectName(sql: string, i: number): string {
  let at = skipBlank(sql, i);
  for (let word = wordAt(sql, at); word && /^(if|not|exists)$/.test(word.word); word = wordAt(sql, at)) {
    at = skipBlank(sql, word.end);
  }
  if (sql[at] === '"') return sql.slice(at + 1, quoteEnd(sql, at, '"', false) - 1);
  return wordAt(sql, at)?.word ?? '';
}

function kindOf(materialized: boolean, kind: string): DdlObject {
  if (kind === 'view') return materialized ? 'materialized_view' : 'view';
  return kind === 'table' || kind === 'index' ? kind : 'other';
}

/** The first position at or after `i` that is neither whitespace nor inside a comment. */
function skipBlank(sql: string, i: number): number {
  for (;;) {
    while (i < sql.length && /\s/.test(sql[i]!)) i++;
    if (sql.startsWith('--', i)) i = lineEnd(sql, i);
    else if (sql.startsWith('/*', i)) i = blockCommentEnd(sql, i);
    else return i;
  }
}

/** The index of the `;` that ends the statement starting at `i`, or the text's length. */
function endOfStatement(sql: string, i: number): number {
  while (i < sql.length) {
    const c = sql[i]!;
    if (c === ';') return i;
    if (c === "'") i = quoteEnd(sql, i, "'", isEscapeString(sql, i));
    else if (c === '"') i = quoteEnd(sql, i, '"', false);
    else if (c === '-' && sql[i + 1] === '-') i = lineEnd(sql, i);
    else if (c === '/' && sql[i + 1] === '*') i = blockCommentEnd(sql, i);
    else if (c === '$') i = dollarQuoteEnd(sql, i);
    else i++;
  }
  return sql.length;
}

/** E'…' (or e'…'), where a backslash escapes the next character; not the end of an identifier like `name'`. */
function isEscapeString(sql: string, quote: number): boolean {
  const before = sql[quote - 1];
  return (before === 'E' || before === 'e') && !/[\w$]/.test(sql[quote - 2] ?? ' ');
}

/** Just past the closing quote ('' and "" inside are two quotes in a row, so they re-enter). */
function quoteEnd(sql: string, open: number, quote: string, backslashEscapes: boolean): number {
  let i = open + 1;
  while (i < sql.length) {
    const c = sql[i]!;
    if (backslashEscapes && c === '\\') i += 2;
    else if (c === quote) return i + 1;
    else i++;
  }
  return sql.length;
}

function lineEnd(sql: string, i: number): number {
  const end = sql.indexOf('\n', i);
  return end < 0 ? sql.length : end + 1;
}

/** Just past the matching `*\/`; PostgreSQL's block comments nest. */
function blockCommentEnd(sql: string, i: number): number {
  let depth = 0;
  while (i < sql.length) {
    if (sql.startsWith('/*', i)) {
      depth++;
      i += 2;
    } else if (sql.startsWith('*/', i)) {
      depth--;
      i += 2;
      if (depth === 0) return i;
    } else i++;
  }
  return sql.length;
}

const DOLLAR_TAG = /\$([A-Za-z_][A-Za-z_0-9]*)?\$/y;

/** Just past a $tag$…$tag$ body; a `$` that opens none (a parameter like $1) is one character. */
function dollarQuoteEnd(sql: string, i: number): number {
  if (i > 0 && /[\w$]/.test(sql[i - 1]!)) return i + 1; // inside an identifier like a$b
  DOLLAR_TAG.lastIndex = i;
  const tag = DOLLAR_TAG.exec(sql);
  if (!tag) return i + 1;
  const close = sql.indexOf(tag[0], i + tag[0].length);
  return close < 0 ? sql.length : close + tag[0].length;
}
