// Hash routes: `#/view[/arg][?from=&to=&...]`. The date range rides along in every link, so a view
// can be bookmarked or shared (without the token, which lives in sessionStorage only).
import { FIRST_DAY, isDay, LAST_DAY, lastDays, MAX_DAYS, shiftDay } from './format';

export const VIEWS = ['overview', 'connectors', 'events', 'metrics', 'cluster'] as const;
export type ViewName = (typeof VIEWS)[number];

export interface Route {
  view: ViewName;
  arg: string | null;
  params: URLSearchParams;
  range: { from: string; to: string };
  /** A view name the address asked for that does not exist (the overview is shown instead). */
  unknown: string | null;
}

export const DEFAULT_DAYS = 30;

/** A day moved into the days the API answers for. */
function storable(day: string): string {
  return day < FIRST_DAY ? FIRST_DAY : day > LAST_DAY ? LAST_DAY : day;
}

/**
 * The range a URL asks for, made one the API answers, so that a hand-edited or old link shows data
 * instead of an error in every panel: impossible days give the default range, an inverted range is
 * turned around, days before 1970 or after 2105 are moved into those years, and one over MAX_DAYS
 * keeps its last MAX_DAYS days (the heading shows the range used).
 */
export function usableRange(from: string | null, to: string | null): { from: string; to: string } {
  if (!isDay(from) || !isDay(to)) return lastDays(DEFAULT_DAYS);
  const [first, last] = [from, to].map(storable).sort() as [string, string];
  const earliest = shiftDay(last, -(MAX_DAYS - 1));
  // biome-ignore lint/complexity/useMathMinMax: days are strings, compared as text (Math.max would give NaN)
  return { from: first < earliest ? earliest : first, to: last };
}

export function parseRoute(hash = window.location.hash): Route {
  const text = hash.replace(/^#\/?/, '');
  const [path = '', query = ''] = text.split('?', 2) as [string?, string?];
  const [name = '', ...rest] = path.split('/');
  const known = (VIEWS as readonly string[]).includes(name);
  const view = known ? (name as ViewName) : 'overview';
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
  const range = usableRange(params.get('from'), params.get('to'));
  return { view, arg, params, range, unknown: known || name === '' ? null : name };
}

/** A link to a view that keeps the current range; `extra` adds or (with null) removes parameters. */
export function href(
  view: ViewName,
  arg: string | null = null,
  extra: Record<string, string | null> = {},
  current: Route = parseRoute(),
  keep: URLSearchParams = new URLSearchParams(),
): string {
  const params = new URLSearchParams(keep);
  params.delete('from');
  params.delete('to');
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

/** The same view with every parameter of the route kept (its filters), changed by `extra`: pagers. */
export function hrefHere(route: Route, extra: Record<string, string | null>): string {
  return href(route.view, route.arg, extra, route, route.params);
}

export function go(target: string): void {
  if (window.location.hash === target) window.dispatchEvent(new HashChangeEvent('hashchange'));
  else window.location.hash = target;
}
