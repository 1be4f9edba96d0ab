// The SQL store's answers about metrics: known series, names, points, rollup pages and fleet cells
// (sql-store.ts delegates here; the cells themselves are metric-fleet.ts).
import type { Kysely } from 'kysely';
import { compareCodeUnits } from '../../text-order.js';
import { knownSeriesOf, metricPoint } from '../answers.js';
import { type CellGrouping, lastStoredCellDay, type MetricFleetAnswer } from '../metric-cells.js';
import { METRIC_ROLLUP_PAGE } from '../metric-rollup.js';
import type { KnownSeries, MetricName, MetricPoint, MetricPointQuery, MetricRollup } from '../store.js';
import { internalIds, MetricFleet, rollupPages } from './metric-fleet.js';
import type { Database } from './schema.js';

export class MetricReads {
  private readonly fleet: MetricFleet;

  constructor(private readonly db: Kysely<Database>) {
    this.fleet = new MetricFleet(db);
  }

  async knownSeries(trackingId: string): Promise<KnownSeries> {
    const rows = await this.db
      .selectFrom('metric_series')
      .select(['name', 'labels'])
      .where('tracking_id', '=', trackingId)
      .execute();
    return knownSeriesOf(rows);
  }

  async metricNames(): Promise<MetricName[]> {
    const names = await this.db
      .selectFrom('metric_series')
      .select(['name', (eb) => eb.fn.count('tracking_id').distinct().as('clusters')])
      .groupBy('name')
      .execute();
    const out: MetricName[] = [];
    for (const n of names) {
      // The newest point's kind and unit (index on name, day).
      const latest = await this.db
        .selectFrom('metric_points')
        .select(['kind', 'unit'])
        .where('name', '=', n.name)
        .orderBy('received_day', 'desc')
        .orderBy('id', 'desc')
        .limit(1)
        .executeTakeFirst();
      if (latest)
        out.push({ name: n.name, kind: latest.kind, unit: latest.unit, clusters: Number(n.clusters) });
    }
    return out.sort((a, b) => compareCodeUnits(a.name, b.name));
  }

  async metricPoints(query: MetricPointQuery): Promise<MetricPoint[]> {
    let q = this.db
      .selectFrom('metric_points')
      .select([
        'report_id',
        'tracking_id',
        'received_at',
        'node_type',
        'version',
        'cluster_type',
        'kind',
        'value',
        'histogram',
      ])
      .where('name', '=', query.name)
      .where('received_day', '>=', query.fromDay)
      .where('received_day', '<=', query.toDay);
    if (!query.includeCi) q = q.where('ci', '=', 0);
    if (!query.includeInternal) q = q.where('tracking_id', 'not in', internalIds(this.db));
    const rows = await q.orderBy('received_at').orderBy('id').execute();
    return rows.map(metricPoint);
  }

  metricRollupPages(query: MetricPointQuery, pageSize = METRIC_ROLLUP_PAGE): AsyncGenerator<MetricRollup[]> {
    return rollupPages(this.db, query, pageSize);
  }

  metricFleet(query: MetricPointQuery, by: CellGrouping, now = Date.now()): Promise<MetricFleetAnswer> {
    return this.fleet.answer(query, by, lastStoredCellDay(now));
  }
}
