// System and process facts that every report carries. Nothing here identifies a person or a
// machine: no hostnames, no IP addresses, no paths, no user names (privacy decided in code).
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import { type IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import type { AgentProcessData, AgentSystemData } from '@tidewatch/protocol';

/** The distribution's pretty name from /etc/os-release, e.g. "Debian GNU/Linux 12 (bookworm)". */
async function distribution(): Promise<string> {
  if (process.platform !== 'linux') return os.version();
  try {
    const text = await readFile('/etc/os-release', 'utf8');
    const line = /^PRETTY_NAME=(.*)$/m.exec(text)?.[1] ?? '';
    return line.replace(/^"|"$/g, '').slice(0, 200);
  } catch {
    return '';
  }
}

export class Collectors {
  private osVersion = '';
  /**
   * The machine's memory, or a container's cgroup limit when that is lower. Read once at start,
   * like the OS version: both are fixed for a process's life in practice (an in-place resize shows
   * after a restart), and reading them parses /proc/meminfo and the cgroup file.
   */
  private memoryTotal = 0;
  /** Whether a cgroup limit below the machine's memory applies (read with memoryTotal). */
  private constrained = false;
  private readonly loopDelay: IntervalHistogram;

  constructor() {
    // Samples the event loop every 20 ms on its own (unref'd) libuv timer.
    this.loopDelay = monitorEventLoopDelay({ resolution: 20 });
    this.loopDelay.enable();
  }

  async start(): Promise<void> {
    this.osVersion = await distribution();
    this.readMemoryTotals();
  }

  private readMemoryTotals(): void {
    const machine = os.totalmem();
    const constrained = process.constrainedMemory?.() ?? 0;
    this.constrained = constrained > 0 && constrained < machine;
    this.memoryTotal = this.constrained ? constrained : machine;
  }

  /**
   * Memory this process can still get: the cgroup's rest in a container (Node ≥ 20.13), else free
   * memory. Without a limit both are the same number, but availableMemory() still looks for cgroup
   * files on every call: ~76 µs against os.freemem()'s ~18 µs, about 4% of a 500-series report tick.
   */
  private available(): number {
    return this.constrained ? (process.availableMemory?.() ?? os.freemem()) : os.freemem();
  }

  stop(): void {
    this.loopDelay.disable();
  }

  system(): AgentSystemData {
    if (this.memoryTotal === 0) this.readMemoryTotals(); // system() before start()
    return {
      // Against the same total: in a container, what is left of its limit (availableMemory() takes
      // the cgroup into account), not the whole machine's used memory against the limit.
      memoryUsed: Math.max(0, this.memoryTotal - this.available()),
      memoryTotal: this.memoryTotal,
      osName: os.type(),
      osVersion: this.osVersion,
      osKernel: os.release(),
      cpuAvailable: os.availableParallelism(),
    };
  }

  /** With reset, the event-loop delay starts a new interval. */
  process(reset: boolean): AgentProcessData {
    const p99 = this.loopDelay.count > 0 ? this.loopDelay.percentile(99) / 1e9 : null;
    if (reset) this.loopDelay.reset();
    return {
      heapUsed: getHeapStatistics().used_heap_size,
      eventLoopDelayP99: p99,
      uptime: Math.round(process.uptime() * 1000) / 1000,
      runtime: `node ${process.version}`,
    };
  }
}
