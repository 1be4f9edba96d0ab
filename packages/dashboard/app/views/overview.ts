// Overview: the fleet at a glance. Tiles, active clusters per day, version adoption, deployment shape.
import type {
  ActiveAnswer,
  BreakdownAnswer,
  ClusterListAnswer,
  OverviewAnswer,
  VersionsAnswer,
} from '@tidewatch/protocol/api-answers';
import { getJson, NotFoundError } from '../api';
import { barTable, dailyChart, stackedChart } from '../charts';
import { OTHERS_COLOUR, versionColours } from '../colours';
import { clear, h } from '../dom';
import { formatCount, label, othersLabel, todayUtc } from '../format';
import { panel } from '../panel';
import { href, type Route } from '../router';
import { fleetParams, leftOutNote, pageHeading } from './common';
import { emptyState } from './empty';
import { adoptionPanel, distributionPanel, SIZES } from './shape';

const TOP_VERSIONS = 7;

function tile(id: string, value: number, name: string, hint: string): HTMLElement {
  return h(
    'div',
    { class: 'tile' },
    h('span', { class: 'tile-value', 'data-test': `tile-${id}` }, formatCount(value)),
    h('span', { class: 'tile-label' }, name),
    h('span', { class: 'tile-hint' }, hint),
  );
}

const SHAPES = [
  { by: 'version', title: 'Version', caption: 'Clusters per version (latest report in the range)' },
  { by: 'clusterType', title: 'Cluster type', caption: 'Clusters per cluster type' },
  { by: 'metaBackend', title: 'Meta backend', caption: 'Clusters per meta backend' },
  { by: 'os', title: 'Operating system', caption: 'Clusters per operating system of the meta node' },
  { by: 'objectStore', title: 'Object store', caption: 'Clusters per object store' },
  { by: 'licenseTier', title: 'License tier', caption: 'Clusters per license tier' },
] as const;

export function overviewView(route: Route): HTMLElement {
  const range = fleetParams(route);
  const overview = getJson<OverviewAnswer>('/query/overview', range);
  const active = getJson<ActiveAnswer>('/query/active', range);
  const root = h('div', { class: 'view' }, pageHeading('Overview', route));
  const content = h('div', {});
  root.append(content);

  content.append(
    panel(
      null,
      async () => {
        const o = await overview;
        return [
          h(
            'div',
            { class: 'tiles', role: 'group', 'aria-label': 'Clusters in this range' },
            tile('active', o.clusters.active, 'Active clusters', 'sent a report in the range'),
            tile('new', o.clusters.new, 'New clusters', 'first report in the range'),
            tile('silent', o.clusters.silent, 'Went silent', 'no report for 7 days'),
            tile('total', o.clusters.total, 'All clusters', `ever seen up to ${o.to}`),
          ),
          // Every statistic on this page leaves out the same clusters: said once, here.
          leftOutNote(o.excluded, route),
        ];
      },
      { optional: true, className: 'panel-tiles' },
    ),
    h(
      'div',
      { class: 'grid two' },
      panel('Active clusters per day', async () => {
        const a = await active;
        const last = a.series.at(-1);
        const before = a.series.at(-2);
        const partial = last?.day === todayUtc();
        const caption = !last
          ? ''
          : !partial
            ? `${formatCount(last.clusters)} on ${last.day}, the last day of the range.`
            : `${formatCount(last.clusters)} on ${last.day} so far (today, UTC, not over)${before ? `; ${formatCount(before.clusters)} on ${before.day}, the last complete day` : ''}.`;
        return dailyChart('Active clusters per day', a.series, caption, partial);
      }),
      panel(
        'Version adoption',
        async () => {
          const v = await getJson<VersionsAnswer>('/query/versions', range);
          if (v.versions.length === 0)
            return h('p', { class: 'muted' }, 'No versions reported in this range.');
          const shown = v.versions.slice(0, TOP_VERSIONS);
          // A version's colour comes from its name, not its rank: the same from range to range.
          const colours = versionColours(shown.map((x) => label(x.version)));
          const top = shown.map((x, i) => ({
            label: label(x.version),
            values: x.clusters,
            colour: colours[i]!,
          }));
          const rest = v.versions.slice(TOP_VERSIONS);
          if (rest.length > 0) {
            top.push({
              label: othersLabel(rest.map((x) => x.version)),
              values: v.days.map((_, i) => rest.reduce((sum, x) => sum + (x.clusters[i] ?? 0), 0)),
              colour: OTHERS_COLOUR,
            });
          }
          const partial = v.days.at(-1) === todayUtc();
          return stackedChart(
            'Active clusters per version per day',
            v.days,
            top,
            `Stacked: the height of each band is the number of active clusters on that version.${partial ? ' Today (lighter) is not over: the table is of the last complete day.' : ''}`,
            partial,
          );
        },
        { optional: true },
      ),
    ),
    h('h2', { class: 'section-title' }, 'Deployment shape'),
    h(
      'p',
      { class: 'muted', 'data-test': 'shape-note' },
      'Each cluster active in the range counts once, by its latest meta report. “unknown” counts those whose report does not say, and those with no meta report in the range: only compute, frontend or compactor nodes reported, or a database reporting through the Tidewatch agent.',
    ),
    h(
      'div',
      { class: 'grid shapes' },
      SHAPES.map((shape) =>
        panel(
          shape.title,
          async () => {
            const b = await getJson<BreakdownAnswer>('/query/breakdown', { by: shape.by, ...range });
            return barTable(shape.caption, b.rows, {
              valueHeader: shape.title,
              testId: `breakdown-${shape.by}`,
              link:
                shape.by === 'version' || shape.by === 'clusterType'
                  ? (value) => (value === null ? null : href('cluster', null, { [shape.by]: value }))
                  : undefined,
            });
          },
          { level: 'h3' },
        ),
      ),
    ),
    h('h2', { class: 'section-title' }, 'Sizes'),
    h(
      'div',
      { class: 'grid shapes' },
      SIZES.map((size) => distributionPanel(size, range)),
    ),
    adoptionPanel(range),
  );

  // A collector that never stored anything gets the first-report instructions instead. Asked of
  // the cluster list, which no range limits: a range before the first report is not an empty
  // collector, and gets zero tiles like any other range without data.
  const isEmpty = overview
    .then(
      (o) => o.clusters.total === 0,
      (error: unknown) => error instanceof NotFoundError, // a collector without this route
    )
    .then(
      async (maybe) =>
        maybe && (await getJson<ClusterListAnswer>('/query/clusters', { limit: 1 })).clusters.length === 0,
    );
  isEmpty.then(
    (empty) => {
      if (empty) clear(content, emptyState());
    },
    () => {},
  );
  active.catch(() => {});
  return root;
}
