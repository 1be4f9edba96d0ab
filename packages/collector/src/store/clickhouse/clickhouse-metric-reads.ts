// The ClickHouse store's answers about metrics: the known series and names, points, daily
// rollups and the fleet's cells (clickhouse-store.ts delegates here).
import { knownSeriesOf, metricPoint, type PointColumns } from '../answers.js';
import { type CellGrouping, foldCells, type MetricFleetAnswer, newestKind } from '../metric-cells.js';
import { metricRollup, type RollupColumns } from '../metric-rollup.js';
import type { KnownSeries, MetricName, MetricPoint, MetricPointQuery, MetricRollup } from '../store.js';
import type { ClickHouseConnection } from './clickhouse-connection.js';
import { dayRange, internalIds, statisticFilters } from './clickhouse-filters.js';
import { and, sql } from './sql.js';

export class ClickHouseMetricReads {
  constructor(private readonly ch: ClickHouseConnection) {}

  async knownSeries(trackingId: string): Promise<KnownSeries> {
    const rows = await this.ch.rows<{ name: string; labels: string }>(
      sql`SELECT DISTINCT name, labels FROM metric_series WHERE tracking_id = ${trackingId}`,
    );
    return knownSeriesOf(rows);
  }

  async metricNames(): Promise<MetricName[]> {
    const rows = await this.ch.rows<MetricName>(
      sql`SELECT name, kind, unit, clusters FROM
            (SELECT name, uniqExact(tracking_id) AS clusters FROM metric_series FINAL GROUP BY name)
          ANY INNER JOIN
            (SELECT name, kind, unit FROM metric_points FINAL
             ORDER BY received_at DESC, report_id DESC LIMIT 1 BY name)
          USING name ORDER BY name`,
    );
    return rows.map((r) => ({ ...r, clusters: Number(r.clusters) }));
  }

  async metricPoints(query: MetricPointQuery): Promise<MetricPoint[]> {
    const rows = await this.ch.rows<PointColumns>(
      sql`SELECT report_id, tracking_id, received_at, node_type, version, cluster_type, kind, value, histogram
          FROM metric_points FINAL
          WHERE name = ${query.name} AND ${and([dayRange(query), ...statisticFilters(query)])}
          ORDER BY received_at, report_id, labels`,
    );
    return rows.map(metricPoint);
  }

  async *metricRollupPages(query: MetricPointQuery): AsyncGenerator<MetricRollup[]> {
    // One page: FINAL merges the whole range in one pass, so keyset pages would each read it again.
    const rows = await this.ch.rows<RollupColumns>(
      sql`SELECT toString(received_day) AS day, tracking_id, node_type, version, cluster_type, ci, kind, labels,
            points, total, min_value, max_value, last_at, last_report, last_value, histogram
          FROM metric_rollup FINAL
          WHERE name = ${query.name} AND ${and([dayRange(query), ...statisticFilters(query)])}
          ORDER BY received_day, tracking_id, group_key`,
    );
    yield rows.map(metricRollup);
  }

  async metricFleet(query: MetricPointQuery, by: CellGrouping): Promise<MetricFleetAnswer> {
    // No stored cells here: every question folds them from the per-cluster rows (one read), as
    // the SQL stores fold their recent days, so that the answers match theirs bit for bit.
    const everything = { ...query, includeCi: true, includeInternal: true };
    const rows: MetricRollup[] = [];
    for await (const page of this.metricRollupPages(everything)) rows.push(...page);
    const internal = await this.ch.rows<{ tracking_id: string }>(
      sql`SELECT tracking_id FROM ${internalIds()}`,
    );
    const cells = foldCells(rows, new Set(internal.map((r) => r.tracking_id)), by).filter(
      (c) => (query.includeCi || !c.ci) && (query.includeInternal || !c.internal),
    );
    const kind = newestKind(cells);
    if (kind === null || kind === 'gauge') return { cells, kind, clusters: [] };
    const column =
      by === 'version'
        ? sql`version`
        : by === 'clusterType'
          ? sql`cluster_type`
          : by === 'nodeType'
            ? sql`node_type`
            : sql`'all'`;
    const clusters = await this.ch.rows<{ value: string | null; clusters: number | string }>(
      sql`SELECT ${column} AS value, uniqExact(tracking_id) AS clusters
          FROM metric_rollup
          WHERE name = ${query.name} AND kind = ${kind} AND ${and([dayRange(query), ...statisticFilters(query)])}
          GROUP BY value`,
    );
    return { cells, kind, clusters: clusters.map((r) => ({ value: r.value, clusters: Number(r.clusters) })) };
  }
}
