// A tiny element builder. Text always goes in through textContent, never innerHTML, so values from
// the API (tracking ids, event attributes) can never become markup.
export type Child = Node | string | number | null | undefined | false | Child[];
type AttrValue = string | number | boolean | null | undefined | ((event: Event) => void);

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, AttrValue> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (typeof value === 'function') element.addEventListener(key.replace(/^on/, ''), value);
    else if (key === 'class') element.className = String(value);
    else element.setAttribute(key, value === true ? '' : String(value));
  }
  append(element, children);
  return element;
}

/**
 * Characters that change how text around them shows without showing themselves: control and
 * format characters (bidirectional overrides, embeddings, isolates and marks, zero-width ones, tag
 * characters, the soft hyphen), line and paragraph separators, and the rest of Unicode's
 * default-ignorable ones (fillers, variation selectors). In a value from a report they reversed text
 * ("gpj.exe") or made two different versions look the same, so each is shown as its code point.
 * The dashboard's own text (trusted) keeps its line breaks.
 */
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}]/gu;

/** Text as the dashboard shows it: invisible characters made visible (see INVISIBLE). */
export function visible(text: string): string {
  return text.replace(
    INVISIBLE,
    (c) => `⟨U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}⟩`,
  );
}

/** The dashboard's own text (commands to copy), shown exactly as written, line breaks included. */
export function trusted(text: string): Text {
  return document.createTextNode(text);
}

export function append(parent: Node, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, child);
    else
      parent.appendChild(typeof child === 'object' ? child : document.createTextNode(visible(String(child))));
  }
}

/** A cell's text past this many characters is cut, whole in its tooltip (a value may be 1,024). */
const CELL_TEXT_MAX = 160;

/** The first `max` characters, not splitting a surrogate pair. */
function cut(text: string, max = CELL_TEXT_MAX): string {
  const end = /[\uD800-\uDBFF]/.test(text.charAt(max - 1)) ? max - 1 : max;
  return `${text.slice(0, end)}…`;
}

/** `text` in a `tag` element, cut past `max` characters and then whole in its tooltip. */
export function cutText<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  text: string,
  max = CELL_TEXT_MAX,
  attrs: Record<string, AttrValue> = {},
): HTMLElementTagNameMap[K] {
  if (text.length <= max) return h(tag, attrs, text);
  return h(tag, { ...attrs, title: visible(text) }, cut(text, max));
}

function cellContent(cell: Child): Child {
  // A link (a breakdown's value): its text cut in place, whole in its tooltip.
  if (cell instanceof HTMLElement && cell.childElementCount === 0 && !cell.title) {
    const text = cell.textContent ?? '';
    if (text.length > CELL_TEXT_MAX) {
      cell.title = text;
      cell.textContent = cut(text);
    }
    return cell;
  }
  if (typeof cell !== 'string' || cell.length <= CELL_TEXT_MAX) return cell;
  return cutText('span', cell);
}

export function clear(element: Element, ...children: Child[]): void {
  element.replaceChildren();
  append(element, children);
}

/** A table with a caption; `cells` may be nodes or text. */
export function table(
  caption: Child,
  headers: string[],
  rows: Child[][],
  options: { numeric?: number[]; className?: string } = {},
): HTMLTableElement {
  const numeric = new Set(options.numeric ?? []);
  return h(
    'table',
    { class: options.className ?? 'data' },
    h('caption', {}, caption),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        headers.map((text, i) => h('th', { scope: 'col', class: numeric.has(i) ? 'num' : null }, text)),
      ),
    ),
    h(
      'tbody',
      {},
      rows.map((row) =>
        h(
          'tr',
          {},
          row.map((cell, i) => h('td', { class: numeric.has(i) ? 'num' : null }, cellContent(cell))),
        ),
      ),
    ),
  );
}
