// The real `tidewatch serve` in a child process, for tests and benches that kill, restart or
// measure it from outside (packages/cli must be built: vitest's global setup runs tsc -b).
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const TIDEWATCH_BIN = fileURLToPath(new URL('../../cli/bin/tidewatch.js', import.meta.url));

export interface CollectorProcess {
  child: ChildProcess;
  pid: number;
  url: string;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  /** Whatever the process wrote to stderr so far. */
  stderr(): string;
}

/** Starts `tidewatch serve --port 0 ...args` and resolves once it prints `listening on URL`. */
export async function spawnCollector(args: string[], cwd?: string): Promise<CollectorProcess> {
  const child = spawn(
    process.execPath,
    [TIDEWATCH_BIN, 'serve', '--port', '0', '--log-level', 'error', ...args],
    {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  const errors: string[] = [];
  child.stderr!.on('data', (d) => errors.push(String(d)));
  const lines = createInterface({ input: child.stdout! });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no "listening on" line; stderr: ${errors.join('')}`)),
      30_000,
    );
    lines.on('line', (line) => {
      const match = /^listening on (\S+)$/.exec(line);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`tidewatch serve exited with ${code}: ${errors.join('')}`));
    });
  });
  lines.on('line', () => {}); // keep draining stdout
  return { child, pid: child.pid!, url, exited, stderr: () => errors.join('') };
}
