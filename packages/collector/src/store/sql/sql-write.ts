// The ingest write path on PostgreSQL: one transaction per batch from the write batcher, running
// the steps of write-steps.ts (shared with the SQLite writer thread) over Kysely.
import { type Kysely, sql, type Transaction } from 'kysely';
import type { WriteBatch, WriteResult } from '../store.js';
import type { SqlDialectHooks } from './dialect.js';
import type { MemoTransaction, RollupMemo } from './rollup-memo.js';
import type { Database } from './schema.js';
import type { SqlRunner } from './sql-runner.js';
import { type Opened, type WriteStep, writeSteps } from './write-steps.js';

/** One batch of ingest writes in one transaction (write-steps.ts). */
export async function writeBatch(
  db: Kysely<Database>,
  hooks: SqlDialectHooks,
  run: SqlRunner,
  memo: RollupMemo,
  request: WriteBatch,
  /** The legacy event keys' boundary (legacy-event-keys.ts). */
  legacyUntil: number | null,
): Promise<WriteResult> {
  // Rolled back as a deadlock's victim (beside retention, say), the batch is written again in a
  // new transaction: nothing of the first was committed, acknowledged or added to the memo.
  const { result, rollups } = await run.transaction(db, async (trx) => {
    let rollups: MemoTransaction | null = null;
    const steps = writeSteps(request, { legacyUntil, onlyWriter: false });
    let answer: unknown;
    for (;;) {
      const next = steps.next(answer);
      if (next.done) return { result: next.value, rollups };
      const step: WriteStep = next.value;
      if (step.kind === 'open') {
        const opened = await openWrite(trx, hooks, memo, step.trackingIds);
        rollups = opened.rollups;
        answer = opened;
      } else if (step.kind === 'insert') {
        answer = await run.insertRows(trx, step.table, step.rows, step.conflict, step.returning);
      } else if (step.kind === 'lockDays') {
        await run.lockDays(trx, step.days);
        answer = undefined;
      } else if (step.kind === 'statement') answer = await run.raw(trx, step.text, step.parameters);
      else throw new Error(`${step.kind} is for a store's only writer, which PostgreSQL has not`);
    }
  });
  // Committed: what the transaction wrote to the rollups is now known.
  rollups?.commit();
  return result;
}

/**
 * Locks the clusters against erases, then reads which are blocked and the rollup epoch (after
 * the locks, so no erase of these clusters can commit before this transaction ends), in one
 * round trip.
 */
async function openWrite(
  trx: Transaction<Database>,
  hooks: SqlDialectHooks,
  memo: RollupMemo,
  ids: string[],
): Promise<Opened> {
  await hooks.lockClusters?.(trx, ids, 'write');
  if (ids.length === 0) return { blocked: new Set(), rollups: null };
  const checked = await trx
    .selectFrom('blocked_clusters')
    .select([sql<string | null>`tracking_id`.as('tracking_id'), sql<number | null>`null`.as('epoch')])
    .where('tracking_id', 'in', ids)
    .unionAll(
      trx
        .selectFrom('rollup_epoch')
        .select([sql<string | null>`null`.as('tracking_id'), sql<number | null>`epoch`.as('epoch')]),
    )
    .execute();
  const blocked = new Set<string>();
  let epoch: number | null = null;
  for (const row of checked) {
    if (row.tracking_id !== null) blocked.add(row.tracking_id);
    else if (row.epoch !== null) epoch = Number(row.epoch);
  }
  return { blocked, rollups: epoch === null ? null : memo.begin(epoch) };
}
