// Host processes for the agent's tests: test/'s scripts run in separate node processes (tsx,
// @tidewatch/protocol from source). Call killChildren() after each test.
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const CHILD_ENV = { ...process.env, TSX_TSCONFIG_PATH: path.join(here, 'tsconfig.child.json') };

const children: ChildProcess[] = [];

/** Runs `node --import tsx <args>` with the children's tsconfig; killed by killChildren(). */
export function spawnNode(args: string[]): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], { env: CHILD_ENV, stdio: 'pipe' });
  children.push(child);
  return child;
}

/** Runs one of test/'s host scripts with `args`. */
export const spawnHost = (script: string, ...args: string[]): ChildProcess =>
  spawnNode([path.join(here, script), ...args]);

/** Resolves once the child wrote `line` to stdout; rejects if it exits first. */
export function said(child: ChildProcess, line: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => d.toString().includes(line) && resolve());
    child.on('exit', (code) => reject(new Error(`child exited early (${code})`)));
  });
}

/** Starts child-agent.ts: the agent on a fast real-time schedule, counting until it is killed. */
export async function host(endpoint: string, dataDir: string, nodeType?: string): Promise<ChildProcess> {
  const child = spawnHost('child-agent.ts', endpoint, dataDir, ...(nodeType ? [nodeType] : []));
  await said(child, 'ready');
  return child;
}

export async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.on('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

export function killChildren(): void {
  for (const child of children.splice(0)) child.kill('SIGKILL');
}
