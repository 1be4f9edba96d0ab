// Shared by the agent's test files: a stub collector and temp dirs, cleaned up after each test.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach } from 'vitest';
import { createAgent } from '../src/agent.js';
import type { AgentOptions } from '../src/options.js';
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

/** An agent of tracking id cluster-1 reporting to `url`, its log lines collected, shut down after the test. */
export function agentFor(url: string, options: Partial<AgentOptions>) {
  const logs: string[] = [];
  const agent = createAgent({
    endpoint: url,
    nodeType: 'frontend',
    version: '2.1.0',
    trackingId: 'cluster-1',
    jitter: 0,
    env: {},
    logger: { warn: (m) => logs.push(m) },
    ...options,
  });
  cleanup.push(() => agent.shutdown(500));
  return { agent, logs };
}
