// Versioned schema migrations, run at start by Kysely's Migrator (which serializes concurrent
// runs: an advisory lock on PostgreSQL, SQLite's single writer). Never edit a shipped migration:
// add the next one.
import { decodeV2Event, type NodeReport } from '@tidewatch/protocol';
import {
  type ColumnDefinitionBuilder,
  type Kysely,
  type Migration,
  type MigrationProvider,
  type RawBuilder,
  sql,
} from 'kysely';
// A data migration computes retry keys as ingest does (0038): the one place the store layer reads
// the ingest code.
import { eventKey, reportKey } from '../../ingest/rows.js';
import { connectorUseCounts } from '../connector-uses.js';
import { boundaryValue, LEGACY_EVENT_KEYS_SETTING } from '../legacy-event-keys.js';
import { foldPoints, type PointRow } from '../metric-rollup.js';
import { DAY_SPAN_COLUMNS, DAY_SPAN_SET, NO_NEXT_DAY } from './cluster-rollups.js';
import type { DialectTypes } from './dialect.js';
import { spanSeries } from './metric-fleet-writes.js';
import type { MetricSpansTable } from './schema.js';
import { chunks, ROWS_PER_STATEMENT } from './statement-chunks.js';

function migrations(types: DialectTypes): Record<string, Migration> {
  return {
    '0001_initial': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('reports')
          .addColumn('id', types.serial, (c) =>
            types.serial === 'integer' ? c.primaryKey().autoIncrement() : c.primaryKey(),
          )
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
          .addColumn('raw', types.blob, (c) => c.notNull())
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
          .addColumn('id', types.serial, (c) =>
            types.serial === 'integer' ? c.primaryKey().autoIncrement() : c.primaryKey(),
          )
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
          .addColumn('raw', types.blob, (c) => c.notNull())
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
    },
    '0002_agent_reports': {
      async up(db: Kysely<unknown>) {
        const serial = (c: ColumnDefinitionBuilder) =>
          types.serial === 'integer' ? c.primaryKey().autoIncrement() : c.primaryKey();
        // One row per native (v3) agent report; report_id is the agent's dedup key.
        await db.schema
          .createTable('agent_reports')
          .addColumn('id', types.serial, serial)
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
          .addColumn('raw', types.blob, (c) => c.notNull())
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
          .addColumn('id', types.serial, serial)
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
          .addColumn('id', types.serial, serial)
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
    },
    '0003_cluster_days': {
      async up(db: Kysely<unknown>) {
        // Rollup: which clusters sent at least one report on which UTC day (maintained in the
        // write transaction), so daily active counts never scan raw reports. ci = 1 only when every
        // report of that cluster that day came from CI.
        await db.schema
          .createTable('cluster_days')
          .addColumn('day', 'text', (c) => c.notNull())
          .addColumn('tracking_id', 'text', (c) => c.notNull())
          .addColumn('ci', 'integer', (c) => c.notNull())
          .addPrimaryKeyConstraint('cluster_days_pk', ['day', 'tracking_id'])
          .execute();
        await db.schema
          .createIndex('cluster_days_cluster')
          .on('cluster_days')
          .columns(['tracking_id'])
          .execute();
        // Existing data (stores created before this migration).
        await sql`insert into cluster_days (day, tracking_id, ci)
          select received_day, tracking_id, min(ci) from (
            select received_day, tracking_id, ci from reports
            union all select received_day, tracking_id, ci from agent_reports
          ) r group by received_day, tracking_id`.execute(db);
        // Breakdowns pick each cluster's latest meta report in a range.
        await db.schema
          .createIndex('reports_meta_latest')
          .on('reports')
          .columns(['node_type', 'received_day', 'tracking_id', 'received_at'])
          .execute();
      },
    },
    '0004_cluster_facts': {
      async up(db: Kysely<unknown>) {
        // Rollup: each cluster's latest meta facts (from its most recently received meta report),
        // kept in the write transaction so that listing and searching clusters reads one row each.
        for (const column of ['version', 'git_sha', 'cluster_type', 'meta_backend']) {
          await db.schema.alterTable('clusters').addColumn(column, 'text').execute();
        }
        await db.schema.alterTable('clusters').addColumn('facts_at', 'bigint').execute();
        await sql`update clusters set
            version = r.version, git_sha = r.git_sha, cluster_type = r.cluster_type,
            meta_backend = r.meta_backend, facts_at = r.received_at
          from (select tracking_id, version, git_sha, cluster_type, meta_backend, received_at,
                  row_number() over (partition by tracking_id order by received_at desc, id desc) as rn
                from reports where node_type = 'meta') r
          where r.rn = 1 and r.tracking_id = clusters.tracking_id`.execute(db);
      },
    },
    '0005_cluster_day_facts': {
      async up(db: Kysely<unknown>) {
        // Rollup: each cluster's facts per UTC day, from its latest meta report that day, kept in
        // the write transaction. Breakdowns and version adoption read these (clusters × days rows)
        // instead of every raw meta report.
        await db.schema
          .createTable('cluster_day_facts')
          .addColumn('day', 'text', (c) => c.notNull())
          .addColumn('tracking_id', 'text', (c) => c.notNull())
          .addColumn('facts_at', 'bigint', (c) => c.notNull())
          .addColumn('version', 'text')
          .addColumn('cluster_type', 'text')
          .addColumn('meta_backend', 'text')
          .addColumn('os_name', 'text')
          .addColumn('object_store', 'text')
          .addColumn('connectors', 'text')
          .addPrimaryKeyConstraint('cluster_day_facts_pk', ['day', 'tracking_id'])
          .execute();
        await db.schema
          .createIndex('cluster_day_facts_cluster')
          .on('cluster_day_facts')
          .columns(['tracking_id', 'day'])
          .execute();
        await sql`insert into cluster_day_facts
            (day, tracking_id, facts_at, version, cluster_type, meta_backend, os_name, object_store, connectors)
          select received_day, tracking_id, received_at, version, cluster_type, meta_backend, os_name, object_store, connectors
          from (select r.*, row_number() over (partition by tracking_id, received_day order by received_at desc, id desc) as rn
                from reports r where node_type = 'meta') m
          where rn = 1`.execute(db);
      },
    },
    '0006_internal_clusters': {
      async up(db: Kysely<unknown>) {
        // An admin's tag for the team's own and cloud-hosted clusters: left out of statistics
        // unless asked for, like CI.
        await db.schema
          .alterTable('clusters')
          .addColumn('internal', 'integer', (c) => c.notNull().defaultTo(0))
          .execute();
      },
    },
    '0007_fleet_rollups': {
      async up(db: Kysely<unknown>) {
        // Deployment shape per cluster and day (distributions, connectors by format and encode,
        // license tiers), from the same latest meta report of the day as the other facts.
        for (const column of [
          'memory_total',
          'node_meta',
          'node_compute',
          'node_frontend',
          'node_compactor',
          'stream_job_count',
        ]) {
          await db.schema.alterTable('cluster_day_facts').addColumn(column, 'bigint').execute();
        }
        for (const column of ['license_tier', 'connector_usage']) {
          await db.schema.alterTable('cluster_day_facts').addColumn(column, 'text').execute();
        }
        await sql`update cluster_day_facts set
            memory_total = r.memory_total, node_meta = r.node_meta, node_compute = r.node_compute,
            node_frontend = r.node_frontend, node_compactor = r.node_compactor,
            stream_job_count = r.stream_job_count, license_tier = r.license_tier,
            connector_usage = r.connector_usage
          from (select tracking_id, received_at, memory_total, node_meta, node_compute, node_frontend,
                  node_compactor, stream_job_count, license_tier, connector_usage,
                  row_number() over (partition by tracking_id, received_at order by id desc) as rn
                from reports where node_type = 'meta') r
          where r.rn = 1 and r.tracking_id = cluster_day_facts.tracking_id
            and r.received_at = cluster_day_facts.facts_at`.execute(db);

        // Each active cluster-day knows the cluster's version that day (its latest meta facts up
        // to that day, carried forward), and day_versions counts them: active clusters per day and
        // version adoption read a few rows per day instead of every cluster-day.
        await db.schema.alterTable('cluster_days').addColumn('version', 'text').execute();
        await sql`update cluster_days set version = (
            select f.version from cluster_day_facts f
            where f.tracking_id = cluster_days.tracking_id and f.day <= cluster_days.day
            order by f.day desc limit 1)`.execute(db);
        // Per cluster: first and last day, and "any day in a range" answered by one index seek.
        await db.schema
          .createIndex('cluster_days_cluster_day')
          .on('cluster_days')
          .columns(['tracking_id', 'day', 'ci'])
          .execute();
        await db.schema
          .createTable('day_versions')
          .addColumn('day', 'text', (c) => c.notNull())
          .addColumn('version', 'text')
          .addColumn('ci', 'integer', (c) => c.notNull())
          .addColumn('clusters', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('day_versions_day').on('day_versions').columns(['day']).execute();
        await sql`insert into day_versions (day, version, ci, clusters)
          select day, version, ci, count(*) from cluster_days group by day, version, ci`.execute(db);
      },
    },
    '0010_privacy': {
      async up(db: Kysely<unknown>) {
        // Values the store keeps for itself: the salt of the license-subject hash, generated once
        // per store so every collector sharing it hashes alike.
        await db.schema
          .createTable('settings')
          .addColumn('key', 'text', (c) => c.primaryKey())
          .addColumn('value', 'text', (c) => c.notNull())
          .execute();
        // The license's `sub` (a customer name) as a salted hash, or in clear if the operator opted in.
        await db.schema.alterTable('reports').addColumn('license_subject', 'text').execute();
      },
    },
    '0011_blocked_clusters': {
      async up(db: Kysely<unknown>) {
        // An erase blocks the id: its new reports are answered 200 and dropped until an admin lifts it.
        await db.schema
          .createTable('blocked_clusters')
          .addColumn('tracking_id', 'text', (c) => c.primaryKey())
          .addColumn('blocked_at', 'bigint', (c) => c.notNull())
          .execute();
      },
    },
    '0012_audit_log': {
      async up(db: Kysely<unknown>) {
        // Who (a token id, never a token) did which admin action, when.
        await db.schema
          .createTable('audit_log')
          .addColumn('id', types.serial, (c) =>
            types.serial === 'integer' ? c.primaryKey().autoIncrement() : c.primaryKey(),
          )
          .addColumn('at', 'bigint', (c) => c.notNull())
          .addColumn('actor', 'text', (c) => c.notNull())
          .addColumn('action', 'text', (c) => c.notNull())
          .addColumn('target', 'text')
          .addColumn('details', 'text')
          .execute();
        await db.schema.createIndex('audit_log_at').on('audit_log').columns(['at']).execute();
      },
    },
    '0025_metric_rollup': {
      async up(db: Kysely<unknown>) {
        // Rollup: each metric's points per UTC day, cluster and series, folded in the write
        // transaction (store/metric-rollup.ts), so fleet metric questions never scan raw points.
        await db.schema
          .createTable('metric_rollup')
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('day', 'text', (c) => c.notNull())
          .addColumn('tracking_id', 'text', (c) => c.notNull())
          .addColumn('group_key', 'text', (c) => c.notNull())
          .addColumn('node_type', 'text', (c) => c.notNull())
          .addColumn('version', 'text')
          .addColumn('cluster_type', 'text')
          .addColumn('ci', 'integer', (c) => c.notNull())
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('labels', 'text', (c) => c.notNull())
          .addColumn('points', 'bigint', (c) => c.notNull())
          .addColumn('total', 'double precision', (c) => c.notNull())
          .addColumn('min_value', 'double precision', (c) => c.notNull())
          .addColumn('max_value', 'double precision', (c) => c.notNull())
          .addColumn('last_at', 'bigint', (c) => c.notNull())
          .addColumn('last_report', 'text', (c) => c.notNull())
          .addColumn('last_value', 'double precision', (c) => c.notNull())
          .addColumn('histogram', 'text')
          .addPrimaryKeyConstraint('metric_rollup_pk', ['name', 'day', 'tracking_id', 'group_key'])
          .execute();
        await db.schema
          .createIndex('metric_rollup_cluster')
          .on('metric_rollup')
          .columns(['tracking_id'])
          .execute();
        // Existing points, folded one metric-day at a time (bounded memory on a big store).
        const { rows: keys } = await sql<{ name: string; received_day: string }>`
          select distinct name, received_day from metric_points order by name, received_day`.execute(db);
        for (const k of keys) {
          const { rows: points } = await sql<PointRow>`select report_id, tracking_id, received_at,
              received_day, node_type, version, cluster_type, ci, name, kind, labels, value, histogram
            from metric_points where name = ${k.name} and received_day = ${k.received_day}
            order by received_at, id`.execute(db);
          for (const chunk of chunks(foldPoints(points))) {
            await db
              .insertInto('metric_rollup' as never)
              .values(chunk as never)
              .execute();
          }
        }
      },
    },
    '0026_agent_event_order': {
      async up(db: Kysely<unknown>) {
        // Agent events are listed newest first by (received_at, report_id, seq) on every store
        // (ClickHouse has no serial id); rows stored before keep their id as seq, which orders
        // them within their report the same way.
        await db.schema.alterTable('agent_events').addColumn('seq', 'bigint').execute();
        await sql`update agent_events set seq = id`.execute(db);
        await db.schema
          .createIndex('agent_events_received')
          .on('agent_events')
          .columns(['received_at', 'report_id', 'seq'])
          .execute();
      },
    },
    '0013_fewer_ingest_indexes': {
      async up(db: Kysely<unknown>) {
        // Every index is written by every report. reports_meta_latest served breakdowns that now
        // read rollups (cluster_day_facts); cluster_days_cluster is a prefix of
        // cluster_days_cluster_day. Measured: about a quarter of the pages a SQLite commit wrote.
        await db.schema.dropIndex('reports_meta_latest').ifExists().execute();
        await db.schema.dropIndex('cluster_days_cluster').ifExists().execute();
      },
    },
    '0030_fleet_reads': {
      async up(db: Kysely<unknown>) {
        // Each facts row knows the cluster's next facts day (NO_NEXT_DAY if none): the cluster's
        // latest facts in [from, to] are the rows with from <= day <= to < next_day, one index
        // range instead of a seek per cluster (sql/cluster-rollups.ts keeps it at ingest).
        await db.schema
          .alterTable('cluster_day_facts')
          .addColumn('next_day', 'text', (c) => c.notNull().defaultTo(NO_NEXT_DAY))
          .execute();
        await sql`update cluster_day_facts set next_day = n.next_day
          from (select tracking_id, day,
                  lead(day) over (partition by tracking_id order by day) as next_day
                from cluster_day_facts) n
          where n.next_day is not null and n.tracking_id = cluster_day_facts.tracking_id
            and n.day = cluster_day_facts.day`.execute(db);
        await db.schema
          .createIndex('cluster_day_facts_next')
          .on('cluster_day_facts')
          .columns(['next_day', 'day'])
          .execute();
        // CI-only cluster-days are few (RisingWave never sends CI): "left out as CI" reads them
        // alone instead of every cluster-day of the range. The literal `ci = 1` must be in the query.
        await db.schema
          .createIndex('cluster_days_ci')
          .on('cluster_days')
          .columns(['day', 'tracking_id'])
          .where(sql.ref('ci'), '=', sql.lit(1))
          .execute();
      },
    },
    '0031_events_by_time': {
      async up(db: Kysely<unknown>) {
        // Events newest first: the newest page is the end of this index, not a sort of every event
        // of the range. Keys grow at the right edge, so ingest pays little for it.
        await db.schema.createIndex('events_received').on('events').columns(['received_at', 'id']).execute();
      },
    },
    '0032_connector_uses': {
      async up(db: Kysely<unknown>) {
        // Each facts row's connector uses, counted once when written (store/connector-uses.ts): the
        // connectors statistic adds those up instead of parsing every cluster's JSON per request.
        await db.schema.alterTable('cluster_day_facts').addColumn('connector_uses', 'text').execute();
        // Existing rows, a page at a time in key order; a JSON text seen before is not parsed again.
        const counted = new Map<string | null, string>();
        let after: { day: string; tracking_id: string } | undefined;
        for (;;) {
          const { rows } = await sql<{ day: string; tracking_id: string; connector_usage: string | null }>`
            select day, tracking_id, connector_usage from cluster_day_facts
            ${after ? sql`where (day, tracking_id) > (${after.day}, ${after.tracking_id})` : sql``}
            order by day, tracking_id limit ${ROWS_PER_STATEMENT}`.execute(db);
          if (rows.length === 0) break;
          if (counted.size > 10_000) counted.clear();
          const values = rows.map((r) => {
            let uses = counted.get(r.connector_usage);
            if (uses === undefined) {
              uses = JSON.stringify(connectorUseCounts(r.connector_usage));
              counted.set(r.connector_usage, uses);
            }
            return sql`(${r.day}, ${r.tracking_id}, ${uses})`;
          });
          // `update … from`: a key lookup per listed row (a correlated subquery over the list was
          // a scan of the list per row on PostgreSQL).
          await sql`with v(day, tracking_id, uses) as (values ${sql.join(values)})
            update cluster_day_facts set connector_uses = v.uses from v
            where v.day = cluster_day_facts.day and v.tracking_id = cluster_day_facts.tracking_id`.execute(
            db,
          );
          after = rows.at(-1);
        }
      },
    },
    '0033_cluster_day_spans': {
      async up(db: Kysely<unknown>) {
        // Each cluster's first and last active day (of all, and of those not all-CI), kept by the
        // clusters upsert: the overview and the active count read one row per cluster, and seek
        // into cluster_days only for clusters active after the range.
        for (const column of DAY_SPAN_COLUMNS) {
          await db.schema.alterTable('clusters').addColumn(column, 'text').execute();
        }
        await sql`update clusters set ${sql.raw(DAY_SPAN_SET)}`.execute(db);
      },
    },
    '0034_sessions_index_only': {
      async up(db: Kysely<unknown>) {
        // PostgreSQL only: a cluster's sessions (its history page) are grouped from its reports.
        // With the columns they need in the index that is an index-only scan of a few dozen pages
        // instead of a heap page per report (a cold cluster of a 10M store: 2,145 page reads, the
        // route's p95 127 ms against p50 12). The same key, so every other use of the old index
        // is served as before. SQLite has no INCLUDE, and its history meets the goal without.
        if (types.blob !== 'bytea') return;
        await sql`create index reports_cluster_sessions on reports (tracking_id, node_type, received_at)
          include (session_id, memory_total, cpu_available)`.execute(db);
        await sql`drop index reports_cluster`.execute(db);
        await sql`create index agent_reports_cluster_sessions on agent_reports (tracking_id, received_at)
          include (session_id, node_type, memory_total, cpu_available)`.execute(db);
        await sql`drop index agent_reports_cluster`.execute(db);
      },
    },
    '0035_internal_clusters_index': {
      async up(db: Kysely<unknown>) {
        // Every statistic leaves internal clusters out with `not in (select … where internal = 1)`.
        // Without an index that is a scan of all clusters per query, and the clusters table is
        // updated by every batch: on the 10M PostgreSQL store (2,940 rows in 2,523 pages after the
        // fill) the scan took 66 ms each time, once per page of a metric answer. The few internal
        // ones now come from a partial index.
        await db.schema
          .createIndex('clusters_internal')
          .ifNotExists()
          .on('clusters')
          .column('tracking_id')
          .where(sql.ref('internal'), '=', 1)
          .execute();
      },
    },
    '0037_event_counts_index': {
      async up(db: Kysely<unknown>) {
        // `GET /query/event-counts` groups a range's events by day, name, stage, connector or
        // cluster and counts distinct clusters: with every column it reads in one index it is an
        // index-only scan (at 10M reports, a year of 122k events: 68-77 ms p50 reading the table
        // through events_day). events_day is this index's prefix, so it goes.
        await db.schema
          .createIndex('events_counts')
          .on('events')
          .columns(['received_day', 'name', 'stage', 'connector_name', 'tracking_id'])
          .execute();
        await db.schema.dropIndex('events_day').execute();
      },
    },
    '0036_metric_fleet': {
      async up(db: Kysely<unknown>) {
        // Fleet metric cells (store/sql/metric-fleet.ts): a metric's per-cluster rollup rows
        // folded across clusters per day, grouping family and value, built by the first question
        // that needs a day; metric_fleet_days says which days are fresh (every day that has rows
        // starts stale); metric_spans holds each cluster's first and last day per metric and
        // series, for distinct cluster counts.
        await db.schema
          .createTable('metric_fleet')
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('day', 'text', (c) => c.notNull())
          .addColumn('family', 'text', (c) => c.notNull())
          .addColumn('value_key', 'text', (c) => c.notNull())
          .addColumn('value', 'text')
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('ci', 'integer', (c) => c.notNull())
          .addColumn('internal', 'integer', (c) => c.notNull())
          .addColumn('total', 'double precision', (c) => c.notNull())
          .addColumn('histogram', 'text')
          .addColumn('last_at', 'bigint', (c) => c.notNull())
          .addColumn('last_report', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('metric_fleet_pk', [
            'name',
            'family',
            'day',
            'value_key',
            'kind',
            'ci',
            'internal',
          ])
          .execute();
        await db.schema
          .createTable('metric_fleet_days')
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('day', 'text', (c) => c.notNull())
          .addColumn('fresh', 'integer', (c) => c.notNull())
          .addPrimaryKeyConstraint('metric_fleet_days_pk', ['name', 'day'])
          .execute();
        await sql`insert into metric_fleet_days (name, day, fresh)
          select distinct name, day, 0 from metric_rollup`.execute(db);
        await db.schema
          .createTable('metric_spans')
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('tracking_id', 'text', (c) => c.notNull())
          .addColumn('series', 'text', (c) => c.notNull())
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('ci', 'integer', (c) => c.notNull())
          .addColumn('version', 'text')
          .addColumn('cluster_type', 'text')
          .addColumn('node_type', 'text', (c) => c.notNull())
          .addColumn('first_day', 'text', (c) => c.notNull())
          .addColumn('last_day', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('metric_spans_pk', ['name', 'tracking_id', 'series'])
          .execute();
        await db.schema
          .createIndex('metric_spans_cluster')
          .on('metric_spans')
          .column('tracking_id')
          .execute();
        const { rows: spans } = await sql<
          Omit<MetricSpansTable, 'series'>
        >`select name, tracking_id, kind, ci,
            version, cluster_type, node_type, min(day) as first_day, max(day) as last_day
          from metric_rollup group by name, tracking_id, kind, ci, version, cluster_type, node_type`.execute(
          db,
        );
        for (const chunk of chunks(spans.map((s) => ({ ...s, ci: Number(s.ci), series: spanSeries(s) })))) {
          await db
            .insertInto('metric_spans' as never)
            .values(chunk as never)
            .execute();
        }
      },
    },
    '0039_rollup_epoch': {
      async up(db: Kysely<unknown>) {
        // Incremented by every erase and retention pass, in their own transactions: a writer that
        // remembers which rollup rows exist (sql/rollup-memo.ts) forgets it when this moves.
        await db.schema
          .createTable('rollup_epoch')
          .addColumn('id', 'integer', (c) => c.primaryKey())
          .addColumn('epoch', 'bigint', (c) => c.notNull())
          .execute();
        await sql`insert into rollup_epoch (id, epoch) values (1, 0)`.execute(db);
      },
    },
    '0038_retry_keys_time_first': {
      // Stores written before retry keys began with the message's time (2026-11-26, commit a51942a)
      // hold keys of the old format: a retry or a replayed import of such a row got a new-format
      // key and was stored a second time. Each old-format key is computed again the way ingest
      // computes it now, from the row's columns (reports) or its own raw bytes (events). A row whose
      // new key is already stored (a copy stored after an upgrade) keeps its old key: removing one
      // copy would also take it out of the rollups.
      async up(db: Kysely<unknown>): Promise<void> {
        await rekey(db, types, {
          table: 'reports',
          time: 'report_time',
          columns: sql`tracking_id, session_id, node_type, report_time, flags, raw`,
          key: (r) =>
            reportKey(
              {
                trackingId: r.tracking_id as string,
                sessionId: r.session_id as string,
                nodeType: r.node_type as NodeReport['nodeType'],
                reportTime: Number(r.report_time),
                flags: (r.flags ? String(r.flags).split(',') : []) as NodeReport['flags'],
              },
              r.raw as Uint8Array,
            ),
        });
        await rekey(db, types, {
          table: 'events',
          time: 'event_time_sec',
          columns: sql`raw`,
          key: (r) => {
            const raw = r.raw as Uint8Array;
            try {
              return eventKey(decodeV2Event(raw), raw);
            } catch {
              return null; // not decodable by this version: left as it is
            }
          },
        });
      },
    },
    '0040_legacy_event_keys': {
      // Events stored until now may hold retry keys without their request's hash (before commit
      // b2b470f): ingest looks their old keys up up to this boundary (store/legacy-event-keys.ts).
      // One indexed row, not max() over a column a big store would read whole.
      async up(db: Kysely<unknown>): Promise<void> {
        const { rows } = await sql`select 1 from events limit 1`.execute(db);
        const value = boundaryValue(rows.length > 0, Date.now());
        await sql`insert into settings (key, value) values (${LEGACY_EVENT_KEYS_SETTING}, ${value})`.execute(
          db,
        );
      },
    },
    '0041_day_versions_index': {
      // Every commit that adds a cluster-day recounts that day's clusters per version and ci
      // (ROLLUP_SQL.countDay). Through the primary key it read each row from the table: ~1 s per
      // commit with 232,000 clusters that day, which anyone posting reports with new tracking ids
      // could cause. With the columns it reads in one index it is an index-only scan: ~53 ms.
      async up(db: Kysely<unknown>): Promise<void> {
        await db.schema
          .createIndex('cluster_days_versions')
          .on('cluster_days')
          .columns(['day', 'version', 'ci'])
          .execute();
      },
    },
  };
}

/**
 * Gives the rows of `table` whose retry key does not start with their own time (the old format)
 * the key `key` computes, a page of ids at a time (a store may hold millions of old rows).
 */
async function rekey(
  db: Kysely<unknown>,
  types: DialectTypes,
  spec: {
    table: string;
    time: string;
    columns: RawBuilder<unknown>;
    key: (row: Record<string, unknown>) => string | null;
  },
): Promise<void> {
  const time = sql.ref(spec.time);
  // The key's first 14 characters are the time in hex: what the old format never had.
  const prefix =
    types.serial === 'integer' ? sql`printf('%014x', ${time})` : sql`lpad(to_hex(${time}), 14, '0')`;
  const table = sql.table(spec.table);
  let after = 0;
  for (;;) {
    const { rows } = await sql<Record<string, unknown>>`select id, dedup_key, ${spec.columns} from ${table}
      where id > ${after} and substr(dedup_key, 1, 14) <> ${prefix} order by id limit 1000`.execute(db);
    if (rows.length === 0) return;
    for (const row of rows) {
      const key = spec.key(row);
      if (key === null || key === row.dedup_key) continue;
      await sql`update ${table} set dedup_key = ${key} where id = ${row.id}
        and not exists (select 1 from ${table} where dedup_key = ${key})`.execute(db);
    }
    after = Number(rows.at(-1)!.id);
  }
}

export function migrationProvider(types: DialectTypes): MigrationProvider {
  return { getMigrations: async () => migrations(types) };
}
