// `GET /query/clusters`: the list of clusters, most recently seen first, searchable by tracking id,
// filterable by version, cluster type and last seen; JSON pages, or the whole list as CSV/NDJSON.
import {
  type ClusterListAnswer,
  type ClusterListItemAnswer,
  LIMITS,
  NATIVE_LIMITS,
} from '@tidewatch/protocol';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { requireToken } from '../auth/require-token.js';
import { CollectorError } from '../errors.js';
import type { ClusterListFilter, ClusterListItem, ClusterListQuery, Store } from '../store/store.js';
import { parseDay } from './day-range.js';
import { csvLine, ndjsonLine } from './export-format.js';

/** The longest version or cluster type ingest stores (RisingWave's or an agent's): any can be looked for. */
const STORED_TEXT_MAX = Math.max(LIMITS.shortStringMax, NATIVE_LIMITS.textMax);

const MAX_PAGE = 1000;
/** Exports page through the store this many rows at a time. */
const EXPORT_PAGE = 1000;

function encodeCursor(c: ClusterListItem): string {
  return Buffer.from(`${c.lastSeen}.${c.trackingId}`).toString('base64url');
}

function decodeCursor(cursor: string): { lastSeen: number; trackingId: string } {
  const match = /^(\d{1,16})\.([\x20-\x7e]{1,128})$/.exec(Buffer.from(cursor, 'base64url').toString());
  if (!match)
    throw new CollectorError('invalid_cursor', 'before must be a `next` value from an earlier answer');
  return { lastSeen: Number(match[1]), trackingId: match[2]! };
}

function view(c: ClusterListItem): ClusterListItemAnswer {
  return {
    trackingId: c.trackingId,
    internal: c.internal,
    firstSeen: new Date(c.firstSeen).toISOString(),
    lastSeen: new Date(c.lastSeen).toISOString(),
    version: c.version,
    gitSha: c.gitSha,
    clusterType: c.clusterType,
    metaBackend: c.metaBackend,
  };
}

const CSV_COLUMNS = [
  'trackingId',
  'firstSeen',
  'lastSeen',
  'version',
  'gitSha',
  'clusterType',
  'metaBackend',
  'internal',
] as const;

/** Most recently seen first, ties by tracking id descending: the stores' order (and the cursor's). */
function newestFirst(a: ClusterListItem, b: ClusterListItem): number {
  if (a.lastSeen !== b.lastSeen) return b.lastSeen - a.lastSeen;
  return a.trackingId < b.trackingId ? 1 : a.trackingId > b.trackingId ? -1 : 0;
}

/** Passes over the top of the list for clusters that reported during an export (listForExport). */
const CATCH_UP_PASSES = 5;
/**
 * How far before the export's start a catch-up pass reads: lastSeen is a report's receive time,
 * which can precede its commit by up to the store timeout (30 s by default), and collectors
 * sharing a store have clocks of their own.
 */
const CATCH_UP_MARGIN_MS = 5 * 60_000;

/**
 * Every cluster of the (filtered) list. Pages follow lastSeen, which moves: a cluster that reports
 * while the export pages past it jumps above the cursor, and paging alone never reached it (a
 * review lost 2–3 of 3,000 clusters per export under live ingest). So after the pass, the top of
 * the list is read again down to the clusters last seen well before the export began, until a pass
 * finds nothing new; each cluster is exported once, with the newest of what was read for it.
 */
export async function listForExport(
  store: Pick<Store, 'listClusters'>,
  query: ClusterListQuery,
  started = Date.now(),
): Promise<ClusterListItem[]> {
  const rows = new Map<string, ClusterListItem>();
  const keep = (c: ClusterListItem) => {
    const seen = rows.get(c.trackingId);
    if (!seen || c.lastSeen > seen.lastSeen) rows.set(c.trackingId, c);
    return !seen;
  };
  let before = query.before;
  for (;;) {
    const page = await store.listClusters({ ...query, limit: EXPORT_PAGE, before });
    for (const c of page) keep(c);
    if (page.length < EXPORT_PAGE) break;
    before = { lastSeen: page.at(-1)!.lastSeen, trackingId: page.at(-1)!.trackingId };
  }
  // A cursor given by the caller starts the export below the top: nothing above it was asked for.
  for (let pass = 0; pass < CATCH_UP_PASSES && query.before === undefined; pass++) {
    let added = 0;
    let from: ClusterListQuery['before'];
    for (;;) {
      const page = await store.listClusters({ ...query, limit: EXPORT_PAGE, before: from });
      const moved = page.filter((c) => c.lastSeen >= started - CATCH_UP_MARGIN_MS);
      for (const c of moved) if (keep(c)) added++;
      if (moved.length < page.length || page.length < EXPORT_PAGE) break;
      from = { lastSeen: page.at(-1)!.lastSeen, trackingId: page.at(-1)!.trackingId };
    }
    if (added === 0) break;
  }
  return [...rows.values()].sort(newestFirst);
}

async function exportAll(
  store: Store,
  query: ClusterListQuery,
  format: 'csv' | 'ndjson',
  reply: FastifyReply,
) {
  const lines: string[] = format === 'csv' ? [CSV_COLUMNS.join(',')] : [];
  for (const c of await listForExport(store, query)) {
    const v = view(c);
    lines.push(format === 'csv' ? csvLine(CSV_COLUMNS.map((k) => v[k])) : ndjsonLine(v));
  }
  return reply
    .type(format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson')
    .header('content-disposition', `attachment; filename="clusters.${format}"`)
    .send(`${lines.join('\n')}\n`);
}

export async function clusterListRoute(app: FastifyInstance, opts: { store: Store }) {
  app.get(
    '/query/clusters',
    {
      onRequest: requireToken(opts.store, 'read'),
      schema: {
        tags: ['query'],
        summary: 'Clusters, most recently seen first; searchable, filterable, exportable (format=csv|ndjson)',
        security: [{ bearer: [] }],
        querystring: {
          type: 'object',
          properties: {
            search: {
              type: 'string',
              maxLength: 128,
              description: 'Part of a tracking id (case-insensitive)',
            },
            version: { type: 'string', maxLength: STORED_TEXT_MAX },
            clusterType: { type: 'string', maxLength: STORED_TEXT_MAX },
            seenFrom: {
              type: 'string',
              description: 'Only clusters last seen on or after this day (YYYY-MM-DD)',
            },
            limit: { type: 'integer', minimum: 1, maximum: MAX_PAGE, default: 50 },
            before: { type: 'string', maxLength: 400 },
            format: { type: 'string', enum: ['json', 'csv', 'ndjson'], default: 'json' },
          },
        },
      },
    },
    async (request, reply) => {
      const q = request.query as {
        search?: string;
        version?: string;
        clusterType?: string;
        seenFrom?: string;
        limit: number;
        before?: string;
        format: 'json' | 'csv' | 'ndjson';
      };
      // A real calendar day: 2026-02-30 or 2026-13-01 would become NaN or roll over in the stores.
      if (q.seenFrom !== undefined) parseDay(q.seenFrom, 'seenFrom');
      const filter: ClusterListFilter = {
        search: q.search,
        version: q.version,
        clusterType: q.clusterType,
        seenFromDay: q.seenFrom,
      };
      const query: ClusterListQuery = {
        ...filter,
        limit: q.limit + 1,
        before: q.before === undefined ? undefined : decodeCursor(q.before),
      };
      if (q.format !== 'json') return exportAll(opts.store, query, q.format, reply);
      const [rows, total] = await Promise.all([
        opts.store.listClusters(query),
        // Every page says how many clusters the whole (filtered) list has, not only this page.
        opts.store.countClusters(filter),
      ]);
      const page = rows.slice(0, q.limit);
      // Typed here rather than on the handler, which also answers exports (a reply).
      const answer: ClusterListAnswer = {
        clusters: page.map(view),
        next: rows.length > q.limit ? encodeCursor(page.at(-1)!) : null,
        total,
      };
      return answer;
    },
  );
}
