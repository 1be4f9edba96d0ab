import type { Kysely, Migration } from 'kysely';
import { type MigrationDialect, serialKey } from './migration-dialect.js';

export function migration(dialect: MigrationDialect): Migration {
  return {
    async up(db: Kysely<unknown>) {
      const serial = serialKey(dialect);
      // One row per native (v3) agent report; report_id is the agent's dedup key.
      await db.schema
        .createTable('agent_reports')
        .addColumn('id', dialect.types.serial, serial)
        .addColumn('report_id', 'text', (c) => c.notNull().unique())
        .addColumn('tracking_id', 'text', (c) => c.notNull())
        .addColumn('session_id', 'text', (c) => c.notNull())
        .addColumn('node_type', 'text', (c) => c.notNull())
        .addColumn('received_at', 'bigint', (c) => c.notNull())
        .addColumn('received_day', 'text', (c) => c.notNull())
        .addColumn('sequence', 'bigint', (c) => c.notNull())
        .addColumn('is_leader', 'integer', (c) => c.notNull())
        .addColumn('version', 'text')
        .addColumn('git_sha', 'text')
        .addColumn('cluster_type', 'text')
        .addColumn('ci', 'integer', (c) => c.notNull())
        .addColumn('interval_start_ms', 'bigint', (c) => c.notNull())
        .addColumn('interval_end_ms', 'bigint', (c) => c.notNull())
        .addColumn('memory_used', 'bigint')
        .addColumn('memory_total', 'bigint')
        .addColumn('os_name', 'text')
        .addColumn('os_version', 'text')
        .addColumn('os_kernel', 'text')
        .addColumn('cpu_available', 'double precision')
        .addColumn('heap_used', 'bigint')
        .addColumn('event_loop_delay_p99', 'double precision')
        .addColumn('uptime', 'double precision')
        .addColumn('runtime', 'text')
        .addColumn('agent_version', 'text')
        .addColumn('cluster_facts', 'text')
        .addColumn('drops', 'text')
        .addColumn('flags', 'text')
        .addColumn('raw', dialect.types.blob, (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('agent_reports_cluster')
        .on('agent_reports')
        .columns(['tracking_id', 'received_at'])
        .execute();
      await db.schema
        .createIndex('agent_reports_day')
        .on('agent_reports')
        .columns(['received_day'])
        .execute();

      // One row per metric series per report. The grouping columns (version, cluster type, node
      // type, ci) are copied from the report so fleet questions need no join.
      await db.schema
        .createTable('metric_points')
        .addColumn('id', dialect.types.serial, serial)
        .addColumn('report_id', 'text', (c) => c.notNull())
        .addColumn('tracking_id', 'text', (c) => c.notNull())
        .addColumn('received_at', 'bigint', (c) => c.notNull())
        .addColumn('received_day', 'text', (c) => c.notNull())
        .addColumn('node_type', 'text', (c) => c.notNull())
        .addColumn('version', 'text')
        .addColumn('cluster_type', 'text')
        .addColumn('ci', 'integer', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('unit', 'text', (c) => c.notNull())
        .addColumn('labels', 'text', (c) => c.notNull())
        .addColumn('value', 'double precision', (c) => c.notNull())
        .addColumn('histogram', 'text')
        .execute();
      await db.schema
        .createIndex('metric_points_name_day')
        .on('metric_points')
        .columns(['name', 'received_day'])
        .execute();
      await db.schema
        .createIndex('metric_points_cluster')
        .on('metric_points')
        .columns(['tracking_id'])
        .execute();

      // Distinct series per cluster, for the per-cluster caps on metric names and label sets.
      await db.schema
        .createTable('metric_series')
        .addColumn('tracking_id', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('labels', 'text', (c) => c.notNull())
        .addColumn('first_seen', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('metric_series_pk', ['tracking_id', 'name', 'labels'])
        .execute();

      await db.schema
        .createTable('agent_events')
        .addColumn('id', dialect.types.serial, serial)
        .addColumn('report_id', 'text', (c) => c.notNull())
        .addColumn('tracking_id', 'text', (c) => c.notNull())
        .addColumn('received_at', 'bigint', (c) => c.notNull())
        .addColumn('received_day', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('time_ms', 'bigint', (c) => c.notNull())
        .addColumn('fields', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('agent_events_cluster')
        .on('agent_events')
        .columns(['tracking_id', 'received_at'])
        .execute();
    },
  };
}
