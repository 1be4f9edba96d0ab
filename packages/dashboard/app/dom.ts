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
 * Characters that change how text around them shows without showing themselves: bidirectional
 * overrides, embeddings, isolates and marks, zero-width ones, and control characters (an ESC is
 * invisible in a page). In a value from a report they reversed text ("gpj.exe") or made two
 * different versions look the same, so each is shown as its code point instead.
 */
const INVISIBLE = /[\p{Cc}\u061C\u200B-\u200F\u202A-\u202E\u2060-\u2064\u2066-\u2069\uFEFF]/gu;

/** Text as the dashboard shows it: invisible characters made visible (see INVISIBLE). */
export function visible(text: string): string {
  return text.replace(INVISIBLE, (c) => `⟨U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}⟩`);
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

function cellContent(cell: Child): Child {
  if (typeof cell !== 'string' || cell.length <= CELL_TEXT_MAX) return cell;
  return h('span', { title: visible(cell) }, `${cell.slice(0, CELL_TEXT_MAX)}…`);
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
