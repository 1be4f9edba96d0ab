// The one-time notice on an agent's first start: what is collected, where it goes, how to turn it off.
//
// File: `<dataDir>/notice-shown`, one line, when it was shown (ms). Created, never replaced, by the
// process that shows the notice.
import type { Disk } from './disk.js';
import type { ResolvedOptions } from './options.js';

/**
 * True if this process is to show the notice: the one that creates the marker file. Processes
 * starting together on a fresh dataDir (node:cluster workers) all read a state.json without
 * noticeShownMs, and each printed the notice; the create is exclusive, so one of them does.
 * Without a usable disk ('failed') every start shows it, as nothing would remember it.
 */
export async function claimNotice(disk: Disk, now: number): Promise<boolean> {
  return (await disk.create('notice-shown', `${now}\n`)) !== 'exists';
}

/** The report interval in words for the notice: "once a day", "every 6 hours", "every 5 seconds". */
function howOften(ms: number): string {
  if (ms === 86_400_000) return 'once a day';
  for (const [unit, size] of [
    ['day', 86_400_000],
    ['hour', 3_600_000],
    ['minute', 60_000],
    ['second', 1000],
  ] as const) {
    if (ms >= size && ms % size === 0) return ms === size ? `every ${unit}` : `every ${ms / size} ${unit}s`;
  }
  return `every ${ms} ms`;
}

export const NOTICE = (o: ResolvedOptions, dir: string | null) =>
  [
    `tidewatch: this software sends usage telemetry ${howOften(o.interval)}: its version, node type,`,
    'system facts (OS, memory, CPUs), process facts (heap, event-loop delay, uptime), its own',
    'counters, gauges, latency histograms and events, and cluster facts such as node counts, under a',
    'random tracking id (or the one the software sets). No hostnames, addresses, queries or data.',
    `It goes to ${o.reportUrl.origin}. Copies of what was sent: ${dir ? `${dir}/sent/` : '(memory only)'}.`,
    'Turn it off with TIDEWATCH_TELEMETRY=off or DO_NOT_TRACK=1; see it with TIDEWATCH_TELEMETRY_DEBUG=1.',
  ].join('\n');
