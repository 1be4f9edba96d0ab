// The ClickHouse store's admin records: the internal tag, erase blocks, the audit log and tokens
// (clickhouse-store.ts delegates here). Settings are the connection's (clickhouse-connection.ts),
// since migrations read and write them too.
import { type TokenColumns, tokenColumns, tokenRecord } from '../answers.js';
import type { AuditEntry, BlockedCluster, StoredAuditEntry, TokenRecord } from '../store.js';
import type { ClickHouseConnection } from './clickhouse-connection.js';
import { type Sql, sql } from './sql.js';

export class ClickHouseAdmin {
  constructor(private readonly ch: ClickHouseConnection) {}

  async setInternal(trackingId: string, internal: boolean): Promise<boolean> {
    const [seen] = await this.ch.rows<{ n: number }>(
      sql`SELECT count() AS n FROM cluster_days WHERE tracking_id = ${trackingId}`,
    );
    if (!seen || Number(seen.n) === 0) return false;
    await this.ch.insert('cluster_tags', [
      { tracking_id: trackingId, internal: internal ? 1 : 0, version: this.ch.nextVersion() },
    ]);
    return true;
  }

  async unblockCluster(trackingId: string): Promise<boolean> {
    const [row] = await this.ch.rows(
      sql`SELECT 1 FROM blocked_clusters FINAL WHERE tracking_id = ${trackingId} AND blocked = 1`,
    );
    if (!row) return false;
    await this.ch.insert('blocked_clusters', [
      { tracking_id: trackingId, blocked: 0, blocked_at: 0, version: this.ch.nextVersion() },
    ]);
    return true;
  }

  async blockedClusters(): Promise<BlockedCluster[]> {
    const rows = await this.ch.rows<{ tracking_id: string; blocked_at: number }>(
      sql`SELECT tracking_id, blocked_at FROM blocked_clusters FINAL WHERE blocked = 1
          ORDER BY blocked_at DESC, tracking_id`,
    );
    return rows.map((r) => ({ trackingId: r.tracking_id, blockedAt: Number(r.blocked_at) }));
  }

  async appendAudit(entry: AuditEntry): Promise<void> {
    await this.ch.insert('audit_log', [{ id: this.ch.nextVersion(), ...entry }]);
  }

  async auditLog(query: { limit: number; before?: number | undefined }): Promise<StoredAuditEntry[]> {
    const rows = await this.ch.rows<StoredAuditEntry>(
      sql`SELECT id, at, actor, action, target, details FROM audit_log
          WHERE ${query.before === undefined ? sql`1` : sql`id < ${query.before}`}
          ORDER BY id DESC LIMIT ${query.limit}`,
    );
    return rows.map((r) => ({ ...r, id: Number(r.id), at: Number(r.at) }));
  }

  private async tokens(where: Sql): Promise<(TokenColumns & { version: number })[]> {
    return this.ch.rows(
      sql`SELECT id, hash, role, label, created_at, expires_at, revoked_at, version
          FROM tokens FINAL WHERE ${where} ORDER BY created_at, id`,
    );
  }

  private async writeToken(columns: TokenColumns): Promise<void> {
    await this.ch.insert('tokens', [{ ...columns, version: this.ch.nextVersion() }]);
  }

  async createFirstAdminToken(token: TokenRecord): Promise<boolean> {
    const admins = await this.tokens(sql`role = 'admin'`);
    if (admins.some((t) => t.revoked_at === null)) return false;
    // Of the collectors that start together, the one that wins the claim creates the token. The
    // claim is numbered by the admin tokens ever made, so a start after all were revoked claims anew.
    if (!(await this.ch.claim(`first_admin_claim_${admins.length}`))) return false;
    await this.writeToken(tokenColumns(token));
    return true;
  }

  async putToken(token: TokenRecord): Promise<void> {
    const [known] = await this.tokens(sql`hash = ${token.hash}`);
    await this.writeToken(
      known
        ? { ...known, role: token.role, revoked_at: null, expires_at: token.expiresAt }
        : tokenColumns(token),
    );
  }

  async findTokenByHash(hash: string): Promise<TokenRecord | null> {
    const [row] = await this.tokens(sql`hash = ${hash}`);
    return row ? tokenRecord(row) : null;
  }

  async listTokens(): Promise<TokenRecord[]> {
    return (await this.tokens(sql`1`)).map(tokenRecord);
  }

  async revokeToken(id: string, at: number): Promise<boolean> {
    const [active] = await this.tokens(sql`id = ${id} AND revoked_at IS NULL`);
    if (!active) return false;
    await this.writeToken({ ...active, revoked_at: at });
    return true;
  }
}
