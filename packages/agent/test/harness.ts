// Shared by the agent's test files: a stub collector and temp dirs, cleaned up after each test.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach } from 'vitest';
import { type StubCollector, startCollector } from './collector-stub.js';

export const DAY = 24 * 60 * 60 * 1000;
export const MINUTE = 60 * 1000;

/** Run after the current test, in order (agents shut down, stubs closed). */
export const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0)) await f();
});

export async function collector(answer?: Parameters<typeof startCollector>[0]): Promise<StubCollector> {
  const stub = await startCollector(answer);
  cleanup.push(() => stub.close());
  return stub;
}

export const tempDir = () => mkdtempSync(path.join(tmpdir(), 'tw-agent-'));
