// Versioned schema migrations, run at start by Kysely's Migrator (which serializes concurrent
// runs: an advisory lock on PostgreSQL, SQLite's single writer). Never edit a shipped migration:
// add the next one. Each is its own module, named by its migration name; a migration that differs
// between SQLite and PostgreSQL is a function of the store's dialect. Their SQL texts keep the
// indentation they shipped with: every store is sent the very statements it always was.
import type { Migration, MigrationProvider } from 'kysely';
import { migration as initial } from './0001_initial.js';
import { migration as agentReports } from './0002_agent_reports.js';
import { migration as clusterDays } from './0003_cluster_days.js';
import { migration as clusterFacts } from './0004_cluster_facts.js';
import { migration as clusterDayFacts } from './0005_cluster_day_facts.js';
import { migration as internalClusters } from './0006_internal_clusters.js';
import { migration as fleetRollups } from './0007_fleet_rollups.js';
import { migration as privacy } from './0010_privacy.js';
import { migration as blockedClusters } from './0011_blocked_clusters.js';
import { migration as auditLog } from './0012_audit_log.js';
import { migration as fewerIngestIndexes } from './0013_fewer_ingest_indexes.js';
import { migration as metricRollup } from './0025_metric_rollup.js';
import { migration as agentEventOrder } from './0026_agent_event_order.js';
import { migration as fleetReads } from './0030_fleet_reads.js';
import { migration as eventsByTime } from './0031_events_by_time.js';
import { migration as connectorUses } from './0032_connector_uses.js';
import { migration as clusterDaySpans } from './0033_cluster_day_spans.js';
import { migration as sessionsIndexOnly } from './0034_sessions_index_only.js';
import { migration as internalClustersIndex } from './0035_internal_clusters_index.js';
import { migration as metricFleet } from './0036_metric_fleet.js';
import { migration as eventCountsIndex } from './0037_event_counts_index.js';
import { migration as retryKeysTimeFirst } from './0038_retry_keys_time_first.js';
import { migration as rollupEpoch } from './0039_rollup_epoch.js';
import { migration as legacyEventKeys } from './0040_legacy_event_keys.js';
import { migration as dayVersionsIndex } from './0041_day_versions_index.js';
import { migration as dayVersionsRecount } from './0042_day_versions_recount.js';
import { migration as metricFleetRebuild } from './0043_metric_fleet_rebuild.js';
import type { MigrationDialect } from './migration-dialect.js';

/** A migration, or one that differs between SQLite and PostgreSQL given the store's dialect. */
type Step = Migration | ((dialect: MigrationDialect) => Migration);

/**
 * Every migration, in the order Kysely runs them (sorted by name). Numbers are given in blocks per
 * line of work, so some were never used (0008-0009, 0014-0024, 0027-0029).
 */
export const MIGRATIONS: readonly (readonly [name: string, step: Step])[] = [
  ['0001_initial', initial],
  ['0002_agent_reports', agentReports],
  ['0003_cluster_days', clusterDays],
  ['0004_cluster_facts', clusterFacts],
  ['0005_cluster_day_facts', clusterDayFacts],
  ['0006_internal_clusters', internalClusters],
  ['0007_fleet_rollups', fleetRollups],
  ['0010_privacy', privacy],
  ['0011_blocked_clusters', blockedClusters],
  ['0012_audit_log', auditLog],
  ['0013_fewer_ingest_indexes', fewerIngestIndexes],
  ['0025_metric_rollup', metricRollup],
  ['0026_agent_event_order', agentEventOrder],
  ['0030_fleet_reads', fleetReads],
  ['0031_events_by_time', eventsByTime],
  ['0032_connector_uses', connectorUses],
  ['0033_cluster_day_spans', clusterDaySpans],
  ['0034_sessions_index_only', sessionsIndexOnly],
  ['0035_internal_clusters_index', internalClustersIndex],
  ['0036_metric_fleet', metricFleet],
  ['0037_event_counts_index', eventCountsIndex],
  ['0038_retry_keys_time_first', retryKeysTimeFirst],
  ['0039_rollup_epoch', rollupEpoch],
  ['0040_legacy_event_keys', legacyEventKeys],
  ['0041_day_versions_index', dayVersionsIndex],
  ['0042_day_versions_recount', dayVersionsRecount],
  ['0043_metric_fleet_rebuild', metricFleetRebuild],
];

export function migrationProvider(dialect: MigrationDialect): MigrationProvider {
  return {
    getMigrations: async () =>
      Object.fromEntries(
        MIGRATIONS.map(([name, step]) => [name, typeof step === 'function' ? step(dialect) : step]),
      ),
  };
}
