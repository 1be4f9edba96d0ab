// The SQL store's admin records: the internal tag, erase blocks, settings, the audit log and
// tokens (sql-store.ts delegates here).
import type { Kysely } from 'kysely';
import { tokenColumns, tokenRecord } from '../answers.js';
import type { AuditEntry, BlockedCluster, StoredAuditEntry, TokenRecord } from '../store.js';
import type { SqlDialectHooks } from './dialect.js';
import type { Database } from './schema.js';
import type { SqlRunner } from './sql-runner.js';

export class SqlAdmin {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly hooks: SqlDialectHooks,
    private readonly run: SqlRunner,
  ) {}

  /**
   * The tag and the mark of the cluster's fleet days in one transaction; on PostgreSQL in the
   * erase's lock order (sql-erase.ts): the admin lock, the cluster's slot alone (no write of it in
   * flight), the fleet days, then its clusters row. The row first and the days after deadlocked
   * with a write of one of those days (the day's row, then the clusters row) and with an erase of
   * the cluster (the days, then the row's delete).
   */
  async setInternal(trackingId: string, internal: boolean): Promise<boolean> {
    return this.run.transaction(this.db, async (trx) => {
      await this.run.lockAdmin(trx, 'shared');
      await this.hooks.lockClusters?.(trx, [trackingId], 'alone');
      // The cluster's metric cells move between the internal and the other cells.
      await this.run.markClusterDays(trx, trackingId);
      const result = await trx
        .updateTable('clusters')
        .set({ internal: internal ? 1 : 0 })
        .where('tracking_id', '=', trackingId)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    });
  }

  async unblockCluster(trackingId: string): Promise<boolean> {
    const result = await this.db
      .deleteFrom('blocked_clusters')
      .where('tracking_id', '=', trackingId)
      .executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  async blockedClusters(): Promise<BlockedCluster[]> {
    const rows = await this.db
      .selectFrom('blocked_clusters')
      .selectAll()
      .orderBy('blocked_at', 'desc')
      .orderBy('tracking_id')
      .execute();
    return rows.map((r) => ({ trackingId: r.tracking_id, blockedAt: Number(r.blocked_at) }));
  }

  async ensureSetting(key: string, value: string): Promise<string> {
    await this.db
      .insertInto('settings')
      .values({ key, value })
      .onConflict((oc) => oc.column('key').doNothing())
      .execute();
    const row = await this.db
      .selectFrom('settings')
      .select('value')
      .where('key', '=', key)
      .executeTakeFirstOrThrow();
    return row.value;
  }

  async appendAudit(entry: AuditEntry): Promise<void> {
    await this.db.insertInto('audit_log').values(entry).execute();
  }

  async auditLog(query: { limit: number; before?: number | undefined }): Promise<StoredAuditEntry[]> {
    let q = this.db.selectFrom('audit_log').selectAll();
    if (query.before !== undefined) q = q.where('id', '<', query.before);
    const rows = await q.orderBy('id', 'desc').limit(query.limit).execute();
    return rows.map((r) => ({
      id: Number(r.id),
      at: Number(r.at),
      actor: r.actor,
      action: r.action,
      target: r.target,
      details: r.details,
    }));
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
}
