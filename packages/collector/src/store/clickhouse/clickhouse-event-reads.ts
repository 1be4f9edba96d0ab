// The ClickHouse store's answers about events and agent events (clickhouse-store.ts delegates
// here).
import { type EventColumns, rankEventCounts, storedAgentEvent, storedEvent } from '../answers.js';
import { eventConnectorNames } from '../connector-uses.js';
import type {
  AgentEventQuery,
  EventCountQuery,
  EventGrouping,
  EventQuery,
  StoredAgentEvent,
  StoredEvent,
} from '../store.js';
import type { ClickHouseConnection } from './clickhouse-connection.js';
import { dayRange, internalIds } from './clickhouse-filters.js';
import { and, ident, join, type Sql, sql } from './sql.js';

const EVENT_GROUP_COLUMNS = {
  day: 'toString(received_day)',
  stage: 'stage',
  name: 'name',
  connector: 'connector_name',
  trackingId: 'tracking_id',
} as const satisfies Record<EventGrouping, string>;

/** A fixed expression of this file (never user text). */
function expression(e: (typeof EVENT_GROUP_COLUMNS)[EventGrouping]): Sql {
  return e === 'toString(received_day)' ? sql`toString(received_day)` : ident(e);
}

export class ClickHouseEventReads {
  constructor(private readonly ch: ClickHouseConnection) {}

  /** Filters shared by the event routes. */
  private eventFilters(query: {
    fromDay: string;
    toDay: string;
    stage?: string | null | undefined;
    name?: string | undefined;
  }): Sql[] {
    const filters = [dayRange(query)];
    if (query.stage === null) filters.push(sql`stage IS NULL`);
    else if (query.stage !== undefined) filters.push(sql`stage = ${query.stage}`);
    if (query.name !== undefined) filters.push(sql`name = ${query.name}`);
    return filters;
  }

  async eventCounts(
    query: EventCountQuery,
  ): Promise<{ value: string | null; events: number; clusters: number }[]> {
    const filters = this.eventFilters(query);
    if (!query.includeInternal) filters.push(sql`tracking_id NOT IN ${internalIds()}`);
    // One row per retry key (its first copy) before counting: two copies not merged yet are one event.
    const rows = await this.ch.rows<{ value: string | null; events: number; clusters: number }>(
      sql`SELECT value, count() AS events, uniqExact(cluster) AS clusters
          FROM (SELECT argMin(${expression(EVENT_GROUP_COLUMNS[query.by])}, received_at) AS value,
                  any(tracking_id) AS cluster
                FROM events WHERE ${and(filters)} GROUP BY dedup_key)
          GROUP BY value`,
    );
    return rankEventCounts(query, rows);
  }

  async events(query: EventQuery): Promise<StoredEvent[]> {
    const filters = this.eventFilters(query);
    if (query.trackingId !== undefined) filters.push(sql`tracking_id = ${query.trackingId}`);
    if (query.connector !== undefined) {
      filters.push(
        sql`connector_name IN (${join(eventConnectorNames(query.connector).map((n) => sql`${n}`))})`,
      );
    }
    const before = query.before;
    const after = before
      ? sql`at < ${before.receivedAt} OR (at = ${before.receivedAt} AND first_id < ${before.id})`
      : sql`1`;
    // Each event's first copy by (received_at, id) (a retry stored twice before a merge is listed
    // once, at one place of the page order; each copy has its own id); the page cursor applies
    // after that choice, so pages never repeat an event. The page is chosen on narrow columns;
    // only its rows are then read whole (PREWHERE).
    const page = sql`SELECT dedup_key FROM (
        SELECT dedup_key, min(received_at) AS at, argMin(id, (received_at, id)) AS first_id FROM events
        WHERE ${and(filters)} GROUP BY dedup_key)
      WHERE ${after} ORDER BY at DESC, first_id DESC LIMIT ${query.limit}`;
    const rows = await this.ch.rows<EventColumns>(
      sql`SELECT * FROM (
            SELECT dedup_key, id, tracking_id, received_at, event_time_sec, stage, name, connector_name,
              catalog_id, attributes, node, object
            FROM events PREWHERE dedup_key IN (${page}) WHERE ${and(filters)}
            ORDER BY received_at, id LIMIT 1 BY dedup_key)
          ORDER BY received_at DESC, id DESC`,
    );
    return rows.map(storedEvent);
  }

  async agentEvents(query: AgentEventQuery): Promise<StoredAgentEvent[]> {
    const filters = [dayRange(query)];
    if (query.trackingId !== undefined) filters.push(sql`tracking_id = ${query.trackingId}`);
    if (query.name !== undefined) filters.push(sql`name = ${query.name}`);
    const b = query.before;
    if (b) {
      filters.push(
        sql`(received_at < ${b.receivedAt} OR (received_at = ${b.receivedAt} AND (report_id < ${b.reportId}
          OR (report_id = ${b.reportId} AND seq < ${b.seq}))))`,
      );
    }
    const rows = await this.ch.rows<Parameters<typeof storedAgentEvent>[0]>(
      sql`SELECT tracking_id, report_id, seq, received_at, name, time_ms, fields
          FROM agent_events FINAL WHERE ${and(filters)}
          ORDER BY received_at DESC, report_id DESC, seq DESC LIMIT ${query.limit}`,
    );
    return rows.map(storedAgentEvent);
  }
}
