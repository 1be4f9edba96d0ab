// Connectors: which connectors clusters use, and the create/drop events that name a connector.
import type {
  BreakdownAnswer,
  ConnectorsAnswer,
  EventCountsAnswer,
  EventsAnswer,
} from '@tidewatch/protocol/api-answers';
import { getJson } from '../api';
import { barTable } from '../charts';
import { h, table } from '../dom';
import { formatCount } from '../format';
import { panel } from '../panel';
import type { Route } from '../router';
import { eventsTable, fleetParams, leftOutNote, pageHeading } from './common';
import { connectorUsagePanels } from './shape';

const SCAN = 1000;
const SHOWN = 50;
/** Stages with a column of their own in "Connector events by stage" (RisingWave has 7). */
const STAGE_COLUMNS = 8;
/** The key of a connector's events in all stages (no stage is named so). */
const ALL = '';

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
        // Counted by the collector over the whole range: each connector's events in all, then per
        // stage for the stages with the most events. One request per stage, so only the first
        // STAGE_COLUMNS: a newer RisingWave's stage numbers (unknown_<n>) are anyone's to send.
        const count = (params: Record<string, string | number>) =>
          getJson<EventCountsAnswer>('/query/event-counts', { ...route.range, limit: 1000, ...params });
        const [byStage, all] = await Promise.all([count({ by: 'stage' }), count({ by: 'connector' })]);
        const stages = [...byStage.rows]
          .sort((a, b) => b.events - a.events)
          .map((r) => r.value ?? 'unspecified');
        const columns = stages.slice(0, STAGE_COLUMNS);
        const perStage = await Promise.all(columns.map((stage) => count({ by: 'connector', stage })));
        const counts = new Map<string, Map<string, number>>();
        for (const r of all.rows) if (r.value !== null) counts.set(r.value, new Map([[ALL, r.events]]));
        perStage.forEach((answer, i) => {
          for (const r of answer.rows) if (r.value !== null) counts.get(r.value)?.set(columns[i]!, r.events);
        });
        if (counts.size === 0) return h('p', { class: 'muted' }, 'No event in this range names a connector.');
        const shown = columns.filter((s) => [...counts.values()].some((row) => row.has(s))).sort();
        const others = (row: Map<string, number>) =>
          row.get(ALL)! - shown.reduce((sum, s) => sum + (row.get(s) ?? 0), 0);
        const rows = [...counts].sort((a, b) => b[1].get(ALL)! - a[1].get(ALL)!);
        const withOthers = stages.length > columns.length && rows.some(([, row]) => others(row) > 0);
        const t = table(
          'Events per connector and stage in the range',
          [
            'Connector',
            ...shown,
            ...(withOthers ? [`${stages.length - columns.length} other stages`] : []),
            'All',
          ],
          rows.map(([connector, row]) => [
            connector,
            ...shown.map((s) => formatCount(row.get(s) ?? 0)),
            ...(withOthers ? [formatCount(others(row))] : []),
            formatCount(row.get(ALL)!),
          ]),
          { numeric: Array.from({ length: shown.length + (withOthers ? 2 : 1) }, (_, i) => i + 1) },
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
