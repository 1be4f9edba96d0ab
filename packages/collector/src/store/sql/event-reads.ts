// The SQL store's answers about events and agent events (sql-store.ts delegates here).
import { type Kysely, sql } from 'kysely';
import { DAY_MS } from '../../utc-day.js';
import { rankEventCounts, storedAgentEvent, storedEvent } from '../answers.js';
import { eventConnectorNames } from '../connector-uses.js';
import type {
  AgentEventQuery,
  EventCountQuery,
  EventGrouping,
  EventQuery,
  StoredAgentEvent,
  StoredEvent,
} from '../store.js';
import { internalIds } from './metric-fleet.js';
import type { Database } from './schema.js';

/** The events column behind each grouping (a fixed list: never user text in SQL). */
const EVENT_GROUP_COLUMNS = {
  day: 'received_day',
  stage: 'stage',
  name: 'name',
  connector: 'connector_name',
  trackingId: 'tracking_id',
} as const satisfies Record<EventGrouping, string>;

export class EventReads {
  constructor(private readonly db: Kysely<Database>) {}

  async eventCounts(
    query: EventCountQuery,
  ): Promise<{ value: string | null; events: number; clusters: number }[]> {
    const column = EVENT_GROUP_COLUMNS[query.by];
    let q = this.db
      .selectFrom('events')
      .select([
        sql<string | null>`${sql.ref(column)}`.as('value'),
        (eb) => eb.fn.countAll().as('events'),
        // By cluster every group is one cluster: without a distinct count the groups can be hashed
        // instead of sorted (PostgreSQL sorted a year of 10M's recovery events on disk for it).
        (eb) =>
          query.by === 'trackingId'
            ? sql<number>`1`.as('clusters')
            : eb.fn.count('tracking_id').distinct().as('clusters'),
      ])
      .where('received_day', '>=', query.fromDay)
      .where('received_day', '<=', query.toDay);
    if (query.stage === null) q = q.where('stage', 'is', null);
    else if (query.stage !== undefined) q = q.where('stage', '=', query.stage);
    if (query.name !== undefined) q = q.where('name', '=', query.name);
    if (!query.includeInternal) q = q.where('tracking_id', 'not in', internalIds(this.db));
    const rows = await q.groupBy(sql.ref(column)).execute();
    return rankEventCounts(query, rows);
  }

  async events(query: EventQuery): Promise<StoredEvent[]> {
    let q = this.db
      .selectFrom('events')
      .select([
        'id',
        'tracking_id',
        'received_at',
        'event_time_sec',
        'stage',
        'name',
        'connector_name',
        'catalog_id',
        'attributes',
        'node',
        'object',
      ])
      // The range's receive times (received_day is their UTC day): events_received serves the
      // range and the order at once, and the scan stops at the page's end.
      .where('received_at', '>=', Date.parse(query.fromDay))
      .where('received_at', '<', Date.parse(query.toDay) + DAY_MS);
    if (query.trackingId !== undefined) q = q.where('tracking_id', '=', query.trackingId);
    if (query.stage === null) q = q.where('stage', 'is', null);
    else if (query.stage !== undefined) q = q.where('stage', '=', query.stage);
    if (query.name !== undefined) q = q.where('name', '=', query.name);
    if (query.connector !== undefined)
      q = q.where('connector_name', 'in', eventConnectorNames(query.connector));
    const before = query.before;
    if (before) {
      q = q.where((eb) =>
        eb.or([
          eb('received_at', '<', before.receivedAt),
          eb.and([eb('received_at', '=', before.receivedAt), eb('id', '<', before.id)]),
        ]),
      );
    }
    const rows = await q.orderBy('received_at', 'desc').orderBy('id', 'desc').limit(query.limit).execute();
    return rows.map(storedEvent);
  }

  async agentEvents(query: AgentEventQuery): Promise<StoredAgentEvent[]> {
    let q = this.db
      .selectFrom('agent_events')
      .select(['tracking_id', 'report_id', 'seq', 'received_at', 'name', 'time_ms', 'fields'])
      .where('received_day', '>=', query.fromDay)
      .where('received_day', '<=', query.toDay);
    if (query.trackingId !== undefined) q = q.where('tracking_id', '=', query.trackingId);
    if (query.name !== undefined) q = q.where('name', '=', query.name);
    const before = query.before;
    if (before) {
      q = q.where((eb) =>
        eb.or([
          eb('received_at', '<', before.receivedAt),
          eb.and([
            eb('received_at', '=', before.receivedAt),
            eb.or([
              eb('report_id', '<', before.reportId),
              eb.and([eb('report_id', '=', before.reportId), eb('seq', '<', before.seq)]),
            ]),
          ]),
        ]),
      );
    }
    const rows = await q
      .orderBy('received_at', 'desc')
      .orderBy('report_id', 'desc')
      .orderBy('seq', 'desc')
      .limit(query.limit)
      .execute();
    return rows.map(storedAgentEvent);
  }
}
