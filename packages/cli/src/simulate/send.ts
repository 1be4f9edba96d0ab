// Delivery of simulated items: NDJSON batches (gzip) to the admin import route with their
// backdated receive times, or plain requests to the public ingest routes. Errors become messages
// that say what to do (collector down, token wrong or not admin).
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { ImportAnswer } from '@tidewatch/protocol';
import { describeFetchError, START_HINT } from '../fetch-error.js';
import type { WireItem } from './activity.js';

const gzipAsync = promisify(gzip);

export class SimulateError extends Error {}

export interface Counts {
  reports: number;
  events: number;
  agentReports: number;
}

export interface Delivered {
  requests: number;
  sent: Counts;
  /** What the collector stored new (import mode: its answer; public mode: `stored` answers). */
  stored: Counts;
  /** Rows the collector already had (a rerun of the same seed). Import mode only. */
  duplicates: number;
  /** is_test items, validated and dropped by the collector. */
  discarded: number;
  /** Items of erased (blocked) clusters, dropped by the collector. */
  blocked: number;
  /** Items received before the collector's retention period, not stored. Import mode only. */
  expired: number;
}

export function emptyDelivered(): Delivered {
  return {
    requests: 0,
    sent: { reports: 0, events: 0, agentReports: 0 },
    stored: { reports: 0, events: 0, agentReports: 0 },
    duplicates: 0,
    discarded: 0,
    blocked: 0,
    expired: 0,
  };
}

function count(into: Counts, item: WireItem): void {
  if (item.kind === 'report') into.reports++;
  else if (item.kind === 'agent') into.agentReports++;
  else into.events += item.events;
}

/** fetch, with "cannot reach" turned into a message naming the URL. */
async function post(target: string, path: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(`${target}${path}`, { ...init, method: 'POST', signal: AbortSignal.timeout(120_000) });
  } catch (error) {
    throw new SimulateError(
      `cannot reach the collector at ${target} (${describeFetchError(error)}): ${START_HINT}`,
    );
  }
}

async function refusal(response: Response, path: string, target: string): Promise<SimulateError> {
  const text = await response.text();
  let message = text.slice(0, 500);
  try {
    message = (JSON.parse(text) as { message?: string }).message ?? message;
  } catch {
    // Not our JSON error body: show the text as it is.
  }
  if (response.status === 401) {
    return new SimulateError(
      `the collector at ${target} refused the token (401: ${message}): pass the admin token \`npm start\` printed, or create one with \`npx tidewatch token create --role admin\``,
    );
  }
  if (response.status === 403) {
    return new SimulateError(
      `the token is not an admin token (403): importing history needs one; create it with \`npx tidewatch token create --role admin\``,
    );
  }
  if (response.status === 404 && path === '/admin/import') {
    return new SimulateError(`the collector at ${target} has no ${path} route: is it an older Tidewatch?`);
  }
  return new SimulateError(
    `the collector at ${target} answered ${response.status} to POST ${path}: ${message}`,
  );
}

/** Batches of NDJSON lines to `/admin/import`, at most `inFlight` requests at a time. */
export class ImportSender {
  readonly delivered = emptyDelivered();
  private lines: string[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private failure: unknown = null;

  constructor(
    private readonly target: string,
    private readonly token: string,
    private readonly batchLines = 2000,
    private readonly maxInFlight = 2,
  ) {}

  /** Checks the address and the token before anything is generated. */
  async check(): Promise<void> {
    await this.request('');
  }

  async add(item: WireItem): Promise<void> {
    count(this.delivered.sent, item);
    this.lines.push(
      JSON.stringify({
        receivedAt: new Date(item.receivedAt).toISOString(),
        path: item.path,
        contentType: item.contentType,
        body: Buffer.from(item.body).toString('base64'),
      }),
    );
    if (this.lines.length >= this.batchLines) await this.flush();
  }

  async finish(): Promise<Delivered> {
    await this.flush();
    await Promise.all(this.inFlight);
    if (this.failure) throw this.failure;
    return this.delivered;
  }

  private async flush(): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.lines.length === 0) return;
    const body = `${this.lines.join('\n')}\n`;
    this.lines = [];
    // Backpressure: generation waits while the collector is busy, so memory stays bounded.
    while (this.inFlight.size >= this.maxInFlight) await Promise.race(this.inFlight);
    if (this.failure) throw this.failure;
    const sending: Promise<void> = this.request(body)
      .catch((error: unknown) => {
        this.failure ??= error;
      })
      .finally(() => this.inFlight.delete(sending));
    this.inFlight.add(sending);
  }

  private async request(ndjson: string): Promise<void> {
    const response = await post(this.target, '/admin/import', {
      body: await gzipAsync(ndjson, { level: 4 }),
      headers: {
        authorization: `Bearer ${this.token}`,
        'content-type': 'application/x-ndjson',
        'content-encoding': 'gzip',
      },
    });
    if (!response.ok) throw await refusal(response, '/admin/import', this.target);
    // Only imported and discarded are counted on: blocked and expired came after the route, and a
    // collector from before answers without them.
    const answer = (await response.json()) as Partial<ImportAnswer> &
      Pick<ImportAnswer, 'imported' | 'discarded'>;
    if (ndjson === '') return;
    const d = this.delivered;
    d.requests++;
    d.stored.reports += answer.imported.reports;
    d.stored.events += answer.imported.events;
    d.stored.agentReports += answer.imported.agentReports;
    d.duplicates += answer.duplicates ?? 0;
    d.discarded += answer.discarded;
    d.blocked += answer.blocked ?? 0;
    d.expired += answer.expired ?? 0;
  }
}

/** One request per item to the public ingest routes, as the clusters themselves would send. */
export class PublicSender {
  readonly delivered = emptyDelivered();

  constructor(
    private readonly target: string,
    private readonly concurrency = 8,
  ) {}

  async check(): Promise<void> {
    try {
      await fetch(`${this.target}/healthz`, { signal: AbortSignal.timeout(10_000) });
    } catch (error) {
      throw new SimulateError(
        `cannot reach the collector at ${this.target} (${describeFetchError(error)}): ${START_HINT}`,
      );
    }
  }

  async sendAll(items: readonly WireItem[], onEach: () => void): Promise<Delivered> {
    let next = 0;
    const worker = async () => {
      while (next < items.length) {
        const item = items[next++]!;
        await this.send(item);
        onEach();
      }
    };
    await Promise.all(Array.from({ length: this.concurrency }, worker));
    return this.delivered;
  }

  private async send(item: WireItem): Promise<void> {
    const response = await post(this.target, item.path, {
      body: item.body,
      headers: { 'content-type': item.contentType },
    });
    if (!response.ok) throw await refusal(response, item.path, this.target);
    const answer = (await response.json()) as { status: string };
    const d = this.delivered;
    d.requests++;
    count(d.sent, item);
    const items = item.kind === 'events' ? item.events : 1;
    if (answer.status === 'stored') count(d.stored, item);
    else if (answer.status === 'blocked') d.blocked += items;
    else d.discarded += items;
  }
}
