// The migration list: in run order, one entry per module, and no shipped name lost.
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MIGRATIONS, migrationProvider } from './index.js';

const names = MIGRATIONS.map(([name]) => name);

/** Names existing stores have recorded in kysely_migration: each must stay, spelled the same. */
const SHIPPED = [
  '0001_initial',
  '0002_agent_reports',
  '0003_cluster_days',
  '0004_cluster_facts',
  '0005_cluster_day_facts',
  '0006_internal_clusters',
  '0007_fleet_rollups',
  '0010_privacy',
  '0011_blocked_clusters',
  '0012_audit_log',
  '0013_fewer_ingest_indexes',
  '0025_metric_rollup',
  '0026_agent_event_order',
  '0030_fleet_reads',
  '0031_events_by_time',
  '0032_connector_uses',
  '0033_cluster_day_spans',
  '0034_sessions_index_only',
  '0035_internal_clusters_index',
  '0036_metric_fleet',
  '0037_event_counts_index',
  '0038_retry_keys_time_first',
  '0039_rollup_epoch',
  '0040_legacy_event_keys',
  '0041_day_versions_index',
  '0042_day_versions_recount',
  '0043_metric_fleet_rebuild',
];

describe('the migration list', () => {
  it('is in the order Kysely runs it (sorted by name), each name once', () => {
    expect(names).toEqual([...new Set(names)].sort());
  });

  it('lists every migration module of this folder, each under its own file name', async () => {
    const files = readdirSync(new URL('.', import.meta.url))
      .filter((f) => /^\d{4}_\w+\.ts$/.test(f))
      .map((f) => f.slice(0, -'.ts'.length));
    expect(names).toEqual(files.sort());
    for (const [name, migration] of MIGRATIONS) {
      const module = await import(new URL(`./${name}.ts`, import.meta.url).href);
      expect(module.migration, name).toBe(migration);
    }
  });

  it('keeps every shipped migration', () => {
    expect(names).toEqual(expect.arrayContaining(SHIPPED));
  });

  it('gives Kysely every migration on both dialects', async () => {
    for (const dialect of [
      { kind: 'sqlite', types: { serial: 'integer', blob: 'blob' } },
      { kind: 'postgres', types: { serial: 'bigserial', blob: 'bytea' } },
    ] as const) {
      const given = await migrationProvider(dialect).getMigrations();
      expect(Object.keys(given)).toEqual(names);
      for (const migration of Object.values(given)) expect(typeof migration.up).toBe('function');
    }
  });
});
