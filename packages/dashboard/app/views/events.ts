// Events: RisingWave's create/drop/recovery events, filtered by stage, name and cluster, paged with
// the API's `next` cursor; and the clusters with the most recoveries (a reliability signal).
import type { EventCountsAnswer, EventsAnswer } from '@tidewatch/protocol/api-answers';
import { getJson } from '../api';
import { barTable } from '../charts';
import { h } from '../dom';
import { formatCount } from '../format';
import { panel } from '../panel';
import { go, href, hrefHere, type Route } from '../router';
import { eventsTable, fleetParams, leftOutNote, pageHeading } from './common';

export const STAGES = [
  'create_stream_job',
  'update_stream_job',
  'drop_stream_job',
  'query',
  'recovery',
  'unspecified',
];
const PAGE = 100;
/** A stage number RisingWave did not have when this was built: stored as `unknown_<n>`. */
const UNKNOWN_STAGE = /^unknown_[0-9]{1,10}$/;

export function eventsView(route: Route): HTMLElement {
  const p = route.params;
  const filters = {
    stage: p.get('stage') ?? '',
    name: p.get('name') ?? '',
    trackingId: p.get('trackingId') ?? '',
    connector: p.get('connector') ?? '',
  };
  const before = p.get('before');

  const stage = h(
    'select',
    { id: 'f-stage', name: 'stage' },
    h('option', { value: '' }, 'any stage'),
    // A stage the address names that is not in the list (`unknown_42`, from a newer RisingWave)
    // is offered too, so the select shows the filter that applies.
    (STAGES.includes(filters.stage) || !filters.stage ? STAGES : [...STAGES, filters.stage]).map((s) =>
      h('option', { value: s, selected: s === filters.stage }, s),
    ),
  );
  const name = h('input', {
    id: 'f-name',
    name: 'name',
    type: 'text',
    value: filters.name,
    placeholder: 'e.g. source',
    autocomplete: 'off',
  });
  const cluster = h('input', {
    id: 'f-cluster',
    name: 'trackingId',
    type: 'text',
    value: filters.trackingId,
    placeholder: 'a tracking id',
    autocomplete: 'off',
    spellcheck: 'false',
  });
  const connector = h('input', {
    id: 'f-connector',
    name: 'connector',
    type: 'text',
    value: filters.connector,
    placeholder: 'e.g. kafka',
    autocomplete: 'off',
  });
  const form = h(
    'form',
    {
      class: 'filters',
      role: 'search',
      'aria-label': 'Filter events',
      onsubmit: (event: Event) => {
        event.preventDefault();
        go(
          href(
            'events',
            null,
            {
              stage: stage.value,
              name: name.value.trim(),
              trackingId: cluster.value.trim(),
              connector: connector.value.trim(),
              before: null,
            },
            route,
          ),
        );
      },
    },
    h('div', { class: 'field' }, h('label', { for: 'f-stage' }, 'Stage'), stage),
    h('div', { class: 'field' }, h('label', { for: 'f-name' }, 'Name'), name),
    h('div', { class: 'field' }, h('label', { for: 'f-cluster' }, 'Cluster'), cluster),
    h('div', { class: 'field' }, h('label', { for: 'f-connector' }, 'Connector'), connector),
    h('button', { type: 'submit' }, 'Apply filters'),
    h(
      'a',
      {
        href: href(
          'events',
          null,
          { stage: null, name: null, trackingId: null, connector: null, before: null },
          route,
        ),
        class: 'button-link',
      },
      'Clear',
    ),
  );

  return h(
    'div',
    { class: 'view' },
    pageHeading('Events', route),
    form,
    panel('Events', async () => {
      // Said in words before asking: the API's 400 would quote its pattern.
      if (filters.stage && !STAGES.includes(filters.stage) && !UNKNOWN_STAGE.test(filters.stage)) {
        return h(
          'p',
          { class: 'error', role: 'alert', 'data-test': 'bad-stage' },
          `“${filters.stage}” is no event stage: choose one in the list (or unknown_<n>, a stage number a newer RisingWave sends).`,
        );
      }
      const answer = await getJson<EventsAnswer>('/query/events', {
        ...route.range,
        ...filters,
        limit: PAGE,
        before,
      });
      const count = answer.events.length;
      const summary = h(
        'p',
        { class: 'muted', 'aria-live': 'polite' },
        h('span', { 'data-test': 'events-count' }, formatCount(count)),
        count === 1 ? ' event' : ' events',
        before ? ' on this page (older than the previous page)' : ', newest first',
        answer.next ? `; more below (pages of ${PAGE}).` : '.',
      );
      const pager = h(
        'nav',
        { class: 'pager', 'aria-label': 'Event pages' },
        before ? h('a', { href: hrefHere(route, { before: null }) }, '← Newest') : null,
        answer.next ? h('a', { href: hrefHere(route, { before: answer.next }) }, 'Older events →') : null,
      );
      if (count === 0) return [summary, h('p', {}, 'No events match these filters in this range.'), pager];
      return [summary, eventsTable('Events, newest first', answer.events), pager];
    }),
    panel('Clusters with the most recoveries', async () => {
      // Counted by the collector over every recovery in the range (not the latest page of events),
      // each share of all recoveries in the range.
      // Event counts leave out internal clusters only (RisingWave events carry no CI tag).
      const counted = { ...route.range, includeInternal: fleetParams(route).includeInternal };
      const [top, all] = await Promise.all([
        getJson<EventCountsAnswer>('/query/event-counts', {
          ...counted,
          by: 'trackingId',
          stage: 'recovery',
          limit: 10,
        }),
        getJson<EventCountsAnswer>('/query/event-counts', { ...counted, by: 'stage', stage: 'recovery' }),
      ]);
      const rows = top.rows.map((r) => ({ value: r.value, clusters: r.events }));
      const leftOut = leftOutNote({ ci: 0, internal: top.excluded?.internal ?? 0 }, route);
      if (rows.length === 0) return [h('p', { class: 'muted' }, 'No recoveries in this range.'), leftOut];
      return [
        barTable('Recovery events per cluster (the ten with the most)', rows, {
          valueHeader: 'Cluster',
          countHeader: 'Recoveries',
          link: (v) => (v === null ? null : href('cluster', v)),
          total: all.rows.reduce((sum, r) => sum + r.events, 0),
          testId: 'recoveries',
        }),
        leftOut,
      ];
    }),
  );
}
