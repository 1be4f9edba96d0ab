// What every hostile-input test asserts after each request: a refusal is a 4xx with the JSON error
// shape and left no row behind; and afterwards the collector is healthy and still stores a valid
// report.
import { randomUUID } from 'node:crypto';
import { expect } from 'vitest';
import type { TestCollector } from './collector.js';
import { metaReport } from './risingwave.js';
import { INGEST_TABLES, type RowCounts, rowCounts } from './row-counts.js';

export interface Answer {
  status: number;
  body: { error?: unknown; message?: unknown; status?: unknown; reports?: unknown; events?: unknown };
}

/** Sends one request and reads its JSON answer (every answer must be JSON, whatever the status). */
export async function send(
  c: TestCollector,
  route: string,
  body: Uint8Array,
  headers: Record<string, string>,
): Promise<Answer> {
  const res = await c.post(route, body, headers);
  const text = await res.text();
  let json: Answer['body'];
  try {
    json = JSON.parse(text) as Answer['body'];
  } catch {
    throw new Error(`${route} answered ${res.status} with a body that is not JSON: ${text.slice(0, 200)}`);
  }
  return { status: res.status, body: json };
}

/** A 4xx with `{ error, message }`, never a 5xx. */
export function expectRefused(answer: Answer, what: string): void {
  if (answer.status < 400 || answer.status >= 500) {
    throw new Error(`${what}: expected a 4xx, got ${answer.status} ${JSON.stringify(answer.body)}`);
  }
  if (typeof answer.body.error !== 'string' || typeof answer.body.message !== 'string') {
    throw new Error(`${what}: ${answer.status} without the { error, message } shape`);
  }
}

export function expectSameRows(before: RowCounts, after: RowCounts, what: string): void {
  for (const table of INGEST_TABLES) {
    if (after[table] !== before[table]) {
      throw new Error(`${what}: ${table} went from ${before[table]} to ${after[table]} rows`);
    }
  }
}

/** /healthz and /readyz answer 200, and a new valid report is stored (one more row). */
export async function expectHealthy(c: TestCollector): Promise<void> {
  expect((await fetch(`${c.url}/healthz`)).status).toBe(200);
  expect((await fetch(`${c.url}/readyz`)).status).toBe(200);
  const before = await rowCounts(c.collector.store);
  const res = await c.postProto('/api/v2/report/meta', metaReport({ trackingId: randomUUID() }));
  expect(res.status).toBe(200);
  expect((await rowCounts(c.collector.store)).reports).toBe(before.reports + 1);
}
