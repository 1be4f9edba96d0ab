import { mkdirSync, mkdtempSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../test/fake-clock.js';
import { Disk } from './disk.js';
import { Spool, spoolName } from './spool.js';

const id = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
/** This spool's endpoint, and another one's (endpointTag). */
const MINE = 'a1a1a1a1a1a1';
const OTHER = 'b2b2b2b2b2b2';

function setup(
  limits = { maxReports: 3, maxBytes: 1000, maxAge: 60_000 },
  dir?: string | null,
  endpoint = MINE,
) {
  const dataDir = dir === undefined ? mkdtempSync(path.join(tmpdir(), 'tw-spool-')) : dir;
  const clock = new FakeClock();
  const problems: string[] = [];
  const dropped: number[] = [];
  const disk = new Disk(dataDir, (m) => problems.push(m));
  const spool = new Spool(disk, endpoint, limits, clock, (n) => dropped.push(n));
  return { dataDir, clock, disk, spool, problems, dropped };
}

describe('spool', () => {
  it('keeps at most maxReports, dropping and counting the oldest', async () => {
    const { spool, clock, dropped, dataDir } = setup();
    for (let i = 1; i <= 5; i++) {
      clock.time += 1000;
      await spool.put(spoolName(clock.now(), i, id(i), 'pb', MINE), new Uint8Array([i]));
    }
    const names = await spool.names();
    expect(names.map((n) => n.slice(16, 26))).toEqual(['0000000003', '0000000004', '0000000005']);
    expect(dropped.reduce((a, b) => a + b, 0)).toBe(2);
    expect(readdirSync(path.join(dataDir!, 'spool')).sort()).toEqual(names);
  });

  it('keeps at most maxBytes and drops reports older than maxAge', async () => {
    const { spool, clock, dropped } = setup({ maxReports: 100, maxBytes: 250, maxAge: 10_000 });
    for (let i = 1; i <= 3; i++)
      await spool.put(spoolName(clock.now(), i, id(i), 'pb', MINE), new Uint8Array(100));
    expect(await spool.names()).toHaveLength(2);
    clock.time += 20_000;
    expect(await spool.names()).toHaveLength(0);
    expect(dropped.reduce((a, b) => a + b, 0)).toBe(3);
  });

  it('ages its own reports by time that passed, not by a wall-clock step, and says which bound dropped what', async () => {
    const { spool, clock } = setup({ maxReports: 100, maxBytes: 10_000, maxAge: 60_000 });
    const bounds: string[] = [];
    (spool as unknown as { onDropped: (n: number, b: string) => void }).onDropped = (n, b) =>
      bounds.push(`${n} ${b}`);
    for (let i = 1; i <= 3; i++)
      await spool.put(spoolName(clock.now(), i, id(i), 'pb', MINE), new Uint8Array(10));
    // NTP corrects a clock 40 days behind: a minute-old report is not 40 days old.
    clock.stepWallClock(40 * 86_400_000);
    expect(await spool.names()).toHaveLength(3);
    clock.time += 61_000;
    expect(await spool.names()).toHaveLength(0);
    expect(bounds).toEqual(['3 old']);
  });

  it('writes atomically: no temp files stay, old leftovers of a crash are removed (not a write in progress), the rest is picked up', async () => {
    const { spool, dataDir, clock } = setup();
    await spool.put(spoolName(clock.now(), 1, id(1), 'json', MINE), new TextEncoder().encode('{}'));
    expect(readdirSync(path.join(dataDir!, 'spool')).filter((n) => n.startsWith('.tmp-'))).toEqual([]);
    const stale = path.join(dataDir!, 'spool', '.tmp-half-written');
    writeFileSync(stale, 'partial');
    const elevenMinutesAgo = (Date.now() - 11 * 60_000) / 1000;
    utimesSync(stale, elevenMinutesAgo, elevenMinutesAgo);
    // A fresh one may be another process's write in progress on the same dataDir: it stays.
    writeFileSync(path.join(dataDir!, 'spool', '.tmp-in-progress'), 'partial');
    writeFileSync(path.join(dataDir!, 'spool', 'unrelated.txt'), 'x');
    const again = setup(undefined, dataDir);
    await again.spool.init();
    expect(await again.spool.names()).toEqual([spoolName(clock.now(), 1, id(1), 'json', MINE)]);
    expect(readdirSync(path.join(dataDir!, 'spool'))).not.toContain('.tmp-half-written');
    expect(readdirSync(path.join(dataDir!, 'spool'))).toContain('.tmp-in-progress');
  });

  it('degrades to memory when the disk refuses, with the same bounds and without throwing', async () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'tw-spool-')), 'a-file');
    writeFileSync(file, 'not a directory');
    const { spool, disk, problems, clock } = setup(undefined, path.join(file, 'data'));
    await spool.init();
    for (let i = 1; i <= 4; i++)
      await spool.put(spoolName(clock.now(), i, id(i), 'pb', MINE), new Uint8Array([i]));
    expect(disk.memoryOnly).toBe(true);
    expect(problems).toHaveLength(1);
    const names = await spool.names();
    expect(names).toHaveLength(3);
    expect(await spool.read(names[0]!)).toEqual(new Uint8Array([2]));
  });

  it('takes on reports another process spools in the same dataDir after it started, and ages them by elapsed time', async () => {
    // Two processes on one dataDir: `other` spools after `spool` has started (its shutdown's last report).
    const { spool, dataDir, clock } = setup({ maxReports: 100, maxBytes: 10_000, maxAge: 30 * 86_400_000 });
    await spool.init();
    const other = setup(undefined, dataDir);
    const late = spoolName(clock.now(), 7, id(7), 'pb', MINE);
    await other.spool.put(late, new Uint8Array([7]));
    expect(await spool.names()).toEqual([late]);
    expect([...(await spool.read(late))!]).toEqual([7]);
    // A wall clock stepped a year forward does not make it a year old.
    clock.stepWallClock(365 * 86_400_000);
    expect(await spool.names()).toEqual([late]);
  });

  it('does not take a wall clock stepped a year forward for a year of age of what a previous process left', async () => {
    const { spool, dataDir, clock } = setup({ maxReports: 100, maxBytes: 10_000, maxAge: 30 * 86_400_000 });
    const left = spoolName(clock.now(), 3, id(3), 'pb', MINE);
    await spool.put(left, new Uint8Array([3]));
    const next = setup({ maxReports: 100, maxBytes: 10_000, maxAge: 30 * 86_400_000 }, dataDir);
    await next.spool.init();
    next.clock.stepWallClock(365 * 86_400_000);
    expect(await next.spool.names()).toEqual([left]);
  });

  it('forgets a report another process delivered, so that it pushes none of its own out', async () => {
    const { spool, dataDir, clock, dropped } = setup({ maxReports: 2, maxBytes: 10_000, maxAge: 60_000 });
    const other = setup(undefined, dataDir);
    const theirs = spoolName(clock.now() + 10, 9, id(9), 'pb', MINE);
    await other.spool.put(theirs, new Uint8Array([9]));
    await spool.init(); // takes theirs on
    await other.spool.remove(theirs); // delivered by its owner
    const mine = [1, 2].map((i) => spoolName(clock.now() + i, i, id(i), 'pb', MINE));
    for (const name of mine) await spool.put(name, new Uint8Array([1]));
    expect(await spool.names()).toEqual(mine);
    expect(dropped).toEqual([]);
  });

  it("names only its own endpoint's reports; another endpoint's stay, count toward the bounds and age out", async () => {
    const limits = { maxReports: 3, maxBytes: 10_000, maxAge: 60_000 };
    const { spool, dataDir, clock } = setup(limits);
    const bounds: string[] = [];
    (spool as unknown as { onDropped: (n: number, b: string, w: string) => void }).onDropped = (n, b, w) =>
      bounds.push(`${n} ${b} ${w}`);
    const other = setup(limits, dataDir, OTHER);
    const theirs = [1, 2].map((i) => spoolName(clock.now() + i, i, id(i), 'pb', OTHER));
    for (const name of theirs) await other.spool.put(name, new Uint8Array([1]));
    await spool.init();
    expect(await spool.names()).toEqual([]);
    expect(spool.size).toBe(0);
    // Two of its own make four in the directory: the oldest of all goes, theirs.
    const mine = [3, 4].map((i) => spoolName(clock.now() + i, i, id(i), 'pb', MINE));
    for (const name of mine) await spool.put(name, new Uint8Array([1]));
    expect(await spool.names()).toEqual(mine);
    expect(readdirSync(path.join(dataDir!, 'spool')).sort()).toEqual([theirs[1], ...mine]);
    expect(bounds).toEqual(['1 full other']);
    // Never delivered, theirs is dropped once too old, like one of its own.
    clock.time += 61_000;
    expect(await spool.names()).toEqual([]);
    expect(readdirSync(path.join(dataDir!, 'spool'))).toEqual([]);
    expect(bounds).toEqual(['1 full other', '2 old mine', '1 old other']);
  });

  it('takes a report an earlier version spooled (no endpoint in its name) for its own endpoint, once', async () => {
    const { spool, dataDir, clock } = setup();
    const untagged = `${spoolName(clock.now(), 5, id(5), 'pb', MINE).slice(0, 63)}.pb`;
    mkdirSync(path.join(dataDir!, 'spool'));
    writeFileSync(path.join(dataDir!, 'spool', untagged), new Uint8Array([5]));
    const other = setup(undefined, dataDir, OTHER);
    await spool.init();
    await other.spool.init();
    const taken = spoolName(clock.now(), 5, id(5), 'pb', MINE);
    expect(await spool.names()).toEqual([taken]);
    expect([...(await spool.read(taken))!]).toEqual([5]);
    expect(await other.spool.names()).toEqual([]);
    expect(readdirSync(path.join(dataDir!, 'spool'))).toEqual([taken]);
  });
});
