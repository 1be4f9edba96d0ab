// Clusters: search by tracking id, the list (filterable, exportable as CSV or NDJSON), and one
// cluster's page: its facts now, its history and sessions, its report counts and its events.
import type {
  ClusterAnswer,
  ClusterListAnswer,
  EventsAnswer,
  HistoryAnswer,
  NodeCounts,
} from '@tidewatch/protocol/api-answers';
import { ApiError, getJson, getText, NotFoundError } from '../api';
import { type Child, h, table } from '../dom';
import { formatCount, formatGiB, formatTime, label } from '../format';
import { panel, showError } from '../panel';
import { go, href, hrefHere, type Route } from '../router';
import { agentEventsPanel, clusterLink, eventsTable, pageHeading } from './common';

const NODE_TYPES = ['meta', 'compute', 'frontend', 'compactor'] as const;

const SEARCH_LIMIT = 100;

/** `.` or `..` (protocol's DOT_SEGMENT; not imported: the dashboard bundle stays free of it). */
const DOT_SEGMENT = /^\.\.?$/;

/**
 * Whether a cluster with exactly this id exists when a full page of others contains the text: ids
 * are anyone's to report, and 100 lookalikes seen more recently would push the real one off the
 * page. Asked by id only then (a 404 is logged by the browser as an error).
 */
async function existsBeyond(page: readonly unknown[], trackingId: string): Promise<boolean> {
  // `.` and `..` are no tracking id (the collector refuses them at ingest) and no URL can ask for
  // them: the browser resolves the segment away.
  if (page.length < SEARCH_LIMIT || DOT_SEGMENT.test(trackingId)) return false;
  try {
    await getJson<ClusterAnswer>(`/query/clusters/${encodeURIComponent(trackingId)}`);
    return true;
  } catch (error) {
    if (error instanceof NotFoundError) return false;
    // Text that is no valid id (the route says why): then it is only a search.
    if (error instanceof ApiError && error.status === 400) return false;
    throw error;
  }
}

function searchForm(route: Route, initial: string): HTMLElement {
  const input = h('input', {
    id: 'c-search',
    name: 'search',
    type: 'search',
    value: initial,
    placeholder: 'a tracking id, or part of one',
    autocomplete: 'off',
    spellcheck: 'false',
  });
  const status = h('p', { class: 'muted', 'aria-live': 'polite' });
  return h(
    'form',
    {
      class: 'filters',
      role: 'search',
      'aria-label': 'Find a cluster',
      onsubmit: async (event: Event) => {
        event.preventDefault();
        const text = input.value.trim();
        if (!text) return go(href('cluster', null, { search: null, before: null }, route));
        status.textContent = 'Searching…';
        try {
          // Through the list, not /query/clusters/{id}: a partial id would be a 404 there, which
          // the browser logs as an error in the console.
          const { clusters } = await getJson<ClusterListAnswer>('/query/clusters', {
            search: text,
            limit: String(SEARCH_LIMIT),
          });
          if (clusters.some((c) => c.trackingId === text) || (await existsBeyond(clusters, text))) {
            go(
              href('cluster', text, { search: null, version: null, clusterType: null, before: null }, route),
            );
          } else {
            // No exact match: list the clusters whose id contains the text.
            go(href('cluster', null, { search: text, before: null }, route));
          }
        } catch (error) {
          // A revoked token signs out here as in every panel, not an error under the form.
          showError(status, error);
        }
      },
    },
    h('div', { class: 'field wide' }, h('label', { for: 'c-search' }, 'Tracking id'), input),
    h('button', { type: 'submit' }, 'Find cluster'),
    status,
  );
}

/** Fetches the whole filtered list and saves it; a failure shows in `status` (a 401 signs out). */
async function download(
  format: 'csv' | 'ndjson',
  params: Record<string, string | null>,
  status: HTMLElement,
): Promise<void> {
  status.replaceChildren();
  let text: string;
  try {
    text = await getText('/query/clusters', { ...params, format });
  } catch (error) {
    showError(status, error);
    return;
  }
  const blob = new Blob([text], { type: format === 'csv' ? 'text/csv' : 'application/x-ndjson' });
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: `clusters.${format}` });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

function clusterList(route: Route): HTMLElement {
  const p = route.params;
  const filters = {
    search: p.get('search'),
    version: p.get('version'),
    clusterType: p.get('clusterType'),
  };
  const active = Object.entries(filters).filter(([, v]) => v);
  // The range's first day: the clusters seen in the range (or after it: a list has no end day).
  const seenFrom = route.range.from;
  const query = { ...filters, seenFrom };
  return panel(
    'Clusters',
    async () => {
      const answer = await getJson<ClusterListAnswer>('/query/clusters', {
        ...query,
        limit: 50,
        before: p.get('before'),
      });
      const filterNote: Child = active.length
        ? h(
            'p',
            { class: 'muted' },
            'Filtered by ',
            active.flatMap(([k, v], i) => [
              i > 0 ? ', ' : '',
              `${k} “`,
              h('span', { class: 'value' }, v),
              '”',
            ]),
            ' · ',
            h(
              'a',
              {
                href: href(
                  'cluster',
                  null,
                  { search: null, version: null, clusterType: null, before: null },
                  route,
                ),
              },
              'show all',
            ),
          )
        : null;
      const exportStatus = h('div', { 'data-test': 'export-status' });
      const exportButtons = h(
        'div',
        { class: 'actions' },
        h(
          'button',
          { type: 'button', class: 'secondary', onclick: () => void download('csv', query, exportStatus) },
          'Export CSV',
        ),
        h(
          'button',
          {
            type: 'button',
            class: 'secondary',
            onclick: () => void download('ndjson', query, exportStatus),
          },
          'Export NDJSON',
        ),
        exportStatus,
      );
      if (answer.clusters.length === 0) {
        // "No match" only when something was searched or filtered; a page past the last one is
        // not an empty store either.
        const none =
          active.length > 0
            ? 'No cluster matches.'
            : p.get('before')
              ? 'No more clusters.'
              : (await getJson<ClusterListAnswer>('/query/clusters', { limit: 1 })).clusters.length === 0
                ? 'No cluster has reported yet.'
                : `No cluster was seen on or after ${seenFrom}: choose an earlier range.`;
        return [filterNote, h('p', { 'data-test': 'clusters-none' }, none)];
      }
      const { total } = answer;
      const onPage = answer.clusters.length;
      return [
        filterNote,
        h(
          'p',
          { 'data-test': 'clusters-total' },
          h('strong', {}, formatCount(total)),
          ` ${total === 1 ? 'cluster' : 'clusters'} seen on or after ${seenFrom}`,
          active.length ? ` ${total === 1 ? 'matches' : 'match'} the filters` : '',
          onPage < total ? `; ${formatCount(onPage)} on this page.` : '.',
        ),
        exportButtons,
        h(
          'div',
          { class: 'table-scroll' },
          table(
            `Clusters seen on or after ${seenFrom} (the range’s first day), most recently seen first`,
            ['Tracking id', 'Version', 'Cluster type', 'First seen', 'Last seen'],
            answer.clusters.map((c) => [
              clusterLink(c.trackingId),
              label(c.version),
              label(c.clusterType),
              formatTime(c.firstSeen),
              formatTime(c.lastSeen),
            ]),
          ),
        ),
        h(
          'nav',
          { class: 'pager', 'aria-label': 'Cluster pages' },
          p.get('before') ? h('a', { href: hrefHere(route, { before: null }) }, '← Most recent') : null,
          answer.next ? h('a', { href: hrefHere(route, { before: answer.next }) }, 'More clusters →') : null,
        ),
      ];
    },
    { optional: true },
  );
}

function fact(name: string, value: Child, id?: string): Child[] {
  return [h('dt', {}, name), h('dd', { 'data-test': id ? `fact-${id}` : null }, value)];
}

/** Facts per day (what changed: upgrades, scaling) and sessions (nodes and their restarts). */
function historyPanels(route: Route, trackingId: string, cluster: Promise<ClusterAnswer>): HTMLElement {
  // Asked only once the cluster is known to exist: for an unknown (or erased) id the Facts panel
  // says so once, and these two say nothing was stored instead of failing with the same 404.
  const history = cluster.then(
    () => getJson<HistoryAnswer>(`/query/clusters/${encodeURIComponent(trackingId)}/history`, route.range),
    (error: unknown) => {
      if (error instanceof NotFoundError)
        return { days: [], sessions: [] } satisfies Pick<HistoryAnswer, 'days' | 'sessions'>;
      throw error;
    },
  );
  history.catch(() => {});
  const nodes = (n: NodeCounts | null) =>
    n ? [n.meta, n.compute, n.frontend, n.compactor].map((c) => formatCount(c)).join(' / ') : '—';
  return h(
    'div',
    { class: 'grid two' },
    panel('History', async () => {
      const { days } = await history;
      if (days.length === 0)
        return h('p', { class: 'muted' }, 'No meta report from this cluster in this range.');
      const t = table(
        'Facts per day from the latest meta report of the day, newest first (nodes: meta / compute / frontend / compactor)',
        ['Day', 'Version', 'Nodes', 'Stream jobs', 'Memory', 'License'],
        [...days]
          .reverse()
          .map((d) => [
            d.day,
            label(d.version),
            nodes(d.nodeCount),
            formatCount(d.streamJobCount),
            formatGiB(d.memoryTotal),
            label(d.licenseTier),
          ]),
        { numeric: [3, 4] },
      );
      t.setAttribute('data-test', 'cluster-history');
      return h('div', { class: 'table-scroll' }, t);
    }),
    panel('Sessions', async () => {
      const { sessions } = await history;
      if (sessions.length === 0)
        return h('p', { class: 'muted' }, 'No reports from this cluster in this range.');
      const t = table(
        'Each node (or agent) process between restarts, most recently seen first',
        ['Node', 'Session', 'First seen', 'Last seen', 'Reports'],
        sessions.map((x) => [
          x.source === 'agent' ? `${x.nodeType} (agent)` : x.nodeType,
          h('span', { class: 'mono' }, x.sessionId.slice(0, 8)),
          formatTime(x.firstSeen),
          formatTime(x.lastSeen),
          formatCount(x.reports),
        ]),
        { numeric: [4] },
      );
      t.setAttribute('data-test', 'cluster-sessions');
      return h('div', { class: 'table-scroll' }, t);
    }),
  );
}

function clusterPage(route: Route, trackingId: string): HTMLElement[] {
  // `.` and `..` are no tracking id, and a URL path cannot hold them (the browser would ask for
  // /query/clusters/ or /query/): nothing is stored for them, without a request.
  const cluster = DOT_SEGMENT.test(trackingId)
    ? Promise.reject(new NotFoundError('no tracking id'))
    : getJson<ClusterAnswer>(`/query/clusters/${encodeURIComponent(trackingId)}`);
  cluster.catch(() => {});
  return [
    panel('Facts', async () => {
      let c: ClusterAnswer;
      try {
        c = await cluster;
      } catch (error) {
        if (error instanceof NotFoundError) {
          return h(
            'p',
            { class: 'note', 'data-test': 'cluster-not-found' },
            `Nothing is stored for the tracking id “${trackingId}”.`,
          );
        }
        throw error;
      }
      return h(
        'div',
        { class: 'grid two' },
        h(
          'dl',
          { class: 'facts' },
          fact('Version', label(c.version), 'version'),
          fact('Git SHA', h('span', { class: 'mono' }, label(c.gitSha))),
          fact('Cluster type', label(c.clusterType), 'clusterType'),
          fact('Meta backend', label(c.metaBackend)),
          fact('Object store', label(c.objectStore)),
          fact('License tier', label(c.licenseTier)),
          fact('Stream jobs', formatCount(c.streamJobCount)),
          fact('Connectors', c.connectors.length ? c.connectors.join(', ') : 'none'),
          fact('First seen', formatTime(c.firstSeen)),
          fact('Last seen', formatTime(c.lastSeen)),
          fact('Events (all time)', formatCount(c.events), 'events'),
          c.agentReports === undefined
            ? null
            : fact('Agent reports (all time)', formatCount(c.agentReports), 'agentReports'),
        ),
        table(
          'Nodes and reports per node type',
          ['Node type', 'Nodes (latest meta report)', 'Reports (all time)'],
          NODE_TYPES.map((n) => [
            n,
            c.nodeCount ? formatCount(c.nodeCount[n]) : '—',
            h('span', { 'data-test': `reports-${n}` }, formatCount(c.reports[n])),
          ]),
          { numeric: [1, 2] },
        ),
      );
    }),
    historyPanels(route, trackingId, cluster),
    panel('Events', async () => {
      const answer = await getJson<EventsAnswer>('/query/events', { trackingId, ...route.range, limit: 100 });
      if (answer.events.length === 0)
        return h('p', { class: 'muted' }, 'No events from this cluster in this range.');
      return [
        eventsTable(
          `Events of this cluster in the range, newest first${answer.next ? ' (the latest 100)' : ''}`,
          answer.events,
          {
            cluster: false,
          },
        ),
        answer.next
          ? h(
              'p',
              {},
              h(
                'a',
                { href: href('events', null, { trackingId, before: null }, route) },
                'All events of this cluster →',
              ),
            )
          : null,
      ];
    }),
    agentEventsPanel(route, { trackingId }),
  ];
}

export function clusterView(route: Route): HTMLElement {
  const id = route.arg;
  return h(
    'div',
    { class: 'view' },
    pageHeading(
      id ? 'Cluster' : 'Clusters',
      route,
      id ? h('span', { class: 'mono', 'data-test': 'cluster-id' }, id) : null,
    ),
    searchForm(route, id ?? route.params.get('search') ?? ''),
    id ? clusterPage(route, id) : clusterList(route),
  );
}
