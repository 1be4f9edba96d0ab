// The SQLite writer thread seen from a plain script: a write in flight keeps the process alive
// until it is committed, and an idle store does not keep it running.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import SQLite from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../../test-support/services.js';

const dir = tempDir();
afterAll(() => dir.remove());
const storeModule = fileURLToPath(new URL('../../../dist/store/open-store.js', import.meta.url));

describe('SQLite store in a script', () => {
  it('a script that awaits a write and nothing else finishes it and exits 0', () => {
    const file = `${dir.path}/script.db`;
    // No server, no timer: only the pending write holds the event loop. Before the fix the
    // process exited with code 13 (unsettled top-level await) and the row was never written.
    const script = `
      const { openStore } = await import(${JSON.stringify(storeModule)});
      const store = openStore(${JSON.stringify(`sqlite:${file}`)});
      await store.migrate();
      const result = await store.writeBatch({ reports: [], events: [{
        dedupKey: 'k1', trackingId: 't1', receivedAt: Date.now(), receivedDay: '2026-11-26',
        eventTimeSec: 1, stage: null, name: 'e', connectorName: null, catalogId: 1, attributes: null,
        node: 'n', object: null, flags: null, raw: new Uint8Array([1, 2, 3]),
      }] });
      console.log(JSON.stringify(result));
      await store.close();
    `;
    writeFileSync(`${dir.path}/script.mjs`, script);
    const out = execFileSync(process.execPath, [`${dir.path}/script.mjs`], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(JSON.parse(out)).toMatchObject({ eventsInserted: 1 });
    const db = new SQLite(file, { readonly: true });
    expect(db.prepare('select count(*) as n from events').get()).toEqual({ n: 1 });
    db.close();
  });
});
