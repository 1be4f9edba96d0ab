// A section of a view that loads its own data: a heading, then "Loading…", then the content, a
// "not available yet" note (a route this collector does not have), or the error the API gave.
import { ApiError, isAbort, NotFoundError, UnauthorizedError } from './api';
import { type Child, clear, h } from './dom';

let onUnauthorized: (message: string) => void = () => {};

export function setUnauthorizedHandler(handler: (message: string) => void): void {
  onUnauthorized = handler;
}

export interface PanelOptions {
  /** The route may not exist on this collector yet: a 404 shows a note, not an error. */
  optional?: boolean;
  className?: string;
  id?: string;
  level?: 'h2' | 'h3';
}

export function panel(
  title: string | null,
  load: () => Promise<Child>,
  options: PanelOptions = {},
): HTMLElement {
  const body = h(
    'div',
    { class: 'panel-body', 'aria-busy': 'true' },
    h('p', { class: 'loading' }, 'Loading…'),
  );
  const section = h(
    'section',
    { class: `panel ${options.className ?? ''}`.trim(), id: options.id ?? null },
    title ? h(options.level ?? 'h2', {}, title) : null,
    body,
  );
  load().then(
    (content) => {
      body.removeAttribute('aria-busy');
      clear(body, content);
    },
    (error: unknown) => {
      body.removeAttribute('aria-busy');
      if (error instanceof NotFoundError && options.optional) {
        clear(
          body,
          h('p', { class: 'note' }, 'Not available yet: this collector does not answer this question.'),
        );
        return;
      }
      showError(body, error);
    },
  );
  return section;
}

/**
 * What every failed request shows, in a panel or next to a button: nothing for a cancelled one,
 * the sign-in form for a 401 (a revoked or expired token), else the error in `container`.
 */
export function showError(container: Element, error: unknown): void {
  if (isAbort(error)) return;
  if (error instanceof UnauthorizedError) {
    onUnauthorized(error.message);
    return;
  }
  clear(container, errorNote(error));
}

export function errorNote(error: unknown): HTMLElement {
  const message =
    error instanceof ApiError
      ? error.status === 0
        ? error.message // no answer: there is no status to show
        : `${error.message} (${error.status} ${error.code})`
      : error instanceof Error
        ? error.message
        : String(error);
  return h('p', { class: 'error', role: 'alert' }, `Could not load this: ${message}`);
}
