// What a batch's new metric rollup rows mark in the fleet tables (see metric-fleet.ts). Apart
// from metric-fleet.ts so the SQLite writer thread, which runs these, does not load Kysely.

import { compareCodeUnits } from '../../text-order.js';
import { writerMarksDay } from '../metric-cells.js';
import type { RollupColumns } from '../metric-rollup.js';

/** A statement with `?` parameters, for the Kysely path and the SQLite writer alike. */
export interface Statement {
  text: string;
  parameters: (string | number | null)[];
}

/**
 * What a batch's new rollup rows change besides metric_rollup (sql/metric-fleet.ts): per (metric,
 * day), metric_fleet_days (a day writers do not normally write, writerMarksDay, is marked stale;
 * any other only gets its row if it has none yet); per (metric, cluster, series without labels),
 * the span of days in metric_spans. In key order, so that concurrent PostgreSQL writers take row
 * locks in one order.
 */
export function fleetStatements(
  rows: readonly Pick<
    RollupColumns,
    'name' | 'day' | 'tracking_id' | 'kind' | 'ci' | 'version' | 'cluster_type' | 'node_type'
  >[],
  now: number,
): Statement[] {
  const days = new Map<string, [string, string]>();
  const spans = new Map<
    string,
    { row: (typeof rows)[number]; series: string; first: string; last: string }
  >();
  for (const r of rows) {
    days.set(`${r.name}\0${r.day}`, [r.name, r.day]);
    const series = spanSeries(r);
    const key = `${r.name}\0${r.tracking_id}\0${series}`;
    const span = spans.get(key);
    if (!span) spans.set(key, { row: r, series, first: r.day, last: r.day });
    else {
      if (r.day < span.first) span.first = r.day;
      if (r.day > span.last) span.last = r.day;
    }
  }
  const entriesInKeyOrder = <T>(entries: Map<string, T>) =>
    [...entries].sort(([a], [b]) => compareCodeUnits(a, b));
  return [
    ...entriesInKeyOrder(days).map(([, parameters]) => ({
      text: writerMarksDay(parameters[1], now) ? MARK_STALE : MARK_SEEN,
      parameters,
    })),
    ...entriesInKeyOrder(spans).map(([, { row: r, series, first, last }]) => ({
      text: SPAN_UPSERT,
      parameters: [
        r.name,
        r.tracking_id,
        series,
        r.kind,
        r.ci,
        r.version,
        r.cluster_type,
        r.node_type,
        first,
        last,
      ],
    })),
  ];
}

/** A span's series: the rollup row's series without its labels (a cluster counts once per value). */
export function spanSeries(
  r: Pick<RollupColumns, 'kind' | 'ci' | 'version' | 'cluster_type' | 'node_type'>,
): string {
  return JSON.stringify([r.kind, Number(r.ci), r.version, r.cluster_type, r.node_type]);
}

const MARK_STALE =
  'insert into metric_fleet_days (name, day, fresh) values (?, ?, 0) on conflict (name, day) do update set fresh = 0';
const MARK_SEEN =
  'insert into metric_fleet_days (name, day, fresh) values (?, ?, 0) on conflict (name, day) do nothing';
const SPAN_UPSERT = `insert into metric_spans (name, tracking_id, series, kind, ci, version, cluster_type, node_type,
    first_day, last_day) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
  on conflict (name, tracking_id, series) do update set
    first_day = case when excluded.first_day < metric_spans.first_day then excluded.first_day else metric_spans.first_day end,
    last_day = case when excluded.last_day > metric_spans.last_day then excluded.last_day else metric_spans.last_day end`;
