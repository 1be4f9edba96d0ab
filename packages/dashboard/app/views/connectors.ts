// Connectors: which connectors clusters use, and the create/drop events that name a connector.
import { type BreakdownAnswer, type ConnectorsAnswer, type EventsAnswer, getJson } from '../api';
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
        const list = (await events).events.filter((e) => e.connector !== null);
        if (list.length === 0) return h('p', { class: 'muted' }, 'No event in this range names a connector.');
        const stages = [...new Set(list.map((e) => e.stage ?? 'unspecified'))].sort();
        const counts = new Map<string, Map<string, number>>();
        for (const e of list) {
          const row = counts.get(e.connector!) ?? new Map<string, number>();
          row.set(e.stage ?? 'unspecified', (row.get(e.stage ?? 'unspecified') ?? 0) + 1);
          counts.set(e.connector!, row);
        }
        const rows = [...counts].sort((a, b) => total(b[1]) - total(a[1]));
        return table(
          `Events per connector and stage, from the latest ${formatCount(SCAN)} events in the range`,
          ['Connector', ...stages, 'All'],
          rows.map(([connector, row]) => [
            connector,
            ...stages.map((s) => formatCount(row.get(s) ?? 0)),
            formatCount(total(row)),
          ]),
          { numeric: stages.map((_, i) => i + 1).concat(stages.length + 1) },
        );
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
