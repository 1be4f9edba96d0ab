// Drains the spool through the transport, oldest report first, and keeps the audit trail.
//
// 2xx: the report leaves the spool and a readable copy goes to `<dataDir>/sent/`. A retryable
// failure stops the drain (the collector is down or busy: the rest would fail too) and the agent
// schedules the next attempt with backoff. Any other answer drops that one report, counted.
//
// Audit files: `<dataDir>/sent/<spool name without extension>.json`, the report exactly as the
// collector received it, decoded and pretty-printed as JSON (whatever the wire format was), so
// an operator can read what left the machine. The newest `sentMax` are kept.
import { decodeNativeReport } from '@tidewatch/protocol';
import type { Disk } from './disk.js';
import type { ResolvedOptions } from './options.js';
import { formatOf, type Spool } from './spool.js';
import { type SendResult, send } from './transport.js';

const SENT = 'sent';

export interface DrainResult {
  delivered: number;
  dropped: number;
  /** The failure that stopped the drain, if one did. */
  retry: Extract<SendResult, { outcome: 'retry' }> | null;
}

export class Delivery {
  constructor(
    private readonly spool: Spool,
    private readonly disk: Disk,
    private readonly options: ResolvedOptions,
    private readonly onDropped: (message: string) => void,
  ) {}

  async drain(signal: AbortSignal): Promise<DrainResult> {
    const result: DrainResult = { delivered: 0, dropped: 0, retry: null };
    for (const name of await this.spool.names()) {
      if (signal.aborted) break;
      const body = await this.spool.read(name);
      if (!body) {
        await this.spool.remove(name); // vanished or unreadable: nothing left to send
        continue;
      }
      const format = formatOf(name);
      const sent = await send(body, {
        url: this.options.reportUrl,
        contentType: format === 'json' ? 'application/json' : 'application/x-protobuf',
        gzip: this.options.gzip,
        timeoutMs: this.options.timeout,
        signal,
        now: this.options.clock.now(),
      });
      if (sent.outcome === 'retry') {
        result.retry = sent;
        break;
      }
      await this.spool.remove(name);
      if (sent.outcome === 'ok') {
        result.delivered++;
        await this.audit(name, body, format);
      } else {
        result.dropped++;
        this.onDropped(`report ${name} dropped: ${sent.reason}`);
      }
    }
    return result;
  }

  private async audit(name: string, body: Uint8Array, format: 'pb' | 'json'): Promise<void> {
    if (this.options.sentMax === 0 || this.disk.memoryOnly) return;
    let text: string;
    try {
      const report = decodeNativeReport(
        body,
        format === 'json' ? 'application/json' : 'application/x-protobuf',
      );
      text = `${JSON.stringify(report, null, 2)}\n`;
    } catch (error) {
      text = `${JSON.stringify({ undecodable: String(error) })}\n`;
    }
    await this.disk.write(`${SENT}/${name.replace(/\.(pb|json)$/, '')}.json`, text);
    const kept = await this.disk.list(SENT);
    for (const old of kept.slice(0, Math.max(0, kept.length - this.options.sentMax))) {
      await this.disk.remove(`${SENT}/${old}`);
    }
  }
}
