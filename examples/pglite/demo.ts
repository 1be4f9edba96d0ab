// `npm run demo`: a Tidewatch collector, the bank service on PGlite with the agent attached, and a
// workload, as three processes; prints the dashboard address where the database's query volume,
// errors and latency percentiles appear. Ctrl-C stops all three (the service's agent sends its last
// report first) and removes the demo's temporary store.
//
//   npm run demo [-- --port 8080] [--interval-ms 5000] [--seconds N]
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: '0' }, // the collector's; 0 picks a free one
    'interval-ms': { type: 'string', default: '5000' }, // the agent's report interval (default 24 h!)
    seconds: { type: 'string', default: '0' }, // stop by itself after this long; 0: run until Ctrl-C
  },
});

const work = mkdtempSync(path.join(tmpdir(), 'tidewatch-demo-'));
const children: ChildProcess[] = [];

/** Starts a child whose output is shown with a prefix; resolves with the first line matching `ready`. */
function start(
  name: string,
  argv: string[],
  env: NodeJS.ProcessEnv,
  ready: RegExp,
): Promise<RegExpExecArray> {
  const child = spawn(process.execPath, argv, {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    // In a process group of its own: a terminal's Ctrl-C goes to the whole foreground group, and the
    // collector would stop at once, before the service's agent sent its last report. Only this
    // process gets it, and stops the children in order.
    detached: true,
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    let matched = false;
    const show = (line: string) => {
      const match = matched ? null : ready.exec(line);
      if (match) {
        matched = true;
        resolve(match);
      } else if (!/this admin token is shown once/.test(line)) console.log(`[${name}] ${line}`);
      // (that hint belongs to the dashboard line, which this script prints itself, later)
    };
    createInterface({ input: child.stdout! }).on('line', show);
    createInterface({ input: child.stderr! }).on('line', show);
    child.on('exit', (code) => {
      if (!matched) reject(new Error(`${name} exited (${code}) before it was ready`));
      else if (!stopping) void stop(`${name} exited (${code})`, 1);
    });
  });
}

let stopping = false;
/** Stops the workload, then the service (its agent flushes), then the collector; waits for each. */
async function stop(why: string, exitCode = 0): Promise<never> {
  if (!stopping) {
    stopping = true;
    console.log(`stopping (${why})`);
    for (const child of [...children].reverse()) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(work, { recursive: true, force: true });
    console.log('stopped');
  }
  process.exit(exitCode);
}
process.on('SIGINT', () => void stop('Ctrl-C'));
// Should this process end any other way, no child outlives it (they are not in its process group).
process.on('exit', () => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});
process.on('SIGTERM', () => void stop('SIGTERM'));

const tsx = ['--import', 'tsx'];
const intervalMs = Number(args['interval-ms']);
try {
  // A fresh store each run, so the collector creates an admin token and shows it (once).
  const [, dashboardUrl, token] = await start(
    'collector',
    [
      path.join(root, 'packages/cli/bin/tidewatch.js'),
      'serve',
      ...['--host', '127.0.0.1', '--port', args.port, '--log-level', 'warn'],
      ...['--store', `sqlite:${path.join(work, 'tidewatch.db')}`],
    ],
    {},
    /^dashboard: (http:\/\/\S+?)\/#token=(\S+)$/,
  );
  const [, serviceUrl] = await start(
    'service',
    [...tsx, path.join(here, 'service.ts')],
    {
      TIDEWATCH_ENDPOINT: dashboardUrl,
      TIDEWATCH_DATA_DIR: path.join(work, 'agent'),
      TIDEWATCH_INTERVAL_MS: String(intervalMs),
      TIDEWATCH_FIRST_REPORT_MS: String(Math.min(intervalMs, 2_000)),
    },
    /^service listening on (http:\S+)$/,
  );
  await start('workload', [...tsx, path.join(here, 'workload.ts'), '--target', serviceUrl!], {}, /^/);
  console.log(
    [
      '',
      `collector:  ${dashboardUrl}`,
      `service:    ${serviceUrl} (PGlite, agent attached, reporting every ${intervalMs / 1000} s)`,
      'workload:   4 clients: point selects, TPC-B-like transfers, some taken owners and bad sort columns',
      '',
      `dashboard: ${dashboardUrl}/#token=${token}`,
      '  open it, then Metrics: db.query.duration (p50/p90/p99), db.queries, db.query.errors',
      '  (group by "a label…" sqlstate_class: errors by SQLSTATE class), and the agent events (db.ddl)',
      `  or: curl -H 'Authorization: Bearer ${token}' ${dashboardUrl}/query/metrics/db.query.duration`,
      `      curl -H 'Authorization: Bearer ${token}' '${dashboardUrl}/query/metrics/db.query.errors?by=label:sqlstate_class'`,
      `      curl -H 'Authorization: Bearer ${token}' '${dashboardUrl}/query/agent-events?name=db.ddl'`,
      '  Ctrl-C stops all three.',
      '',
    ].join('\n'),
  );
  const seconds = Number(args.seconds);
  if (seconds > 0) setTimeout(() => void stop(`--seconds ${seconds}`), seconds * 1000);
} catch (error) {
  // A child that stops because Ctrl-C came during start-up is not a failure: stop() is already
  // under way and says so.
  if (!stopping) {
    console.error(String(error));
    await stop('a process failed to start', 1);
  }
}
