// Several processes on one dataDir (node:cluster workers, a restart overlapping the old copy's
// shutdown), each a real node process, reporting over real HTTP.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { decodeNativeReport } from '@tidewatch/protocol';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { host, kill, killChildren, said, spawnHost } from '../test/children.js';
import { type StubCollector, startCollector } from '../test/collector-stub.js';

const stubs: StubCollector[] = [];
afterEach(async () => {
  killChildren();
  for (const stub of stubs.splice(0)) await stub.close();
});

async function collector(answer?: Parameters<typeof startCollector>[0]): Promise<StubCollector> {
  const stub = await startCollector(answer);
  stubs.push(stub);
  return stub;
}

/** Ids of the reports of `nodeType` in the spool of dataDir (child-agent.ts spools protobuf). */
const spooledBy = (dataDir: string, nodeType: string) =>
  readdirSync(path.join(dataDir, 'spool'))
    .filter((n) => n.endsWith('.pb'))
    .map((n) => decodeNativeReport(readFileSync(path.join(dataDir, 'spool', n)), 'application/x-protobuf'))
    .filter((r) => r.nodeType === nodeType)
    .map((r) => r.reportId);

describe('processes sharing a dataDir', () => {
  it('deliver only the reports spooled for their own endpoint; the others wait for a process that has it', async () => {
    const staging = await collector(() => 503); // down for now: its reports stay spooled
    const production = await collector();
    const dataDir = mkdtempSync(path.join(tmpdir(), 'tw-shared-'));
    const [a, b] = await Promise.all([
      host(staging.url, dataDir, 'for-staging'),
      host(production.url, dataDir, 'for-production'),
    ]);
    // Both report every 150 ms; each delivery drains what it finds in the spool.
    await vi.waitFor(
      () => {
        expect(staging.requests).toBeGreaterThanOrEqual(5);
        expect(production.accepted.length).toBeGreaterThanOrEqual(5);
      },
      { timeout: 15_000 },
    );
    await kill(a);
    await kill(b);
    expect(production.accepted.filter((r) => r.nodeType !== 'for-production')).toEqual([]);
    const left = spooledBy(dataDir, 'for-staging');
    expect(left.length).toBeGreaterThan(0);

    // A later process with the staging endpoint delivers them there.
    staging.answer = () => 200;
    const later = await host(staging.url, dataDir, 'for-staging');
    await vi.waitFor(
      () => expect(staging.accepted.map((r) => r.reportId)).toEqual(expect.arrayContaining(left)),
      { timeout: 15_000 },
    );
    await kill(later);
    expect(staging.accepted.filter((r) => r.nodeType !== 'for-staging')).toEqual([]);
    const toProduction = new Set(production.accepted.map((r) => r.reportId));
    expect(left.filter((id) => toProduction.has(id))).toEqual([]);
  }, 60_000);

  it('show the first-start notice once when they start at the same moment on a fresh dataDir', async () => {
    const stub = await collector();
    const dataDir = mkdtempSync(path.join(tmpdir(), 'tw-notice-'));
    const workers: ChildProcess[] = [];
    const exited: Promise<unknown>[] = [];
    const output: string[] = [];
    for (let i = 0; i < 6; i++) {
      const child = spawnHost('child-notice.ts', stub.url, dataDir);
      output.push('');
      child.stdout!.on('data', (d: Buffer) => (output[i] += d.toString()));
      exited.push(new Promise((resolve) => child.on('exit', resolve)));
      workers.push(child);
    }
    await Promise.all(workers.map((w) => said(w, 'waiting')));
    for (const w of workers) w.stdin!.write('go\n'); // all start together, as cluster workers do
    await Promise.all(exited);
    expect(output.filter((o) => o.includes('started'))).toHaveLength(6);
    const notices = output
      .join('')
      .split('\n')
      .filter((l) => l.includes('TIDEWATCH_TELEMETRY=off'));
    expect(notices).toHaveLength(1);
  }, 60_000);
});
