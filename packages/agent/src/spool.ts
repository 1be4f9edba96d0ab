// The spool: every report is written here before it is sent and removed once the collector
// acknowledged it, so a crash or a collector outage loses nothing that was spooled.
//
// Files: `<dataDir>/spool/<created ms, 15 digits>-<sequence, 10 digits>-<report id>.<pb|json>`, each
// exactly the (uncompressed) request body the agent sends: protobuf AgentReport
// (proto/tidewatch/report.proto) or its JSON form. Names sort oldest first. Written atomically
// (disk.ts); `.tmp-*` files are interrupted writes and are deleted at start.
// Bounds: at most `spoolMaxReports` files, `spoolMaxBytes` bytes, `spoolMaxAge` old; beyond them the
// oldest reports are deleted and counted in the next report's `drops.reports`.
// Without a usable disk the same spool lives in memory (same bounds; lost when the process ends).

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
): string {
  return `${String(createdMs).padStart(15, '0')}-${String(sequence).padStart(10, '0')}-${reportId}.${format}`;
}

export function formatOf(name: string): SpoolFormat {
  return name.endsWith('.json') ? 'json' : 'pb';
}

/** When the report was spooled, by the wall clock, from its name (or a sent/ copy's). */
export const createdOf = (name: string) => Number.parseInt(name.slice(0, 15), 10) || 0;
const NAME = /^\d{15}-\d{10}-[0-9a-f-]{36}\.(pb|json)$/;

export class Spool {
  /** Every spooled report and its size; `memory` holds the bodies that never reached the disk. */
  private readonly sizes = new Map<string, number>();
  private readonly memory = new Map<string, Uint8Array>();

  constructor(
    private readonly disk: Disk,
    private readonly limits: SpoolLimits,
    private readonly clock: Clock,
    /** Called with the number of reports the bounds pushed out, and which bound: `full` or `old`. */
    private readonly onDropped: (count: number, bound: 'full' | 'old') => void,
  ) {}

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
    for (const name of listed) {
      if (!NAME.test(name) || this.sizes.has(name)) continue;
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

  /** Names of spooled reports, oldest first, after dropping what is over the bounds. */
  async names(): Promise<string[]> {
    // The newest report is spared by the count and size bounds here too, as when it was put: a
    // single report larger than spoolMaxBytes is still sent once.
    await this.adopt();
    const sorted = [...this.sizes.keys()].sort();
    await this.enforce(sorted.at(-1));
    return sorted.filter((name) => this.sizes.has(name));
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

  get size(): number {
    return this.sizes.size;
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
    let full = 0;
    let old = 0;
    for (const name of names) {
      const over = names.length - full - old > this.limits.maxReports || bytes > this.limits.maxBytes;
      const aged = tooOld(name);
      if ((name === keep || !over) && !aged) continue;
      bytes -= this.sizes.get(name)!;
      await this.remove(name);
      if (aged) old++;
      else full++;
    }
    if (full > 0) this.onDropped(full, 'full');
    if (old > 0) this.onDropped(old, 'old');
  }
}
