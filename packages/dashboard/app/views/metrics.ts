// Metrics: one agent metric across the fleet, grouped by version (or cluster type, node type,
// cluster, or one label such as sqlstate_class). Histograms show p50/p90/p99 from the merged
// histograms: which release made p99 worse? Below, the events agents sent (e.g. db.ddl).
import type { MetricAnswer, MetricNamesAnswer, MetricRow } from '@tidewatch/protocol/api-answers';
import { getJson } from '../api';
import { groupedBars } from '../charts';
import { type Child, h, table } from '../dom';
import { formatCount, groupLabel, unitFormat } from '../format';
import { panel } from '../panel';
import { go, href, type Route } from '../router';
import { agentEventsPanel, fleetParams, leftOutNote, pageHeading } from './common';

const GROUPINGS = [
  { by: 'version', name: 'version' },
  { by: 'clusterType', name: 'cluster type' },
  { by: 'nodeType', name: 'node type' },
  { by: 'trackingId', name: 'cluster' },
  { by: 'label', name: 'a label…' },
] as const;

const LAST_METRIC = 'tidewatch.metric';

/** Groups shown (a metric by cluster may have thousands): the top ones by the ranked value. */
const GROUPS_MAX = 30;
const QUANTILES = ['p99', 'p90', 'p50'] as const;

/** The value groups are ranked by: the chosen quantile of a histogram, a gauge's latest, a counter's total. */
function rankValue(kind: MetricAnswer['kind'], quantile: (typeof QUANTILES)[number]) {
  return (r: MetricRow): number | null =>
    (kind === 'histogram' ? r[quantile] : kind === 'gauge' ? r.last : r.total) ?? null;
}

/** The GROUPS_MAX groups with the highest value, highest first (no value last). */
function topGroups(rows: MetricRow[], value: (r: MetricRow) => number | null): MetricRow[] {
  const key = (r: MetricRow) => value(r) ?? Number.NEGATIVE_INFINITY;
  return [...rows].sort((a, b) => key(b) - key(a)).slice(0, GROUPS_MAX);
}

function num(value: number | null | undefined, format: (v: number | null) => string): HTMLElement {
  return h('span', { 'data-value': value ?? '' }, format(value ?? null));
}

function rowsTable(answer: MetricAnswer, byName: string, fmt: (v: number | null) => string): HTMLElement {
  const caption = `${answer.name} by ${byName}, ${answer.from} to ${answer.to}`;
  const group = (r: MetricRow): Child => groupLabel(r.value);
  if (answer.kind === 'histogram') {
    // Quantiles of merged histograms are approximate: say how far from exact they may be.
    const error = Math.max(0, ...answer.rows.map((r) => r.relativeError ?? 0));
    return table(
      error > 0
        ? `${caption}; p50, p90 and p99 within ±${Number((error * 100).toPrecision(2))}% of the exact values`
        : caption,
      [byName, 'Clusters', 'Samples', 'p50', 'p90', 'p99'],
      answer.rows.map((r) => [
        group(r),
        formatCount(r.clusters),
        formatCount(r.count),
        num(r.p50, fmt),
        num(r.p90, fmt),
        num(r.p99, fmt),
      ]),
      { numeric: [1, 2, 3, 4, 5], className: 'data metrics' },
    );
  }
  if (answer.kind === 'gauge') {
    return table(
      caption,
      [byName, 'Clusters', 'Latest (sum)', 'Min', 'Max', 'Avg'],
      answer.rows.map((r) => [
        group(r),
        formatCount(r.clusters),
        num(r.last, fmt),
        num(r.min, fmt),
        num(r.max, fmt),
        num(r.avg, fmt),
      ]),
      { numeric: [1, 2, 3, 4, 5], className: 'data metrics' },
    );
  }
  return table(
    caption,
    [byName, 'Clusters', 'Total'],
    answer.rows.map((r) => [group(r), formatCount(r.clusters), num(r.total, fmt)]),
    { numeric: [1, 2], className: 'data metrics' },
  );
}

export function metricsView(route: Route): HTMLElement {
  const name = route.params.get('name') ?? localStorage.getItem(LAST_METRIC) ?? '';
  const byParam = route.params.get('by') ?? '';
  const labelKey = byParam.startsWith('label:') ? byParam.slice('label:'.length) : '';
  const grouping = labelKey
    ? GROUPINGS.find((g) => g.by === 'label')!
    : (GROUPINGS.find((g) => g.by === byParam) ?? GROUPINGS[0]);
  // What the API is asked for, and what headings call it.
  const by = labelKey
    ? { by: `label:${labelKey}`, name: labelKey }
    : { by: grouping.by as string, name: grouping.name as string };
  const eventName = route.params.get('event') ?? '';
  const quantile = QUANTILES.find((q) => q === route.params.get('rank')) ?? 'p99';

  const nameInput = h('input', {
    id: 'm-name',
    name: 'name',
    type: 'text',
    value: name,
    required: true,
    placeholder: 'e.g. db.query.duration',
    autocomplete: 'off',
    spellcheck: 'false',
    list: 'm-names',
  });
  // The picker: every metric name agents have sent, as suggestions for the text field.
  const names = h('datalist', { id: 'm-names', 'data-test': 'metric-names' });
  const known = getJson<MetricNamesAnswer>('/query/metrics');
  known.then(
    (answer) => {
      for (const m of answer.metrics) {
        names.append(
          h('option', { value: m.name }, `${m.name} (${m.kind}, ${m.unit}, ${m.clusters} clusters)`),
        );
      }
    },
    () => {}, // suggestions only: typing a name still works
  );
  const bySelect = h(
    'select',
    { id: 'm-by', name: 'by' },
    GROUPINGS.map((g) => h('option', { value: g.by, selected: g.by === grouping.by }, g.name)),
  );
  const rankSelect = h(
    'select',
    { id: 'm-rank', name: 'rank' },
    QUANTILES.map((q) => h('option', { value: q, selected: q === quantile }, q)),
  );
  const labelInput = h('input', {
    id: 'm-label',
    name: 'label',
    type: 'text',
    value: labelKey,
    placeholder: 'e.g. sqlstate_class',
    autocomplete: 'off',
    spellcheck: 'false',
    'aria-describedby': 'm-label-help',
  });
  const eventInput = h('input', {
    id: 'm-event',
    name: 'event',
    type: 'text',
    value: eventName,
    placeholder: 'e.g. db.ddl',
    autocomplete: 'off',
    spellcheck: 'false',
  });
  const form = h(
    'form',
    {
      class: 'filters',
      'aria-label': 'Choose a metric',
      onsubmit: (event: Event) => {
        event.preventDefault();
        const value = nameInput.value.trim();
        if (value) localStorage.setItem(LAST_METRIC, value);
        const key = labelInput.value.trim();
        const chosen = bySelect.value === 'label' ? (key ? `label:${key}` : 'version') : bySelect.value;
        const rank = rankSelect.value === 'p99' ? null : rankSelect.value;
        go(href('metrics', null, { name: value, by: chosen, rank, event: eventInput.value.trim() }, route));
      },
    },
    h('div', { class: 'field wide' }, h('label', { for: 'm-name' }, 'Metric name'), nameInput, names),
    h('div', { class: 'field' }, h('label', { for: 'm-by' }, 'Group by'), bySelect),
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'm-label' }, 'Label key'),
      labelInput,
      h('small', { id: 'm-label-help', class: 'muted' }, 'with “a label…”'),
    ),
    h('div', { class: 'field' }, h('label', { for: 'm-rank' }, 'Rank histograms by'), rankSelect),
    h('div', { class: 'field' }, h('label', { for: 'm-event' }, 'Agent event name'), eventInput),
    h('button', { type: 'submit' }, 'Show'),
  );

  const view = h('div', { class: 'view' }, pageHeading('Metrics', route), form);
  if (!name) {
    view.append(
      h(
        'p',
        { class: 'note' },
        'Enter the name of a metric that Tidewatch agents report (a histogram of durations in seconds, such as a query latency, shows p50, p90 and p99 per group; db.query.errors grouped by the label sqlstate_class shows errors by SQLSTATE class).',
      ),
      agentEventsPanel(route, { name: eventName }),
    );
    return view;
  }
  view.append(
    panel(`${name} by ${by.name}`, async () => {
      const [answer, unit] = await Promise.all([
        getJson<MetricAnswer>(`/query/metrics/${encodeURIComponent(name)}`, {
          ...fleetParams(route),
          by: by.by,
        }),
        // The unit the agents reported with the name (the metric answer itself has none).
        known.then(
          (list) => list.metrics.find((m) => m.name === name)?.unit ?? null,
          () => null,
        ),
      ]);
      const leftOut = leftOutNote(answer.excluded, route);
      if (answer.kind === null || answer.rows.length === 0) {
        return [
          h(
            'p',
            { class: 'muted', 'data-test': 'metric-empty' },
            `No agent reported “${name}” in this range.`,
          ),
          leftOut,
        ];
      }
      const fmt = unitFormat(unit);
      const ranked = answer.kind === 'histogram' ? quantile : answer.kind === 'gauge' ? 'latest' : 'total';
      const rows = topGroups(answer.rows, rankValue(answer.kind, quantile));
      const hidden = answer.rows.length - rows.length;
      const shownAnswer = { ...answer, rows };
      const kindNote = h(
        'p',
        { class: 'muted' },
        answer.kind === 'histogram'
          ? 'Quantiles of the merged histograms of every cluster in the group (not averages of percentiles).'
          : answer.kind === 'gauge'
            ? 'Latest is the sum over clusters of each one’s latest value.'
            : 'Total over the range.',
      );
      const chart =
        answer.kind === 'histogram'
          ? groupedBars(
              `${name}: p50, p90 and p99 by ${by.name}`,
              rows.map((r) => ({
                label: groupLabel(r.value),
                values: [r.p50 ?? null, r.p90 ?? null, r.p99 ?? null],
              })),
              ['p50', 'p90', 'p99'],
              fmt,
            )
          : answer.kind === 'gauge'
            ? groupedBars(
                `${name}: latest by ${by.name}`,
                rows.map((r) => ({ label: groupLabel(r.value), values: [r.last ?? null] })),
                ['latest (sum)'],
                fmt,
              )
            : groupedBars(
                `${name}: total by ${by.name}`,
                rows.map((r) => ({ label: groupLabel(r.value), values: [r.total ?? null] })),
                ['total'],
                fmt,
              );
      return [
        kindNote,
        leftOut,
        h(
          'p',
          { class: 'muted', 'data-test': 'metric-groups' },
          `Groups by ${ranked}, highest first`,
          hidden > 0 ? `: the top ${GROUPS_MAX}; ${formatCount(hidden)} more not shown.` : '.',
        ),
        h(
          'div',
          { class: 'grid two' },
          h('div', { class: 'table-scroll' }, rowsTable(shownAnswer, by.name, fmt)),
          chart,
        ),
      ];
    }),
    agentEventsPanel(route, { name: eventName }),
  );
  return view;
}
