import { type Kysely, type Migration, sql } from 'kysely';
import { spanSeries } from '../metric-fleet-writes.js';
import type { MetricSpansTable } from '../schema.js';
import { chunks } from '../statement-chunks.js';

export const migration: Migration = {
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
    await db.schema.createIndex('metric_spans_cluster').on('metric_spans').column('tracking_id').execute();
    const { rows: spans } = await sql<Omit<MetricSpansTable, 'series'>>`select name, tracking_id, kind, ci,
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
};
