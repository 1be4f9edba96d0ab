// Deployment shape panels: size distributions (buckets and percentiles), release pickup, and
// sources and sinks by connector, format and encode.
import type {
  AdoptionAnswer,
  ConnectorsAnswer,
  ConnectorUsageRow,
  DistributionAnswer,
} from '@tidewatch/protocol/api-answers';
import { getJson, type Params } from '../api';
import { barTable } from '../charts';
import { h, table } from '../dom';
import { formatCount, formatGiB, formatShare, label } from '../format';
import { panel } from '../panel';

export const SIZES = [
  { of: 'memory', title: 'Memory', caption: 'Clusters per memory of the meta node’s machine' },
  { of: 'computeNodes', title: 'Compute nodes', caption: 'Clusters per number of compute nodes' },
  { of: 'frontendNodes', title: 'Frontend nodes', caption: 'Clusters per number of frontend nodes' },
  { of: 'compactorNodes', title: 'Compactor nodes', caption: 'Clusters per number of compactor nodes' },
  { of: 'metaNodes', title: 'Meta nodes', caption: 'Clusters per number of meta nodes' },
  { of: 'streamJobs', title: 'Stream jobs', caption: 'Clusters per number of stream jobs' },
] as const;

function bucketLabel(answer: DistributionAnswer, b: { from: number; to: number }): string {
  if (answer.unit === 'bytes') return `${formatGiB(Math.max(0, b.from - 1))} – ${formatGiB(b.to)}`;
  return b.from === b.to ? formatCount(b.from) : `${formatCount(b.from)}–${formatCount(b.to)}`;
}

export function distributionPanel(size: (typeof SIZES)[number], range: Params): HTMLElement {
  return panel(
    size.title,
    async () => {
      const d = await getJson<DistributionAnswer>('/query/distribution', { of: size.of, ...range });
      const show = (v: number | null) => (d.unit === 'bytes' ? formatGiB(v) : formatCount(v));
      return [
        barTable(
          size.caption,
          d.buckets.map((b) => ({ value: bucketLabel(d, b), clusters: b.clusters })),
          { valueHeader: size.title, testId: `distribution-${size.of}` },
        ),
        h(
          'p',
          { class: 'muted', 'data-test': `percentiles-${size.of}` },
          `p50 ${show(d.p50)} · p90 ${show(d.p90)} · p99 ${show(d.p99)} · max ${show(d.max)}`,
          d.unknown > 0
            ? ` · ${formatCount(d.unknown)} ${d.unknown === 1 ? 'cluster does' : 'clusters do'} not say`
            : '',
        ),
      ];
    },
    { level: 'h3' },
  );
}

/** Releases listed in the pickup table (newest first). */
const RELEASES_MAX = 30;

/**
 * The releases the table lists: the RELEASES_MAX most run (by peak share in the range, then share
 * now), in the API's order (newest first), so that thousands of nightly builds at 0% cannot push
 * the releases most clusters run out of the table.
 */
function mostRun<T extends { peakShare: number; latestShare: number }>(releases: T[]): T[] {
  if (releases.length <= RELEASES_MAX) return releases;
  const kept = new Set(
    [...releases]
      .sort((a, b) => b.peakShare - a.peakShare || b.latestShare - a.latestShare)
      .slice(0, RELEASES_MAX),
  );
  return releases.filter((r) => kept.has(r));
}

export function adoptionPanel(range: Params): HTMLElement {
  return panel(
    'Release pickup',
    async () => {
      const a = await getJson<AdoptionAnswer>('/query/adoption', range);
      if (a.releases.length === 0) return h('p', { class: 'muted' }, 'No versions reported in this range.');
      const shares = Object.keys(a.releases[0]!.daysTo);
      const days = (v: number | null) => (v === null ? 'not yet' : `${v} d`);
      const releases = mostRun(a.releases);
      const more = a.releases.filter((r) => !releases.includes(r));
      const t = table(
        `Days from the first day a release ran on an active cluster until it ran on a share of them (newest releases first${more.length ? `, the ${RELEASES_MAX} most run` : ''}; “≤” marks releases already running on the first day with data in the range: they came out earlier)`,
        ['Version', 'First day', ...shares.map((s) => `${s}%`), 'Peak share', 'Share now'],
        releases.map((r) => [
          r.version,
          r.beforeRange ? `≤ ${r.firstDay}` : r.firstDay,
          ...shares.map((s) => days(r.daysTo[s] ?? null)),
          formatShare(r.peakShare),
          h('span', { 'data-value': r.latestShare }, formatShare(r.latestShare)),
        ]),
        { numeric: [2, 3, 4, 5, 6] },
      );
      t.setAttribute('data-test', 'adoption');
      return [
        h('div', { class: 'table-scroll' }, t),
        more.length > 0
          ? h(
              'p',
              { class: 'muted', 'data-test': 'adoption-more' },
              `${formatCount(more.length)} more ${more.length === 1 ? 'release' : 'releases'}, each at most ${formatShare(Math.max(...more.map((r) => r.peakShare)))} of active clusters at its peak.`,
            )
          : null,
      ];
    },
    { optional: true },
  );
}

function usageTable(caption: string, rows: ConnectorUsageRow[], testId: string): HTMLElement {
  if (rows.length === 0) return h('p', { class: 'muted' }, `${caption}: none in this range.`);
  const t = table(
    caption,
    ['Connector', 'Format', 'Encode', 'Clusters', 'How many'],
    rows.map((r) => [
      label(r.connector),
      label(r.format),
      label(r.encode),
      h('span', { 'data-value': r.clusters }, formatCount(r.clusters)),
      formatCount(r.count),
    ]),
    { numeric: [3, 4] },
  );
  t.setAttribute('data-test', testId);
  return t;
}

export function connectorUsagePanels(range: Params): HTMLElement[] {
  const usage = getJson<ConnectorsAnswer>('/query/connectors', range);
  usage.catch(() => {});
  return [
    panel('Sources by format and encode', async () =>
      usageTable(
        'Sources per connector, format and encode (each cluster’s latest report in the range)',
        (await usage).sources,
        'connector-sources',
      ),
    ),
    panel('Sinks by format and encode', async () =>
      usageTable(
        'Sinks per connector, format and encode (each cluster’s latest report in the range)',
        (await usage).sinks,
        'connector-sinks',
      ),
    ),
  ];
}
