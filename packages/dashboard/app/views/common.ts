// Pieces several views share: the page heading and the events table.
import type { EventItem } from '../api';
import { type Child, h, table } from '../dom';
import { formatTime, label } from '../format';
import { href, type Route } from '../router';

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

export function attributesText(value: unknown): string {
  if (value === null || value === undefined) return '';
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text.length > 120 ? `${text.slice(0, 117)}…` : text;
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
        h('time', { datetime: e.receivedAt }, formatTime(e.receivedAt)),
        ...(showCluster ? [clusterLink(e.trackingId)] : []),
        h('span', { class: `stage stage-${e.stage ?? 'unknown'}` }, label(e.stage)),
        e.name,
        e.connector ?? '—',
        e.object ?? '—',
        h('span', { class: 'mono small' }, attributesText(e.attributes)),
      ]),
      { className: 'data events' },
    ),
  );
}
