import { type Kysely, type Migration, sql } from 'kysely';
import { foldPoints, type PointRow } from '../../metric-rollup.js';
import { chunks } from '../statement-chunks.js';

export const migration: Migration = {
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
};
