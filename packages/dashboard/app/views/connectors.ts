// Connectors: which connectors clusters use, and the create/drop events that name a connector.
import {
  type BreakdownAnswer,
  type ConnectorsAnswer,
  type EventCountsAnswer,
  type EventsAnswer,
  getJson,
} from '../api';
import { barTable } from '../charts';
import { h, table } from '../dom';
import { formatCount } from '../format';
import { panel } from '../panel';
import type { Route } from '../router';
import { eventsTable, fleetParams, leftOutNote, pageHeading } from './common';
import { connectorUsagePanels } from './shape';

const SCAN = 1000;
const SHOWN = 50;

export function connectorsView(route: Route): HTMLElement {
  const range = fleetParams(route);
  const events = getJson<EventsAnswer>('/query/events', { ...route.range, limit: SCAN });
  events.catch(() => {});
  return h(
    'div',
    { class: 'view' },
    pageHeading('Connectors', route),
    h(
      'div',
      { class: 'grid two' },
      panel('Clusters per connector', async () => {
        // A cluster uses several connectors: each share is of the clusters with a meta report in
        // the range, not of the rows' sum.
        const [b, usage] = await Promise.all([
          getJson<BreakdownAnswer>('/query/breakdown', { by: 'connector', ...range }),
          getJson<ConnectorsAnswer>('/query/connectors', range),
        ]);
        return [
          barTable('Clusters using each connector (sources and sinks, latest report in the range)', b.rows, {
            total: usage.clusters,
            valueHeader: 'Connector',
            testId: 'breakdown-connector',
          }),
          leftOutNote(b.excluded, route),
        ];
      }),
      panel('Connector events by stage', async () => {
        // Counted by the collector over the whole range: the stages there are, then per stage the
        // events of each connector (events without a connector are the null row, left out).
        const stages = (
          await getJson<EventCountsAnswer>('/query/event-counts', {
            ...route.range,
            by: 'stage',
            limit: 1000,
          })
        ).rows.map((r) => r.value ?? 'unspecified');
        const perStage = await Promise.all(
          stages.map((stage) =>
            getJson<EventCountsAnswer>('/query/event-counts', {
              ...route.range,
              by: 'connector',
              stage,
              limit: 1000,
            }),
          ),
        );
        const counts = new Map<string, Map<string, number>>();
        perStage.forEach((answer, i) => {
          for (const r of answer.rows) {
            if (r.value === null) continue;
            const row = counts.get(r.value) ?? new Map<string, number>();
            row.set(stages[i]!, r.events);
            counts.set(r.value, row);
          }
        });
        if (counts.size === 0) return h('p', { class: 'muted' }, 'No event in this range names a connector.');
        const shown = stages.filter((s) => [...counts.values()].some((row) => row.has(s))).sort();
        const rows = [...counts].sort((a, b) => total(b[1]) - total(a[1]));
        const t = table(
          'Events per connector and stage in the range',
          ['Connector', ...shown, 'All'],
          rows.map(([connector, row]) => [
            connector,
            ...shown.map((s) => formatCount(row.get(s) ?? 0)),
            formatCount(total(row)),
          ]),
          { numeric: shown.map((_, i) => i + 1).concat(shown.length + 1) },
        );
        t.setAttribute('data-test', 'connector-stages');
        return t;
      }),
    ),
    h('div', { class: 'grid two' }, connectorUsagePanels(range)),
    panel('Latest connector events', async () => {
      const list = (await events).events.filter((e) => e.connector !== null).slice(0, SHOWN);
      if (list.length === 0) return h('p', { class: 'muted' }, 'No connector events in this range.');
      return eventsTable(`The latest ${list.length} events that name a connector, newest first`, list);
    }),
  );
}

function total(row: Map<string, number>): number {
  let sum = 0;
  for (const v of row.values()) sum += v;
  return sum;
}
