import type { Kysely, Migration } from 'kysely';
import { type MigrationDialect, serialKey } from './migration-dialect.js';

export function migration(dialect: MigrationDialect): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('reports')
        .addColumn('id', dialect.types.serial, serialKey(dialect))
        .addColumn('dedup_key', 'text', (c) => c.notNull().unique())
        .addColumn('tracking_id', 'text', (c) => c.notNull())
        .addColumn('session_id', 'text', (c) => c.notNull())
        .addColumn('node_type', 'text', (c) => c.notNull())
        .addColumn('protocol', 'text', (c) => c.notNull())
        .addColumn('received_at', 'bigint', (c) => c.notNull())
        .addColumn('received_day', 'text', (c) => c.notNull())
        .addColumn('report_time', 'bigint', (c) => c.notNull())
        .addColumn('up_time', 'bigint', (c) => c.notNull())
        .addColumn('ci', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('flags', 'text')
        .addColumn('memory_used', 'bigint')
        .addColumn('memory_total', 'bigint')
        .addColumn('os_name', 'text')
        .addColumn('os_version', 'text')
        .addColumn('os_kernel', 'text')
        .addColumn('cpu_available', 'double precision')
        .addColumn('version', 'text')
        .addColumn('git_sha', 'text')
        .addColumn('meta_backend', 'text')
        .addColumn('cluster_type', 'text')
        .addColumn('node_meta', 'bigint')
        .addColumn('node_compute', 'bigint')
        .addColumn('node_frontend', 'bigint')
        .addColumn('node_compactor', 'bigint')
        .addColumn('stream_job_count', 'bigint')
        .addColumn('object_store', 'text')
        .addColumn('connectors', 'text')
        .addColumn('connector_usage', 'text')
        .addColumn('stream_jobs', 'text')
        .addColumn('license_tier', 'text')
        .addColumn('raw', dialect.types.blob, (c) => c.notNull())
        .execute();
      // The cluster page: latest meta report, counts per node type.
      await db.schema
        .createIndex('reports_cluster')
        .on('reports')
        .columns(['tracking_id', 'node_type', 'received_at'])
        .execute();
      await db.schema.createIndex('reports_day').on('reports').columns(['received_day']).execute();

      await db.schema
        .createTable('events')
        .addColumn('id', dialect.types.serial, serialKey(dialect))
        .addColumn('dedup_key', 'text', (c) => c.notNull().unique())
        .addColumn('tracking_id', 'text', (c) => c.notNull())
        .addColumn('received_at', 'bigint', (c) => c.notNull())
        .addColumn('received_day', 'text', (c) => c.notNull())
        .addColumn('event_time_sec', 'bigint', (c) => c.notNull())
        .addColumn('stage', 'text')
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('connector_name', 'text')
        .addColumn('catalog_id', 'bigint', (c) => c.notNull())
        .addColumn('attributes', 'text')
        .addColumn('node', 'text', (c) => c.notNull())
        .addColumn('object', 'text')
        .addColumn('flags', 'text')
        .addColumn('raw', dialect.types.blob, (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('events_cluster')
        .on('events')
        .columns(['tracking_id', 'received_at'])
        .execute();
      await db.schema.createIndex('events_day').on('events').columns(['received_day']).execute();

      await db.schema
        .createTable('clusters')
        .addColumn('tracking_id', 'text', (c) => c.primaryKey())
        .addColumn('first_seen', 'bigint', (c) => c.notNull())
        .addColumn('last_seen', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('clusters_last_seen').on('clusters').columns(['last_seen']).execute();

      await db.schema
        .createTable('tokens')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('hash', 'text', (c) => c.notNull().unique())
        .addColumn('role', 'text', (c) => c.notNull())
        .addColumn('label', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('expires_at', 'bigint')
        .addColumn('revoked_at', 'bigint')
        .execute();
    },
  };
}
