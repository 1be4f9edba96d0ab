// The Tidewatch dashboard: sign-in, the frame (navigation and date range), and the views.
import './style.css';
import type { ActiveAnswer } from '@tidewatch/protocol/api-answers';
import { cancelPending, getJson, UnauthorizedError, UnsendableTokenError } from './api';
import { clearToken, getToken, setToken, takeTokenFromFragment } from './auth';
import { destroyCharts } from './charts';
import { clear, h } from './dom';
import { lastDays, typedRange } from './format';
import { setUnauthorizedHandler } from './panel';
import { go, href, parseRoute, type Route, type ViewName } from './router';
import { clusterView } from './views/cluster';
import { countedParams } from './views/common';
import { connectorsView } from './views/connectors';
import { eventsView } from './views/events';
import { metricsView } from './views/metrics';
import { overviewView } from './views/overview';

const app = document.getElementById('app')!;

const NAV: { view: ViewName; name: string }[] = [
  { view: 'overview', name: 'Overview' },
  { view: 'connectors', name: 'Connectors' },
  { view: 'events', name: 'Events' },
  { view: 'metrics', name: 'Metrics' },
  { view: 'cluster', name: 'Clusters' },
];
const PRESETS = [7, 30, 90];

const RENDER: Record<ViewName, (route: Route) => HTMLElement> = {
  overview: overviewView,
  connectors: connectorsView,
  events: eventsView,
  metrics: metricsView,
  cluster: clusterView,
};

let frame: { main: HTMLElement; nav: HTMLElement; rangeForm: HTMLElement } | null = null;
let firstRender = true;

function signIn(message: string | null): void {
  cancelPending();
  destroyCharts();
  frame = null;
  const input = h('input', {
    id: 'token',
    name: 'token',
    type: 'password',
    required: true,
    autocomplete: 'off',
    spellcheck: 'false',
    'aria-describedby': 'token-help',
  });
  const status = h('p', { class: 'error', role: 'alert', 'data-test': 'signin-message' }, message ?? '');
  if (!message) status.hidden = true;
  const form = h(
    'form',
    {
      class: 'signin',
      'aria-labelledby': 'signin-title',
      onsubmit: async (event: Event) => {
        event.preventDefault();
        const token = input.value.trim();
        if (!token) return;
        setToken(token);
        try {
          await getJson<ActiveAnswer>('/query/active', lastDays(1));
        } catch (error) {
          clearToken();
          status.hidden = false;
          status.textContent =
            error instanceof UnauthorizedError
              ? `That token was not accepted: ${error instanceof UnsendableTokenError ? error.message : 'it is unknown, revoked or expired'}.`
              : `Could not reach the collector: ${(error as Error).message}`;
          input.focus();
          return;
        }
        render();
      },
    },
    h('h1', { id: 'signin-title' }, 'Sign in to Tidewatch'),
    status,
    h('label', { for: 'token' }, 'Access token'),
    input,
    h(
      'p',
      { id: 'token-help', class: 'muted' },
      'The collector prints a dashboard address with an admin token when it first starts (',
      h('code', {}, '…/#token=…'),
      '). Mint a read-only one on the collector’s machine with ',
      h('code', {}, 'npx tidewatch token create --role read'),
      ' (or ask whoever runs it). The token is kept for this browser tab only (session storage): a new tab or window asks for it again, and closing the tab forgets it.',
    ),
    h('button', { type: 'submit' }, 'Sign in'),
  );
  clear(app, h('main', { id: 'main', class: 'signin-page' }, form));
  document.title = 'Sign in · Tidewatch';
  input.focus();
}

function signOut(): void {
  clearToken();
  history.replaceState(null, '', `${window.location.pathname}${window.location.search}`);
  signIn(null);
}

function buildFrame(): NonNullable<typeof frame> {
  const nav = h('nav', { class: 'nav', 'aria-label': 'Views' });
  const rangeForm = h('div', { class: 'range' });
  const main = h('main', { id: 'main', tabindex: '-1' });
  clear(
    app,
    h(
      'header',
      { class: 'top' },
      h(
        'a',
        { class: 'brand', href: '#/overview' },
        h('span', { class: 'logo', 'aria-hidden': 'true' }, '≈'),
        'Tidewatch',
      ),
      nav,
      // One group, so that on a narrow window the range and Sign out wrap together, at the right.
      h(
        'div',
        { class: 'tools' },
        rangeForm,
        h('button', { type: 'button', class: 'secondary signout', onclick: signOut }, 'Sign out'),
      ),
    ),
    main,
    h(
      'footer',
      { class: 'foot' },
      'Times and days are UTC. ',
      h('a', { href: '/docs' }, 'API reference'),
      ' · ',
      h('a', { href: '/metrics' }, 'Collector metrics'),
    ),
  );
  return { main, nav, rangeForm };
}

function renderNav(nav: HTMLElement, route: Route): void {
  clear(
    nav,
    h(
      'ul',
      {},
      NAV.map((item) =>
        h(
          'li',
          {},
          h(
            'a',
            {
              href: href(item.view, null, {}, route, countedParams(route)),
              'aria-current': item.view === route.view ? 'page' : null,
            },
            item.name,
          ),
        ),
      ),
    ),
  );
}

/**
 * A day field of the range. Text, not `<input type="date">`: that one shows the day in the browser's
 * locale (11/29/2026, 29.11.2026), while the range is in UTC days and every other part of the
 * dashboard and the API writes them YYYY-MM-DD.
 */
function dayField(id: string, value: string): HTMLInputElement {
  return h('input', {
    id,
    type: 'text',
    value,
    required: true,
    pattern: '\\d{4}-\\d{2}-\\d{2}',
    placeholder: 'YYYY-MM-DD',
    size: 10,
    autocomplete: 'off',
    spellcheck: 'false',
    'aria-describedby': 'range-help',
  });
}

function renderRange(container: HTMLElement, route: Route): void {
  const from = dayField('range-from', route.range.from);
  const to = dayField('range-to', route.range.to);
  // Put in the form only when there is a problem: a page without one has no alert in it.
  const problem = h('p', { id: 'range-problem', class: 'range-problem', role: 'alert' });
  const days = Math.round((Date.parse(route.range.to) - Date.parse(route.range.from)) / 86_400_000) + 1;
  const isToday = route.range.to === lastDays(1).to;
  const apply = (range: { from: string; to: string }) => {
    const params = new URLSearchParams(route.params);
    params.delete('before');
    params.set('from', range.from);
    params.set('to', range.to);
    const arg = route.arg === null ? '' : `/${encodeURIComponent(route.arg)}`;
    go(`#/${route.view}${arg}?${params.toString()}`);
  };
  const form = h(
    'form',
    {
      class: 'range-form',
      'aria-label': 'Date range',
      // The check below says what is wrong in words; the browser's own bubble would not.
      novalidate: true,
      onsubmit: (event: Event) => {
        event.preventDefault();
        const typed = typedRange(from.value, to.value);
        for (const input of [from, to]) input.removeAttribute('aria-invalid');
        if ('problem' in typed) {
          // Nothing is asked of the API with a bad day: the field says so and keeps the text.
          const field = typed.field === 'from' ? from : to;
          field.setAttribute('aria-invalid', 'true');
          field.setAttribute('aria-errormessage', 'range-problem');
          problem.textContent = typed.problem;
          form.append(problem);
          field.focus();
          return;
        }
        apply(typed.range);
      },
    },
    h('div', { class: 'field' }, h('label', { for: 'range-from' }, 'From'), from),
    h('div', { class: 'field' }, h('label', { for: 'range-to' }, 'To'), to),
    h('span', { id: 'range-help', class: 'range-help', title: 'Days are UTC, written YYYY-MM-DD' }, 'UTC'),
    h('button', { type: 'submit', class: 'secondary' }, 'Apply'),
    h(
      'div',
      { class: 'presets', role: 'group', 'aria-label': 'Range presets' },
      PRESETS.map((n) =>
        h(
          'button',
          {
            type: 'button',
            class: 'preset',
            'aria-pressed': String(isToday && days === n),
            onclick: () => apply(lastDays(n)),
          },
          `${n} days`,
        ),
      ),
    ),
  );
  clear(container, form);
}

function render(): void {
  const token = getToken();
  if (!token) {
    signIn(null);
    return;
  }
  cancelPending();
  destroyCharts();
  let route = parseRoute();
  // A mistyped or old address (`#/clusters`): the address bar is made the overview's, which is
  // what shows, and a line says why (it showed the overview under the unknown address).
  const unknown = route.unknown;
  if (unknown !== null) {
    history.replaceState(null, '', href('overview', null, {}, route));
    route = parseRoute();
  }
  frame ??= buildFrame();
  renderNav(frame.nav, route);
  renderRange(frame.rangeForm, route);
  const title = NAV.find((n) => n.view === route.view)?.name ?? 'Overview';
  document.title = `${route.view === 'cluster' && route.arg ? route.arg : title} · Tidewatch`;
  clear(frame.main, RENDER[route.view](route));
  if (unknown !== null) {
    frame.main.prepend(
      h('p', { class: 'note', role: 'status' }, `There is no page “${unknown}”: this is the overview.`),
    );
  }
  if (!firstRender) frame.main.querySelector<HTMLElement>('h1')?.focus();
  firstRender = false;
}

setUnauthorizedHandler((message) => {
  // Several panels fail at once with the same 401: the first one signs out, the rest are moot.
  if (!getToken()) return;
  clearToken();
  signIn(`Signed out: ${message}. Paste a valid token to continue.`);
});

takeTokenFromFragment();
// "Skip to content" moves the focus to the view; as a plain #main link it changed the address and
// so the route (back to the overview, the filters lost).
document.querySelector('a.skip')?.addEventListener('click', (event) => {
  event.preventDefault();
  document.getElementById('main')?.focus();
});
window.addEventListener('hashchange', () => {
  const hash = window.location.hash;
  if (hash.startsWith('#token=')) takeTokenFromFragment();
  // A fragment that is not a route (an in-page anchor) leaves the view as it is.
  else if (hash !== '' && hash !== '#' && !hash.startsWith('#/')) return;
  render();
});
render();
