// `GET /query/clusters`: the list of clusters, most recently seen first, searchable by tracking id,
// filterable by version, cluster type and last seen; JSON pages, or the whole list as CSV/NDJSON.
import { LIMITS, NATIVE_LIMITS } from '@tidewatch/protocol';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { requireToken } from '../auth/require-token.js';
import { CollectorError } from '../errors.js';
import type { ClusterListItem, ClusterListQuery, Store } from '../store/store.js';
import { parseDay } from './day-range.js';

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

function view(c: ClusterListItem) {
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

/** RFC 4180 quoting; a leading = + - @ is prefixed with ' so spreadsheets never run it as a formula. */
function csvCell(value: string | boolean | null): string {
  if (value === null) return '';
  if (typeof value === 'boolean') return String(value);
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

async function exportAll(
  store: Store,
  query: ClusterListQuery,
  format: 'csv' | 'ndjson',
  reply: FastifyReply,
) {
  const lines: string[] = format === 'csv' ? [CSV_COLUMNS.join(',')] : [];
  let before = query.before;
  for (;;) {
    const page = await store.listClusters({ ...query, limit: EXPORT_PAGE, before });
    for (const c of page) {
      const v = view(c);
      lines.push(format === 'csv' ? CSV_COLUMNS.map((k) => csvCell(v[k])).join(',') : JSON.stringify(v));
    }
    if (page.length < EXPORT_PAGE) break;
    before = { lastSeen: page.at(-1)!.lastSeen, trackingId: page.at(-1)!.trackingId };
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
      const query: ClusterListQuery = {
        search: q.search,
        version: q.version,
        clusterType: q.clusterType,
        seenFromDay: q.seenFrom,
        limit: q.limit + 1,
        before: q.before === undefined ? undefined : decodeCursor(q.before),
      };
      if (q.format !== 'json') return exportAll(opts.store, query, q.format, reply);
      const rows = await opts.store.listClusters(query);
      const page = rows.slice(0, q.limit);
      return { clusters: page.map(view), next: rows.length > q.limit ? encodeCursor(page.at(-1)!) : null };
    },
  );
}
