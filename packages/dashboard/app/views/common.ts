// Pieces several views share: the page heading, the events table and the agent events panel.
import type { AgentEventsAnswer, EventItem, Excluded } from '@tidewatch/protocol/api-answers';
import { getJson } from '../api';
import { type Child, cutText, h, table } from '../dom';
import { formatCount, formatTime } from '../format';
import { panel } from '../panel';
import { href, hrefHere, type Route } from '../router';

const LEFT_OUT = [
  { key: 'ci', param: 'includeCi', one: 'runs under CI', many: 'run under CI', toggle: 'CI runs' },
  {
    key: 'internal',
    param: 'includeInternal',
    one: 'tagged internal',
    many: 'tagged internal',
    toggle: 'internal clusters',
  },
] as const;

/**
 * What statistics routes are asked: the range, and whether to count CI runs and internal clusters
 * (left out by default). The page's `includeCi=1` / `includeInternal=1` toggle them.
 */
export function fleetParams(route: Route): Record<string, string | null> {
  const params: Record<string, string | null> = { ...route.range };
  for (const r of LEFT_OUT) params[r.param] = route.params.get(r.param) === '1' ? 'true' : null;
  return params;
}

/**
 * The parameters that say what statistics count: they ride along from view to view like the range
 * (a view's own filters do not).
 */
export function countedParams(route: Route): URLSearchParams {
  const kept = new URLSearchParams();
  for (const r of LEFT_OUT) if (route.params.get(r.param) === '1') kept.set(r.param, '1');
  return kept;
}

/**
 * What an answer left out, said where its numbers are (else a metric only CI runs send reads as
 * "no agent reported it"), with a link that counts them; once counted, a link that leaves them out.
 */
export function leftOutNote(excluded: Excluded | undefined, route: Route): HTMLElement | null {
  const notes: Child[][] = [];
  for (const r of LEFT_OUT) {
    const n = excluded?.[r.key] ?? 0;
    if (route.params.get(r.param) === '1') {
      notes.push([
        `Counting ${r.toggle} · `,
        h('a', { href: hrefHere(route, { [r.param]: null }) }, `leave them out`),
      ]);
    } else if (n > 0) {
      const what = n === 1 ? `cluster left out: ${r.one}` : `clusters left out: ${r.many}`;
      notes.push([
        `${formatCount(n)} ${what} · `,
        h('a', { href: hrefHere(route, { [r.param]: '1' }) }, `include ${r.toggle}`),
      ]);
    }
  }
  if (notes.length === 0) return null;
  return h(
    'p',
    { class: 'muted', 'data-test': 'left-out' },
    notes.map((note, i) => [i > 0 ? '; ' : '', note]),
  );
}

export function pageHeading(title: string, route: Route, extra?: Child): HTMLElement {
  return h(
    'header',
    { class: 'page-heading' },
    h('h1', { tabindex: '-1' }, title),
    h(
      'p',
      { class: 'muted' },
      `UTC days ${route.range.from} to ${route.range.to}`,
      extra ? ' · ' : null,
      extra,
    ),
  );
}

export function clusterLink(trackingId: string): HTMLAnchorElement {
  return h('a', { href: href('cluster', trackingId), class: 'mono' }, trackingId);
}

/** Attributes are cut shorter than other cells: their column shares a row with six others. */
const ATTRIBUTES_TEXT_MAX = 120;

/** Event attributes or fields as compact JSON, cut short in the cell and whole in its tooltip. */
export function attributesCell(value: unknown): HTMLElement {
  const text =
    value === null || value === undefined ? '' : typeof value === 'string' ? value : JSON.stringify(value);
  return cutText('span', text, ATTRIBUTES_TEXT_MAX, { class: 'mono small' });
}

export function eventsTable(
  caption: string,
  events: EventItem[],
  options: { cluster?: boolean } = {},
): HTMLElement {
  const showCluster = options.cluster ?? true;
  const headers = [
    'Received',
    ...(showCluster ? ['Cluster'] : []),
    'Stage',
    'Name',
    'Node',
    'Connector',
    'Object',
    'Attributes',
  ];
  return h(
    'div',
    { class: 'table-scroll' },
    table(
      caption,
      headers,
      events.map((e) => [
        // The cluster's own clock, informational (the collector's receive time is what counts).
        h(
          'time',
          { datetime: e.receivedAt, title: `cluster clock: ${e.eventTime}` },
          formatTime(e.receivedAt),
        ),
        ...(showCluster ? [clusterLink(e.trackingId)] : []),
        // UNSPECIFIED is RisingWave's stage for license checks and connections, not a gap in the
        // data: named as the Stage filter names it.
        h('span', { class: `stage stage-${e.stage ?? 'unspecified'}` }, e.stage ?? 'unspecified'),
        e.name,
        // Which part of RisingWave sent it: `paywall` tells a license check from other events.
        e.node || '—',
        e.connector ?? '—',
        e.object ?? '—',
        attributesCell(e.attributes),
      ]),
      { className: 'data events' },
    ),
  );
}

const AGENT_EVENTS_SHOWN = 50;

/** The events agents sent in the range, newest first, of one name and/or one cluster. */
export function agentEventsPanel(route: Route, filter: { name?: string; trackingId?: string }): HTMLElement {
  const showCluster = filter.trackingId === undefined;
  return panel(filter.name ? `Agent events: ${filter.name}` : 'Agent events', async () => {
    const answer = await getJson<AgentEventsAnswer>('/query/agent-events', {
      ...route.range,
      name: filter.name || null,
      trackingId: filter.trackingId,
      limit: AGENT_EVENTS_SHOWN,
    });
    if (answer.events.length === 0) {
      return h(
        'p',
        { class: 'muted', 'data-test': 'agent-events-empty' },
        showCluster
          ? 'No agent events in this range. The PGlite and pg integrations send db.ddl when a table, view or index is created or dropped; agent.event(name, fields) sends your own.'
          : 'No agent events from this cluster in this range.',
      );
    }
    return [
      h(
        'div',
        { class: 'table-scroll' },
        table(
          `Agent events, newest first${answer.next ? ` (the latest ${AGENT_EVENTS_SHOWN})` : ''}`,
          ['Received', ...(showCluster ? ['Cluster'] : []), 'Name', 'Fields'],
          answer.events.map((e) => [
            h('time', { datetime: e.receivedAt }, formatTime(e.receivedAt)),
            ...(showCluster ? [clusterLink(e.trackingId)] : []),
            e.name,
            attributesCell(e.fields),
          ]),
          { className: 'data agent-events' },
        ),
      ),
      answer.next
        ? h('p', { class: 'muted' }, 'More in the API: GET /query/agent-events with before=<next>.')
        : null,
    ];
  });
}
