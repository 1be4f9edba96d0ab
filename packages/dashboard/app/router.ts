// Hash routes: `#/view[/arg][?from=&to=&...]`. The date range rides along in every link, so a view
// can be bookmarked or shared (without the token, which lives in sessionStorage only).
import { lastDays } from './format';

export const VIEWS = ['overview', 'connectors', 'events', 'metrics', 'cluster'] as const;
export type ViewName = (typeof VIEWS)[number];

export interface Route {
  view: ViewName;
  arg: string | null;
  params: URLSearchParams;
  range: { from: string; to: string };
}

export const DEFAULT_DAYS = 30;
const DAY = /^\d{4}-\d{2}-\d{2}$/;

export function parseRoute(hash = window.location.hash): Route {
  const text = hash.replace(/^#\/?/, '');
  const [path = '', query = ''] = text.split('?', 2) as [string?, string?];
  const [name = '', ...rest] = path.split('/');
  const view = (VIEWS as readonly string[]).includes(name) ? (name as ViewName) : 'overview';
  const argText = rest.join('/');
  let arg: string | null = null;
  if (argText) {
    try {
      arg = decodeURIComponent(argText);
    } catch {
      arg = argText;
    }
  }
  const params = new URLSearchParams(query);
  const from = params.get('from');
  const to = params.get('to');
  const range = from && to && DAY.test(from) && DAY.test(to) ? { from, to } : lastDays(DEFAULT_DAYS);
  return { view, arg, params, range };
}

/** A link to a view that keeps the current range; `extra` adds or (with null) removes parameters. */
export function href(
  view: ViewName,
  arg: string | null = null,
  extra: Record<string, string | null> = {},
  current: Route = parseRoute(),
): string {
  const params = new URLSearchParams();
  const { from, to } = current.range;
  const defaults = lastDays(DEFAULT_DAYS);
  if (from !== defaults.from || to !== defaults.to) {
    params.set('from', from);
    params.set('to', to);
  }
  for (const [key, value] of Object.entries(extra)) {
    if (value === null || value === '') params.delete(key);
    else params.set(key, value);
  }
  const query = params.toString();
  return `#/${view}${arg === null ? '' : `/${encodeURIComponent(arg)}`}${query ? `?${query}` : ''}`;
}

export function go(target: string): void {
  if (window.location.hash === target) window.dispatchEvent(new HashChangeEvent('hashchange'));
  else window.location.hash = target;
}
