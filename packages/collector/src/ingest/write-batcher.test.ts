// Group commit: requests share transactions, each is answered after its own commit, and one bad
// request never fails its neighbours. The store here is a recording fake: what is under test is
// the batching, not a database (the contract suite covers the real stores).
import { describe, expect, it } from 'vitest';
import type { ReportRow, Store, WriteBatch, WriteResult } from '../store/store.js';
import { StoreBehindError, WriteBatcher } from './write-batcher.js';

function row(key: string): ReportRow {
  return { dedupKey: key } as ReportRow;
}

function recordingStore(options: { failKey?: string; delayMs?: number } = {}) {
  const commits: string[][] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const store = {
    async writeBatch(batch: WriteBatch): Promise<WriteResult> {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((r) => setTimeout(r, options.delayMs ?? 1));
      inFlight--;
      const keys = batch.reports.map((r) => r.dedupKey);
      if (options.failKey && keys.includes(options.failKey)) throw new Error('constraint failed');
      commits.push(keys);
      return {
        reportsInserted: keys.length,
        eventsInserted: 0,
        agentReportsInserted: 0,
        blocked: 0,
        blockedIds: [],
      };
    },
  } as unknown as Store;
  return { store, commits, maxInFlight: () => maxInFlight };
}

const write = (batcher: WriteBatcher, key: string) => batcher.write({ reports: [row(key)], events: [] });

describe('WriteBatcher', () => {
  it('groups concurrent writes into few transactions and answers each after its commit', async () => {
    const { store, commits, maxInFlight } = recordingStore({ delayMs: 5 });
    const batcher = new WriteBatcher(store);
    await Promise.all(Array.from({ length: 100 }, (_, i) => write(batcher, `k${i}`)));
    expect(commits.flat().sort()).toEqual(Array.from({ length: 100 }, (_, i) => `k${i}`).sort());
    expect(commits.length).toBeLessThan(10);
    expect(maxInFlight()).toBeLessThanOrEqual(2);
  });

  it('refuses only the request whose rows the store rejects', async () => {
    const { store, commits } = recordingStore({ failKey: 'bad' });
    const batcher = new WriteBatcher(store, { maxInFlight: 1 });
    const results = await Promise.allSettled(['a', 'bad', 'c', 'd'].map((k) => write(batcher, k)));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect(commits.flat().sort()).toEqual(['a', 'c', 'd']);
  });

  it('says writes are in trouble after a failed commit, until one commits or the failure is old', async () => {
    const { store } = recordingStore({ failKey: 'bad' });
    const batcher = new WriteBatcher(store, { maxInFlight: 1 });
    expect(batcher.writeTrouble(5_000, 10_000)).toBeNull();
    await expect(write(batcher, 'bad')).rejects.toThrow('constraint failed');
    expect(batcher.writeTrouble(5_000, 10_000)).toBe('the last write failed: constraint failed');
    // Without traffic a failure stops counting after recentMs, so that a probe lets the next try in.
    await new Promise((r) => setTimeout(r, 30));
    expect(batcher.writeTrouble(5_000, 20)).toBeNull();
    await write(batcher, 'good');
    expect(batcher.writeTrouble(5_000, 10_000)).toBeNull();
  });

  it('says writes are in trouble while the oldest one waits past the stall time', async () => {
    const { store } = recordingStore({ delayMs: 300 });
    const batcher = new WriteBatcher(store, { maxInFlight: 1 });
    const written = write(batcher, 'slow');
    await new Promise((r) => setTimeout(r, 100));
    expect(batcher.writeTrouble(50, 10_000)).toMatch(
      /^a write has waited 0\.\d s for the store to commit it$/,
    );
    expect(batcher.writeTrouble(5_000, 10_000)).toBeNull();
    await written;
    await batcher.flush();
    expect(batcher.writeTrouble(50, 10_000)).toBeNull();
  });

  it('still says so once the stalled write was answered past the timeout, until its transaction ends', async () => {
    let release = () => {};
    const store = {
      writeBatch: () =>
        new Promise<WriteResult>((resolve) => {
          release = () =>
            resolve({
              reportsInserted: 1,
              eventsInserted: 0,
              agentReportsInserted: 0,
              blocked: 0,
              blockedIds: [],
            });
        }),
    } as unknown as Store;
    const batcher = new WriteBatcher(store, { maxInFlight: 1, timeoutMs: 50 });
    await expect(write(batcher, 'stuck')).rejects.toThrow(StoreBehindError);
    await new Promise((r) => setTimeout(r, 30));
    expect(batcher.writeTrouble(20, 10_000)).toMatch(
      /^a transaction has waited \d+\.\d s for the store to commit it$/,
    );
    release();
    await batcher.flush();
    expect(batcher.writeTrouble(20, 10_000)).toBeNull();
  });

  it('keeps transactions under the row limit', async () => {
    const { store, commits } = recordingStore();
    const batcher = new WriteBatcher(store, { maxRows: 10, maxInFlight: 1 });
    await Promise.all(Array.from({ length: 35 }, (_, i) => write(batcher, `k${i}`)));
    expect(Math.max(...commits.map((c) => c.length))).toBeLessThanOrEqual(10);
  });

  it('flush waits for everything queued', async () => {
    const { store, commits } = recordingStore({ delayMs: 10 });
    const batcher = new WriteBatcher(store);
    const pending = Array.from({ length: 20 }, (_, i) => write(batcher, `k${i}`));
    await batcher.flush();
    expect(commits.flat()).toHaveLength(20);
    await Promise.all(pending);
    await batcher.flush(); // idle: returns at once
  });

  it('answers a write the store does not commit in time with an error, and refuses writes past the queue bound', async () => {
    const hung = { writeBatch: () => new Promise<never>(() => {}) } as unknown as Store;
    const batcher = new WriteBatcher(hung, { maxInFlight: 1, timeoutMs: 300, maxQueuedRows: 3 });
    const first = write(batcher, 'a').catch((e: unknown) => e);
    await new Promise((r) => setImmediate(r)); // 'a' is taken into the (hung) transaction
    const queued = ['b', 'c', 'd'].map((k) => write(batcher, k).catch((e: unknown) => e));
    // Three rows wait already: a fourth is refused at once, without waiting for the timeout.
    const refused = await write(batcher, 'e').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(StoreBehindError);
    expect((refused as Error).message).toMatch(/3 rows are already waiting/);
    for (const outcome of [await first, ...(await Promise.all(queued))]) {
      expect(outcome).toBeInstanceOf(StoreBehindError);
      expect((outcome as Error).message).toMatch(/did not commit it within/);
    }
    // The one in the running transaction may still be stored (the 503 must not say otherwise);
    // the queued ones are not written.
    expect(((await first) as Error).message).toMatch(
      /still running and may yet store it.*resend is stored once/,
    );
    for (const outcome of await Promise.all(queued)) {
      expect((outcome as Error).message).toMatch(/still queued and is not written/);
    }
    // The timed-out rows left the queue: new writes are taken again (and time out in turn).
    const later = await write(batcher, 'f').catch((e: unknown) => e);
    expect(later).toBeInstanceOf(StoreBehindError);
    expect((later as Error).message).toMatch(/did not commit/);
  });
});
