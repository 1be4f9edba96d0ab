// Drains the spool through the transport, oldest report first, and keeps the audit trail.
//
// 2xx: the report leaves the spool and a readable copy goes to `<dataDir>/sent/`. A retryable
// failure stops the drain (the collector is down or busy: the rest would fail too) and the agent
// schedules the next attempt with backoff. Any other answer drops that one report, counted.
//
// Audit files: `<dataDir>/sent/<spool name without extension>.json`, the report exactly as the
// collector received it, decoded and printed as JSON (whatever the wire format was), one metric or
// event per line, so an operator can read what left the machine, and where to: its first key,
// `sentTo`, is the report URL (without credentials). The newest `sentMax` are kept.
import { type AgentReport, decodeNativeReport } from '@tidewatch/protocol';
import type { Disk } from './disk.js';
import type { ResolvedOptions } from './options.js';
import { createdOf, endpointOf, formatOf, type Spool } from './spool.js';
import { type SendResult, send } from './transport.js';

const SENT = 'sent';

export interface DrainResult {
  delivered: number;
  dropped: number;
  /** The failure that stopped the drain, if one did. */
  retry: Extract<SendResult, { outcome: 'retry' }> | null;
}

export class Delivery {
  /**
   * The report spooled last, as the object it was encoded from: sent at once (the usual case),
   * its audit copy needs no decoding, which takes ~0.3 s for a 1 MiB report of wide histograms
   * (protobuf-es reads every bucket count as a bigint). One report only, so memory stays bounded
   * however long the collector is away; older ones are decoded from the spool.
   */
  private last: { name: string; report: AgentReport } | null = null;

  constructor(
    private readonly spool: Spool,
    private readonly disk: Disk,
    private readonly options: ResolvedOptions,
    private readonly onDropped: (message: string) => void,
  ) {}

  /** Called with each report once it is in the spool under `name`. */
  spooled(name: string, report: AgentReport): void {
    this.last = { name, report };
  }

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
      const report = this.last?.name === name ? this.last.report : null;
      if (report) this.last = null;
      if (sent.outcome === 'ok') {
        result.delivered++;
        await this.audit(name, report ?? body, format);
      } else {
        result.dropped++;
        this.onDropped(`report ${name} dropped: ${sent.reason}`);
      }
    }
    return result;
  }

  private async audit(name: string, sent: AgentReport | Uint8Array, format: 'pb' | 'json'): Promise<void> {
    if (this.options.sentMax === 0 || this.disk.memoryOnly) return;
    // Optional writes: a sent/ that cannot be written must not take the spool off the disk.
    const copy = `${name.replace(/\.(pb|json)$/, '')}.json`;
    const text = await auditText(endpointOf(this.options.reportUrl), sent, format);
    if (!(await this.disk.write(`${SENT}/${copy}`, text, true))) return;
    const kept = await this.disk.list(SENT);
    // Oldest first, but copies dated after now go first: named while the wall clock ran ahead, they
    // sorted after every newer copy, which was then deleted as soon as it was written.
    const now = this.options.clock.now();
    const ahead = kept.filter((n) => createdOf(n) > now && n !== copy);
    const order = [...ahead, ...kept.filter((n) => !ahead.includes(n))];
    for (const old of order.slice(0, Math.max(0, kept.length - this.options.sentMax))) {
      await this.disk.remove(`${SENT}/${old}`, true);
    }
  }
}

/** Metrics and events turned into text per event-loop turn (like the encoder's hundred series). */
const AUDIT_SLICE = 100;

/**
 * The audit copy: where it went (`sentTo`) and the report as the collector received it, as JSON
 * with its top-level fields one per line and each metric and event on a line of its own.
 * Pretty-printing every bucket count on a line of its own made a 1 MiB report of wide histograms a
 * 10.7 MB file and blocked the host's event loop for ~0.4 s; this is ~1.8 MB, written a slice at a
 * time.
 */
async function auditText(
  sentTo: string,
  sent: AgentReport | Uint8Array,
  format: 'pb' | 'json',
): Promise<string> {
  let report: AgentReport;
  try {
    report =
      sent instanceof Uint8Array
        ? decodeNativeReport(sent, format === 'json' ? 'application/json' : 'application/x-protobuf')
        : sent;
  } catch (error) {
    return `${JSON.stringify({ sentTo, undecodable: String(error) })}\n`;
  }
  const { metrics, events, ...rest } = report;
  const head = JSON.stringify({ sentTo, ...rest }, null, 2);
  const parts = [head.slice(0, -2), ',\n'];
  for (const [key, list] of [
    ['metrics', metrics],
    ['events', events],
  ] as const) {
    parts.push(`  "${key}": [`);
    for (let i = 0; i < list.length; i++) {
      if (i > 0 && i % AUDIT_SLICE === 0) await new Promise((resolve) => setImmediate(resolve));
      parts.push(`${i === 0 ? '\n' : ',\n'}    ${JSON.stringify(list[i])}`);
    }
    parts.push(list.length > 0 ? '\n  ]' : ']', key === 'metrics' ? ',\n' : '\n}\n');
  }
  return parts.join('');
}
