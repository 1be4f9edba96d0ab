// The spool: every report is written here before it is sent and removed once the collector
// acknowledged it, so a crash or a collector outage loses nothing that was spooled.
//
// Files: `<dataDir>/spool/<created ms, 15 digits>-<sequence, 10 digits>-<report id>.<endpoint>.<pb|json>`,
// each exactly the (uncompressed) request body the agent sends: protobuf AgentReport
// (proto/tidewatch/report.proto) or its JSON form. Names sort oldest first. Written atomically
// (disk.ts); `.tmp-*` files are interrupted writes and are deleted at start.
// `<endpoint>` (endpointTag) says which collector the report is for: processes sharing a dataDir
// may have different endpoints (or the endpoint changed at a restart), and each delivers only its
// own endpoint's reports. The others stay for a process that has their endpoint.
// Names without it were spooled by an earlier version: the first process to see one renames it to
// its own endpoint (as that version would have sent it there), so it is delivered once.
// Bounds: at most `spoolMaxReports` files, `spoolMaxBytes` bytes, `spoolMaxAge` old, counting every
// endpoint's reports (the bounds hold for the directory); beyond them the oldest reports are
// deleted, and this endpoint's are counted in the next report's `drops.reports`.
// Without a usable disk the same spool lives in memory (same bounds; lost when the process ends).

import { createHash } from 'node:crypto';
import type { Disk } from './disk.js';
import type { Clock } from './options.js';

const DIR = 'spool';

export interface SpoolLimits {
  maxReports: number;
  maxBytes: number;
  maxAge: number;
}

export type SpoolFormat = 'pb' | 'json';

export function spoolName(
  createdMs: number,
  sequence: number,
  reportId: string,
  format: SpoolFormat,
  endpoint: string,
): string {
  return `${String(createdMs).padStart(15, '0')}-${String(sequence).padStart(10, '0')}-${reportId}.${endpoint}.${format}`;
}

/** The report URL without credentials: what the audit copies say a report was sent to. */
export function endpointOf(reportUrl: URL): string {
  const url = new URL(reportUrl.href);
  url.username = '';
  url.password = '';
  return url.href;
}

/**
 * 12 hex digits of the SHA-256 of endpointOf(): the same for every spelling of one URL (the URL
 * parser normalizes case, default ports, trailing slashes), and no password in it to guess at.
 */
export const endpointTag = (reportUrl: URL): string =>
  createHash('sha256').update(endpointOf(reportUrl)).digest('hex').slice(0, 12);

export function formatOf(name: string): SpoolFormat {
  return name.endsWith('.json') ? 'json' : 'pb';
}

/** When the report was spooled, by the wall clock, from its name (or a sent/ copy's). */
export const createdOf = (name: string) => Number.parseInt(name.slice(0, 15), 10) || 0;
const NAME = /^\d{15}-\d{10}-[0-9a-f-]{36}\.([0-9a-f]{12})\.(pb|json)$/;
/** A report spooled by a version that did not record the endpoint. */
const UNTAGGED = /^\d{15}-\d{10}-[0-9a-f-]{36}\.(pb|json)$/;

export type Whose = 'mine' | 'other';

export class Spool {
  /** Every spooled report and its size; `memory` holds the bodies that never reached the disk. */
  private readonly sizes = new Map<string, number>();
  private readonly memory = new Map<string, Uint8Array>();

  constructor(
    private readonly disk: Disk,
    /** This process's endpoint (endpointTag): the reports it spools, names and delivers. */
    readonly endpoint: string,
    private readonly limits: SpoolLimits,
    private readonly clock: Clock,
    /**
     * Called with the number of reports the bounds pushed out, which bound (`full` or `old`), and
     * whether they were for this endpoint or another.
     */
    private readonly onDropped: (count: number, bound: 'full' | 'old', whose: Whose) => void,
  ) {}

  private whose(name: string): Whose {
    return NAME.exec(name)?.[1] === this.endpoint ? 'mine' : 'other';
  }

  /**
   * When each report of this process was spooled, on the clock that only moves forward: its age
   * does not jump with a wall-clock step (a VM restored from a snapshot, then corrected by NTP,
   * aged a minute-old report by 40 days and dropped it). Another process's report has only the wall
   * time in its name: its age is read from it once, when it is adopted (a clock stepped forward a
   * year later dropped a report left by the previous process).
   */
  private readonly putAt = new Map<string, number>();

  /** Picks up what a previous process left behind. */
  async init(): Promise<void> {
    await this.disk.removeTemps(DIR);
    await this.adopt();
    await this.enforce();
  }

  /**
   * Takes on the reports in the directory that this process does not know: other processes on the
   * same dataDir (node:cluster workers, a copy still shutting down when its successor started)
   * spool there too. Done whenever the bounds are checked, not only at start: a report spooled by a copy that ended
   * after this one started otherwise waited for the next start, and was dropped as too old when
   * that came after spoolMaxAge. From then on it ages by elapsed time, like this process's own.
   * Another endpoint's reports are taken on only to count toward the bounds, never delivered.
   * A report another process delivered is forgotten: counted, it would push real ones out.
   */
  private async adopt(): Promise<void> {
    const now = this.clock.now();
    const elapsed = this.clock.elapsed?.();
    const listed = await this.disk.list(DIR);
    const present = new Set(listed);
    for (const name of [...this.sizes.keys()]) {
      // Checked by stat too: a directory that could not be listed must not empty the spool.
      if (present.has(name) || this.memory.has(name)) continue;
      if ((await this.disk.size(`${DIR}/${name}`)) === null) this.forget(name);
    }
    for (const listedName of listed) {
      let name = listedName;
      if (UNTAGGED.test(name) && !this.sizes.has(name)) {
        // Left by an earlier version, which would have sent it to the endpoint it then had: taken
        // for this one. A rename, so of several processes only one takes it. One that cannot be
        // renamed (a read-only dataDir) stays, under the bounds, for a later start.
        const mine = name.replace(/\.(pb|json)$/, `.${this.endpoint}.$1`);
        if (await this.disk.move(`${DIR}/${name}`, `${DIR}/${mine}`)) name = mine;
      } else if (!NAME.test(name)) continue;
      if (this.sizes.has(name)) continue;
      const size = await this.disk.size(`${DIR}/${name}`);
      if (size === null) continue; // gone meanwhile (delivered by its owner), or not a file
      this.sizes.set(name, size);
      if (elapsed !== undefined) this.putAt.set(name, elapsed - Math.max(0, now - createdOf(name)));
    }
  }

  /** Spools a body; true if it is on disk (durable), false if only in memory. */
  async put(name: string, body: Uint8Array): Promise<boolean> {
    const durable = await this.disk.write(`${DIR}/${name}`, body);
    if (!durable) this.memory.set(name, body);
    this.sizes.set(name, body.length);
    const elapsed = this.clock.elapsed?.();
    if (elapsed !== undefined) this.putAt.set(name, elapsed);
    await this.adopt(); // the bounds hold for the directory, which other processes share
    await this.enforce(name);
    return durable;
  }

  /** Names of this endpoint's spooled reports, oldest first, after dropping what is over the bounds. */
  async names(): Promise<string[]> {
    // The newest report is spared by the count and size bounds here too, as when it was put: a
    // single report larger than spoolMaxBytes is still sent once.
    await this.adopt();
    const mine = [...this.sizes.keys()].filter((name) => this.whose(name) === 'mine').sort();
    await this.enforce(mine.at(-1));
    return mine.filter((name) => this.sizes.has(name));
  }

  async read(name: string): Promise<Uint8Array | null> {
    return this.memory.get(name) ?? (await this.disk.read(`${DIR}/${name}`));
  }

  async remove(name: string): Promise<void> {
    this.forget(name);
    if (!this.memory.delete(name)) await this.disk.remove(`${DIR}/${name}`);
  }

  private forget(name: string): void {
    this.sizes.delete(name);
    this.putAt.delete(name);
  }

  /** This endpoint's spooled reports. */
  get size(): number {
    let count = 0;
    for (const name of this.sizes.keys()) if (this.whose(name) === 'mine') count++;
    return count;
  }

  /** Drops the oldest reports until every bound holds (`keep`, the newest, only when it is too old). */
  private async enforce(keep?: string): Promise<void> {
    const names = [...this.sizes.keys()].sort();
    let bytes = 0;
    for (const n of names) bytes += this.sizes.get(n)!;
    const oldest = this.clock.now() - this.limits.maxAge;
    const elapsed = this.clock.elapsed?.();
    const tooOld = (name: string) => {
      const at = this.putAt.get(name);
      return at !== undefined && elapsed !== undefined
        ? elapsed - at > this.limits.maxAge
        : createdOf(name) < oldest;
    };
    const dropped = { full: { mine: 0, other: 0 }, old: { mine: 0, other: 0 } };
    let removed = 0;
    for (const name of names) {
      const over = names.length - removed > this.limits.maxReports || bytes > this.limits.maxBytes;
      const aged = tooOld(name);
      if ((name === keep || !over) && !aged) continue;
      bytes -= this.sizes.get(name)!;
      await this.remove(name);
      removed++;
      dropped[aged ? 'old' : 'full'][this.whose(name)]++;
    }
    for (const bound of ['full', 'old'] as const) {
      for (const whose of ['mine', 'other'] as const) {
        if (dropped[bound][whose] > 0) this.onDropped(dropped[bound][whose], bound, whose);
      }
    }
  }
}
