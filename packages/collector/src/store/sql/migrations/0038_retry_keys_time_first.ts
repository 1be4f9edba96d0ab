import { decodeV2Event, type NodeReport } from '@tidewatch/protocol';
import { type Kysely, type Migration, sql } from 'kysely';
// A data migration computes retry keys as ingest does: the one place the store layer reads the
// ingest code.
import { eventKey, reportKey } from '../../../ingest/rows.js';
import type { MigrationDialect } from './migration-dialect.js';
import { rekey } from './rekey.js';

export function migration(dialect: MigrationDialect): Migration {
  return {
    // Stores written before retry keys began with the message's time (2026-11-26, commit a51942a)
    // hold keys of the old format: a retry or a replayed import of such a row got a new-format
    // key and was stored a second time. Each old-format key is computed again the way ingest
    // computes it now, from the row's columns (reports) or its own raw bytes (events). A row whose
    // new key is already stored (a copy stored after an upgrade) keeps its old key: removing one
    // copy would also take it out of the rollups.
    async up(db: Kysely<unknown>): Promise<void> {
      await rekey(db, dialect, {
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
      await rekey(db, dialect, {
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
  };
}
