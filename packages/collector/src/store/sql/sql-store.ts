// The Store on a SQL database through Kysely. SQLite and PostgreSQL share this code; what differs
// (connection, column types, the setup lock) is passed in by sqlite/ and postgres/.
import { type Kysely, Migrator, sql, type Transaction } from 'kysely';
import type {
  ClusterSummary,
  EraseResult,
  EventRow,
  NodeCounts,
  ReportRow,
  Store,
  TokenRecord,
  TokenRole,
  WriteBatch,
  WriteResult,
} from '../store.js';
import { type DialectTypes, migrationProvider } from './migrations.js';
import type { Database, ReportsTable, TokensTable } from './schema.js';

export interface SqlDialectHooks {
  kind: 'sqlite' | 'postgres';
  types: DialectTypes;
  /** Serializes first-start token creation across processes (inside the transaction). */
  lockForSetup(trx: Transaction<Database>): Promise<void>;
  /** Closes connections that Kysely does not own. */
  close?(): Promise<void>;
}

/** Rows per INSERT statement: well under SQLite's 32,766 and PostgreSQL's 65,535 parameters. */
const ROWS_PER_STATEMENT = 500;

function chunks<T>(rows: T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < rows.length; i += ROWS_PER_STATEMENT) out.push(rows.slice(i, i + ROWS_PER_STATEMENT));
  return out;
}

function reportColumns(r: ReportRow): Omit<ReportsTable, 'id'> {
  return {
    dedup_key: r.dedupKey,
    tracking_id: r.trackingId,
    session_id: r.sessionId,
    node_type: r.nodeType,
    protocol: r.protocol,
    received_at: r.receivedAt,
    received_day: r.receivedDay,
    report_time: r.reportTime,
    up_time: r.upTime,
    ci: r.ci ? 1 : 0,
    flags: r.flags,
    memory_used: r.memoryUsed,
    memory_total: r.memoryTotal,
    os_name: r.osName,
    os_version: r.osVersion,
    os_kernel: r.osKernel,
    cpu_available: r.cpuAvailable,
    version: r.version,
    git_sha: r.gitSha,
    meta_backend: r.metaBackend,
    cluster_type: r.clusterType,
    node_meta: r.nodeMeta,
    node_compute: r.nodeCompute,
    node_frontend: r.nodeFrontend,
    node_compactor: r.nodeCompactor,
    stream_job_count: r.streamJobCount,
    object_store: r.objectStore,
    connectors: r.connectors,
    connector_usage: r.connectorUsage,
    stream_jobs: r.streamJobs,
    license_tier: r.licenseTier,
    raw: r.raw,
  };
}

function eventColumns(e: EventRow) {
  return {
    dedup_key: e.dedupKey,
    tracking_id: e.trackingId,
    received_at: e.receivedAt,
    received_day: e.receivedDay,
    event_time_sec: e.eventTimeSec,
    stage: e.stage,
    name: e.name,
    connector_name: e.connectorName,
    catalog_id: e.catalogId,
    attributes: e.attributes,
    node: e.node,
    object: e.object,
    flags: e.flags,
    raw: e.raw,
  };
}

function tokenRecord(row: TokensTable): TokenRecord {
  return {
    id: row.id,
    hash: row.hash,
    role: row.role as TokenRole,
    label: row.label,
    createdAt: Number(row.created_at),
    expiresAt: row.expires_at === null ? null : Number(row.expires_at),
    revokedAt: row.revoked_at === null ? null : Number(row.revoked_at),
  };
}

function tokenColumns(t: TokenRecord): TokensTable {
  return {
    id: t.id,
    hash: t.hash,
    role: t.role,
    label: t.label,
    created_at: t.createdAt,
    expires_at: t.expiresAt,
    revoked_at: t.revokedAt,
  };
}

/** first/last seen per cluster over the rows a batch actually inserted. */
function seenRanges(rows: { tracking_id: string; received_at: number }[]) {
  const ranges = new Map<string, { first: number; last: number }>();
  for (const row of rows) {
    const at = Number(row.received_at);
    const range = ranges.get(row.tracking_id);
    if (!range) ranges.set(row.tracking_id, { first: at, last: at });
    else {
      if (at < range.first) range.first = at;
      if (at > range.last) range.last = at;
    }
  }
  return ranges;
}

export class SqlStore implements Store {
  readonly kind: 'sqlite' | 'postgres';

  constructor(
    readonly db: Kysely<Database>,
    private readonly hooks: SqlDialectHooks,
  ) {
    this.kind = hooks.kind;
  }

  async migrate(): Promise<void> {
    const migrator = new Migrator({ db: this.db, provider: migrationProvider(this.hooks.types) });
    const { error, results } = await migrator.migrateToLatest();
    if (error) {
      const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
      throw new Error(
        `migration ${failed} failed: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }

  async writeBatch(batch: WriteBatch): Promise<WriteResult> {
    return this.db.transaction().execute(async (trx) => {
      const inserted: { tracking_id: string; received_at: number }[] = [];
      let reportsInserted = 0;
      let eventsInserted = 0;
      for (const chunk of chunks(batch.reports)) {
        const rows = await trx
          .insertInto('reports')
          .values(chunk.map(reportColumns))
          .onConflict((oc) => oc.column('dedup_key').doNothing())
          .returning(['tracking_id', 'received_at'])
          .execute();
        reportsInserted += rows.length;
        inserted.push(...rows);
      }
      for (const chunk of chunks(batch.events)) {
        const rows = await trx
          .insertInto('events')
          .values(chunk.map(eventColumns))
          .onConflict((oc) => oc.column('dedup_key').doNothing())
          .returning(['tracking_id', 'received_at'])
          .execute();
        eventsInserted += rows.length;
        inserted.push(...rows);
      }
      // Only rows that were really stored move first/last seen, so a cluster exists exactly when
      // something of it is stored. CASE instead of GREATEST/MAX: the same SQL on every dialect.
      for (const [trackingId, range] of seenRanges(inserted)) {
        await trx
          .insertInto('clusters')
          .values({ tracking_id: trackingId, first_seen: range.first, last_seen: range.last })
          .onConflict((oc) =>
            oc.column('tracking_id').doUpdateSet({
              first_seen: sql`case when excluded.first_seen < clusters.first_seen then excluded.first_seen else clusters.first_seen end`,
              last_seen: sql`case when excluded.last_seen > clusters.last_seen then excluded.last_seen else clusters.last_seen end`,
            }),
          )
          .execute();
      }
      return { reportsInserted, eventsInserted };
    });
  }

  async getCluster(trackingId: string): Promise<ClusterSummary | null> {
    const cluster = await this.db
      .selectFrom('clusters')
      .selectAll()
      .where('tracking_id', '=', trackingId)
      .executeTakeFirst();
    if (!cluster) return null;
    const meta = await this.db
      .selectFrom('reports')
      .select([
        'version',
        'git_sha',
        'cluster_type',
        'meta_backend',
        'node_meta',
        'node_compute',
        'node_frontend',
        'node_compactor',
        'stream_job_count',
        'object_store',
        'license_tier',
        'connectors',
      ])
      .where('tracking_id', '=', trackingId)
      .where('node_type', '=', 'meta')
      .orderBy('received_at', 'desc')
      .orderBy('id', 'desc')
      .limit(1)
      .executeTakeFirst();
    const perNode = await this.db
      .selectFrom('reports')
      .select(['node_type', (eb) => eb.fn.countAll().as('n')])
      .where('tracking_id', '=', trackingId)
      .groupBy('node_type')
      .execute();
    const events = await this.db
      .selectFrom('events')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('tracking_id', '=', trackingId)
      .executeTakeFirstOrThrow();

    const reports: NodeCounts = { meta: 0, compute: 0, frontend: 0, compactor: 0 };
    for (const row of perNode) {
      if (row.node_type in reports) reports[row.node_type as keyof NodeCounts] = Number(row.n);
    }
    const hasNodeCount = meta && meta.node_meta !== null;
    return {
      trackingId,
      firstSeen: Number(cluster.first_seen),
      lastSeen: Number(cluster.last_seen),
      version: meta?.version ?? null,
      gitSha: meta?.git_sha ?? null,
      clusterType: meta?.cluster_type ?? null,
      metaBackend: meta?.meta_backend ?? null,
      nodeCount: hasNodeCount
        ? {
            meta: Number(meta.node_meta),
            compute: Number(meta.node_compute),
            frontend: Number(meta.node_frontend),
            compactor: Number(meta.node_compactor),
          }
        : null,
      streamJobCount: meta?.stream_job_count == null ? null : Number(meta.stream_job_count),
      objectStore: meta?.object_store ?? null,
      licenseTier: meta?.license_tier ?? null,
      connectors: meta?.connectors ? (JSON.parse(meta.connectors) as string[]) : [],
      reports,
      events: Number(events.n),
    };
  }

  async eraseCluster(trackingId: string): Promise<EraseResult> {
    return this.db.transaction().execute(async (trx) => {
      const reports = await trx
        .deleteFrom('reports')
        .where('tracking_id', '=', trackingId)
        .executeTakeFirst();
      const events = await trx.deleteFrom('events').where('tracking_id', '=', trackingId).executeTakeFirst();
      await trx.deleteFrom('clusters').where('tracking_id', '=', trackingId).execute();
      return { reports: Number(reports.numDeletedRows), events: Number(events.numDeletedRows) };
    });
  }

  async createFirstAdminToken(token: TokenRecord): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      await this.hooks.lockForSetup(trx);
      const existing = await trx
        .selectFrom('tokens')
        .select('id')
        .where('role', '=', 'admin')
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      if (existing) return false;
      await trx.insertInto('tokens').values(tokenColumns(token)).execute();
      return true;
    });
  }

  async putToken(token: TokenRecord): Promise<void> {
    await this.db
      .insertInto('tokens')
      .values(tokenColumns(token))
      .onConflict((oc) =>
        oc.column('hash').doUpdateSet({ role: token.role, revoked_at: null, expires_at: token.expiresAt }),
      )
      .execute();
  }

  async findTokenByHash(hash: string): Promise<TokenRecord | null> {
    const row = await this.db.selectFrom('tokens').selectAll().where('hash', '=', hash).executeTakeFirst();
    return row ? tokenRecord(row) : null;
  }

  async listTokens(): Promise<TokenRecord[]> {
    const rows = await this.db.selectFrom('tokens').selectAll().orderBy('created_at').execute();
    return rows.map(tokenRecord);
  }

  async revokeToken(id: string, at: number): Promise<boolean> {
    const result = await this.db
      .updateTable('tokens')
      .set({ revoked_at: at })
      .where('id', '=', id)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async ping(): Promise<void> {
    await sql`select 1`.execute(this.db);
  }

  async close(): Promise<void> {
    await this.db.destroy();
    await this.hooks.close?.();
  }
}
