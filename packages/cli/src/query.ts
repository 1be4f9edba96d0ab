// `tidewatch query <question>`: the query API from a terminal, as aligned tables or JSON.
import { parseArgs } from 'node:util';
import { csvLine } from '@tidewatch/collector/light';
import type {
  ActiveAnswer,
  AdoptionAnswer,
  AgentEventsAnswer,
  BreakdownAnswer,
  ClusterAnswer,
  ClusterListAnswer,
  ConnectorsAnswer,
  DistributionAnswer,
  EventCountsAnswer,
  EventsAnswer,
  Excluded,
  HistoryAnswer,
  MetricAnswer,
  MetricNamesAnswer,
  OverviewAnswer,
  VersionsAnswer,
} from '@tidewatch/protocol';
import { targetUrl, UsageError } from './args.js';
import { checkSendableToken, describeFetchError, START_HINT } from './fetch-error.js';
import { cellOf, formatTable, printable, printableJson } from './table.js';

/** How long a query waits for the collector's answer before giving up, unless --timeout says. */
const DEFAULT_TIMEOUT_S = 30;

const USAGE = `usage: tidewatch query <question> [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--json | --csv] [--include-ci] [--include-internal]
                       [--target URL] [--token T] [--timeout SECONDS (default 30)]
questions:
  overview                        active, new, silent and total clusters; lifetimes
  active                          active clusters per day
  versions                        active clusters per version per day (adoption)
  adoption                        per release: days until 10/25/50% of active clusters ran it
  breakdown --by DIM              clusters per version|clusterType|metaBackend|os|objectStore|connector|licenseTier
  distribution --of SIZE          clusters per memory|metaNodes|computeNodes|frontendNodes|compactorNodes|streamJobs
                                  bucket, with percentiles
  connectors                      sources and sinks by connector, format and encode
  clusters [--search S] [--limit N] [--before CURSOR]   clusters, most recently seen first
  events [--tracking-id ID] [--stage S] [--name N] [--connector C] [--limit N] [--before CURSOR]
  event-counts --by day|stage|name|connector|trackingId [--stage S] [--name N]
  metrics                         the metric names agents send
  metrics NAME [--by version|clusterType|nodeType|trackingId|label:KEY]
                                  an agent metric across the fleet, e.g. db.query.errors --by label:sqlstate_class
  agent-events [--tracking-id ID] [--name N] [--limit N] [--before CURSOR]
                                  events agents sent, newest first (e.g. --name db.ddl)
  (a page that is not the last ends with the --before CURSOR that asks for the next one)
  cluster TRACKING_ID             one cluster's facts and counts
  history TRACKING_ID             one cluster's facts per day and its sessions (nodes, restarts)
environment: TIDEWATCH_URL (default http://127.0.0.1:8080), TIDEWATCH_TOKEN`;

/** A table's rows: objects whose fields are its columns (formatTable). */
type Rows = readonly object[];

interface Question {
  path: string;
  /** The rows to print as a table, from the JSON answer. */
  rows(answer: unknown): Rows;
  /** Further titled tables or lines after the first table. */
  more?(answer: unknown): (string | Rows)[];
}

/**
 * A question whose answer has the shape A, one of @tidewatch/protocol's API answers (the collector's
 * route is typed to return it). The one place parsed JSON is taken to be that shape: a collector
 * that answers otherwise makes rows() throw, which query() reports as an unknown shape.
 */
function ask<A>(path: string, rows: (answer: A) => Rows, more?: (answer: A) => (string | Rows)[]): Question {
  return { path, rows: (a) => rows(a as A), more: more && ((a) => more(a as A)) };
}

const GIB = 1024 ** 3;
const gib = (bytes: number | null) => (bytes === null ? null : Math.round((bytes / GIB) * 10) / 10);

/** The questions that take a word after their name (a tracking id, a metric name). */
const QUESTIONS_WITH_ARGUMENT = new Set(['history', 'metrics', 'cluster']);

function question(
  name: string | undefined,
  arg: string | undefined,
  by: string | undefined,
  of: string | undefined,
): Question {
  switch (name) {
    case 'distribution':
      if (!of) throw new UsageError(`distribution needs --of\n${USAGE}`);
      return ask<DistributionAnswer>(
        '/query/distribution',
        (a) =>
          a.buckets.map((b) =>
            a.unit === 'bytes'
              ? { memory: `${b.from <= 1 ? 0 : (b.from - 1) / GIB}-${b.to / GIB} GiB`, clusters: b.clusters }
              : { [a.unit]: b.from === b.to ? b.from : `${b.from}-${b.to}`, clusters: b.clusters },
          ),
        (a) => {
          const show = (v: number | null) =>
            v === null ? '-' : a.unit === 'bytes' ? `${Math.round((v / GIB) * 10) / 10} GiB` : String(v);
          return [
            `clusters ${a.clusters} (unknown ${a.unknown}) · min ${show(a.min)} · p50 ${show(a.p50)} · ` +
              `p90 ${show(a.p90)} · p99 ${show(a.p99)} · max ${show(a.max)}`,
          ];
        },
      );
    case 'connectors':
      return ask<ConnectorsAnswer>('/query/connectors', (a) => [
        ...a.sources.map((r) => ({ kind: 'source', ...r })),
        ...a.sinks.map((r) => ({ kind: 'sink', ...r })),
      ]);
    case 'adoption':
      return ask<AdoptionAnswer>('/query/adoption', (a) =>
        a.releases.map((r) => ({
          version: r.version,
          firstDay: r.beforeRange ? `<=${r.firstDay}` : r.firstDay,
          ...Object.fromEntries(
            Object.entries(r.daysTo).map(([share, days]) => [`days to ${share}%`, days ?? '-']),
          ),
          'peak %': r.peakShare,
          'now %': r.latestShare,
        })),
      );
    case 'history':
      if (!arg) throw new UsageError(`history needs a tracking id\n${USAGE}`);
      return ask<HistoryAnswer>(
        `/query/clusters/${encodeURIComponent(arg)}/history`,
        (a) =>
          a.days.map((d) => ({
            day: d.day,
            version: d.version,
            nodes: d.nodeCount
              ? `${d.nodeCount.meta}/${d.nodeCount.compute}/${d.nodeCount.frontend}/${d.nodeCount.compactor}`
              : null,
            streamJobs: d.streamJobCount,
            memoryGiB: gib(d.memoryTotal),
            license: d.licenseTier,
          })),
        // Sessions in the same unit as the days above (the API gives bytes).
        (a) => [
          'sessions (nodes: meta/compute/frontend/compactor above)',
          a.sessions.map(({ memoryTotal, ...session }) =>
            memoryTotal === undefined ? session : { ...session, memoryGiB: gib(memoryTotal) },
          ),
        ],
      );
    case 'overview':
      return ask<OverviewAnswer>('/query/overview', (a) => [
        { ...a.clusters, lifetimeP50: a.lifetimeDays.p50 },
      ]);
    case 'active':
      return ask<ActiveAnswer>('/query/active', (a) => a.series);
    case 'versions':
      return ask<VersionsAnswer>('/query/versions', (a) =>
        a.days.map((day, i) => ({
          day,
          ...Object.fromEntries(a.versions.map((v) => [v.version ?? 'unknown', v.clusters[i]])),
        })),
      );
    case 'clusters':
      return ask<ClusterListAnswer>('/query/clusters', (a) => a.clusters);
    case 'event-counts':
      if (!by) throw new UsageError(`event-counts needs --by\n${USAGE}`);
      return ask<EventCountsAnswer>('/query/event-counts', (a) => a.rows);
    case 'breakdown':
      if (!by) throw new UsageError(`breakdown needs --by\n${USAGE}`);
      return ask<BreakdownAnswer>('/query/breakdown', (a) => a.rows);
    case 'events':
      return ask<EventsAnswer>('/query/events', (a) => a.events);
    case 'metrics':
      if (!arg) return ask<MetricNamesAnswer>('/query/metrics', (a) => a.metrics);
      return ask<MetricAnswer>(`/query/metrics/${encodeURIComponent(arg)}`, (a) => a.rows);
    case 'agent-events':
      return ask<AgentEventsAnswer>('/query/agent-events', (a) =>
        a.events.map((e) => ({
          receivedAt: e.receivedAt,
          trackingId: e.trackingId,
          name: e.name,
          fields: JSON.stringify(e.fields),
        })),
      );
    case 'cluster':
      if (!arg) throw new UsageError(`cluster needs a tracking id\n${USAGE}`);
      return ask<ClusterAnswer>(`/query/clusters/${encodeURIComponent(arg)}`, (a) =>
        Object.entries(a).map(([field, value]) => ({ field, value })),
      );
    default:
      throw new UsageError(name ? `unknown question "${name}"\n${USAGE}` : USAGE);
  }
}

export async function query(argv: string[], env: NodeJS.ProcessEnv): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      from: { type: 'string' },
      to: { type: 'string' },
      by: { type: 'string' },
      of: { type: 'string' },
      connector: { type: 'string' },
      json: { type: 'boolean' },
      csv: { type: 'boolean' },
      'include-ci': { type: 'boolean' },
      'include-internal': { type: 'boolean' },
      'tracking-id': { type: 'string' },
      stage: { type: 'string' },
      name: { type: 'string' },
      search: { type: 'string' },
      limit: { type: 'string' },
      before: { type: 'string' },
      target: { type: 'string' },
      token: { type: 'string' },
      timeout: { type: 'string' },
      help: { type: 'boolean' },
    },
    allowPositionals: true,
    strict: true,
  });
  const [name, arg] = positionals;
  if (name === 'help' || argv.includes('--help')) {
    console.log(USAGE);
    return;
  }
  // No question is a mistake (exit 2), as in every other command; asking for help is not.
  if (name === undefined) throw new UsageError(`which question?\n${USAGE}`);
  // Extra words were ignored: `query cluster ID1 ID2` showed ID1 alone.
  const takes = QUESTIONS_WITH_ARGUMENT.has(name) ? 1 : 0;
  if (positionals.length > 1 + takes)
    throw new UsageError(
      `${name} takes ${takes === 0 ? 'no argument' : 'one argument'}, not "${positionals.slice(1).join(' ')}"\n${USAGE}`,
    );
  const q = question(name, arg, values.by, values.of);
  if (values.json && values.csv) throw new UsageError('--json and --csv: choose one');
  const token = values.token ?? env.TIDEWATCH_TOKEN;
  if (!token)
    throw new UsageError('a token is needed: --token T or TIDEWATCH_TOKEN (see `tidewatch token create`)');
  checkSendableToken(token, values.token === undefined ? 'TIDEWATCH_TOKEN' : '--token');
  const base = targetUrl(values, env);
  const params = new URLSearchParams();
  const set = (key: string, value: string | undefined) => value !== undefined && params.set(key, value);
  set('from', values.from);
  set('to', values.to);
  set('by', values.by);
  set('of', values.of);
  set('connector', values.connector);
  set('trackingId', values['tracking-id']);
  set('stage', values.stage);
  set('name', values.name);
  set('search', values.search);
  set('limit', values.limit);
  set('before', values.before);
  if (values['include-ci']) params.set('includeCi', 'true');
  if (values['include-internal']) params.set('includeInternal', 'true');
  const url = `${base}${q.path}${params.size > 0 ? `?${params}` : ''}`;

  const timeoutS = values.timeout === undefined ? DEFAULT_TIMEOUT_S : Number(values.timeout);
  if (!(timeoutS > 0 && timeoutS <= 3600))
    throw new UsageError('--timeout must be a number of seconds above 0, at most 3600');
  let res: Response;
  let body: string;
  try {
    // A collector that accepts the connection and never answers must not hang the terminal.
    const signal = AbortSignal.timeout(timeoutS * 1000);
    res = await fetch(url, { headers: { authorization: `Bearer ${token}` }, signal });
    body = await res.text();
  } catch (error) {
    const reason =
      (error as Error).name === 'TimeoutError'
        ? `no answer within ${timeoutS} s (--timeout)`
        : describeFetchError(error);
    throw new Error(`cannot reach the collector at ${base}: ${reason}: ${START_HINT}`);
  }
  let answer: Record<string, unknown>;
  try {
    const parsed = JSON.parse(body) as unknown;
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      throw new Error('not an object');
    answer = parsed as Record<string, unknown>;
  } catch {
    throw new Error(
      `${base}${q.path} answered ${res.status} with something that is not a Tidewatch answer (JSON object); is --target a Tidewatch collector?`,
    );
  }
  if (!res.ok) {
    throw new Error(printable(`${res.status} ${answer.error ?? ''}: ${answer.message ?? res.statusText}`));
  }
  if (values.json) {
    console.log(printableJson(answer));
    return;
  }
  let rows: Rows;
  try {
    rows = q.rows(answer);
    if (!Array.isArray(rows) || !rows.every((r) => typeof r === 'object' && r !== null)) throw new Error();
  } catch {
    throw new Error(
      `${base}${q.path} answered in a shape this CLI does not know; --json prints the answer as it is`,
    );
  }
  if (values.csv) {
    printCsv(rows, q.more?.(answer) ?? [], answer.next);
    return;
  }
  console.log(formatTable(rows));
  for (const part of q.more?.(answer) ?? []) {
    console.log(typeof part === 'string' ? `\n${printable(part)}` : formatTable(part));
  }
  if (typeof answer.next === 'string') console.log(`(more: the same question with --before ${answer.next})`);
  const excluded = answer.excluded as Excluded | undefined;
  if (excluded && excluded.ci + excluded.internal > 0) {
    console.log(
      `(left out: ${excluded.ci} CI and ${excluded.internal} internal clusters; --include-ci, --include-internal to count them)`,
    );
  }
}

/**
 * `--csv`: the question's main table as CSV on standard output (a header, then one record per
 * row), for a file or a spreadsheet; further tables and the next page's cursor go to standard
 * error, so the output stays one table. Cells are spreadsheet-safe (csvLine); on a terminal they
 * are also made printable, as the tables are (escape sequences in stored text must not reach it).
 */
function printCsv(rows: Rows, more: (string | Rows)[], next: unknown): void {
  const keys = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const shown = (line: string) => (process.stdout.isTTY ? printable(line) : line);
  const lines = [csvLine(keys), ...rows.map((r) => csvLine(keys.map((k) => cellOf(r, k))))];
  process.stdout.write(`${lines.map(shown).join('\n')}\n`);
  if (more.some((part) => typeof part !== 'string'))
    console.error('(this answer has more tables than the first: --json prints all of it)');
  if (typeof next === 'string') console.error(`(more: the same question with --before ${printable(next)})`);
}
