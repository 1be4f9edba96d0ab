// `tidewatch serve`: run the collector until SIGTERM/SIGINT, then shut down gracefully (stop
// accepting, finish in-flight writes, close the store, exit 0).
import { constants, hostname } from 'node:os';
import {
  type CollectorConfig,
  DEFAULT_CONFIG,
  type RunningCollector,
  sqliteFile,
  startCollector,
} from '@tidewatch/collector';
import { unknownVariables } from './args.js';

/** A second identical signal within this is the first one delivered twice (see onSignal). */
const REPEAT_WINDOW_MS = 1_000;

export async function serve(config: CollectorConfig, env: NodeJS.ProcessEnv = {}): Promise<void> {
  // `npm start | head` closes stdout: a write to it must not crash the collector (pino drops the
  // lines once it runs; the start lines below would throw EPIPE as an unhandled 'error' event).
  process.stdout.on('error', () => {});
  // Signals are handled from the start. Before the server listens, nothing has been acknowledged,
  // so a signal ends start-up at once, as it always did (an upgrade's migrations can take minutes;
  // SQL ones are transactional; a ClickHouse rollup whose fill is cut short stays partial: drop it
  // and start again, docs/deploy.md). Once it listens, /healthz answers while the last start-up
  // steps still run: a supervisor that saw it may signal, and that signal waits for them (within
  // the stop's own deadline; a second signal exits at once), then shuts down cleanly.
  const deadlineMs = (config.storeTimeout > 0 ? config.storeTimeout : 60_000) + 5_000;
  let listening = false;
  let pending: NodeJS.Signals | undefined;
  let running: ((signal: NodeJS.Signals) => void) | undefined;
  let signalled = false;
  let first: { signal: NodeJS.Signals; at: number } | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    // Ctrl-C on `npm start` reaches the collector twice within milliseconds: the terminal sends
    // SIGINT to npm and to it, and npm passes its own on. The same signal again within a second is
    // that one Ctrl-C, not an operator asking to exit at once.
    if (first && first.signal === signal && Date.now() - first.at < REPEAT_WINDOW_MS) return;
    first ??= { signal, at: Date.now() };
    signalled = true;
    if (running) return running(signal);
    if (listening && pending === undefined) {
      pending = signal;
      console.error(`${signal}: stopping once start-up has finished (at most ${deadlineMs / 1000} s)`);
      setTimeout(() => {
        console.error(`start-up did not finish within ${deadlineMs / 1000} s: exiting now`);
        process.exit(1);
      }, deadlineMs).unref();
      return;
    }
    if (listening) {
      console.error(`second signal (${signal}): exiting without waiting`);
      process.exit(1);
    }
    console.error(`${signal} during start-up: stopping before serving anything`);
    process.exit(128 + (constants.signals[signal] ?? 0));
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  // Not after a signal: npm passes its SIGTERM on and then exits, and the orphan's second stop
  // would count as a second signal and cut the clean stop short.
  if (env['npm_command']) stopWhenOrphaned(() => signalled || onSignal('SIGTERM'));
  const collector = await startCollector(config, {
    onListening: () => {
      listening = true;
    },
  });
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      collector.app.log.warn({ signal }, 'second signal: exiting without waiting');
      process.exit(1);
    }
    stopping = true;
    collector.app.log.info({ signal }, 'shutting down: finishing in-flight writes');
    // A stalled store (a lock held elsewhere, a hung connection) must not keep the process up:
    // in-flight writes are answered 503 after the store timeout, so past it nothing is left to
    // acknowledge, and every report that was acknowledged is committed.
    setTimeout(() => {
      collector.app.log.error(
        { deadlineMs },
        'shutdown: the store did not finish within the deadline; exiting now (every acknowledged report is committed)',
      );
      process.exit(1);
    }, deadlineMs).unref();
    collector.close().then(
      () => {
        collector.app.log.info('stopped cleanly');
        process.exit(0);
      },
      (error: unknown) => {
        collector.app.log.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  running = stop;
  printStart(collector, config, env);
  // After the start lines: a first start's admin token is shown once, and was stored.
  if (pending) stop(pending);
}

function printStart(collector: RunningCollector, config: CollectorConfig, env: NodeJS.ProcessEnv): void {
  const { url } = collector;
  console.log(`listening on ${url}`);
  console.log(`store: ${shownStore(config.store)}`);
  for (const { name, closest } of unknownVariables(env)) {
    collector.app.log.warn(
      `${name} is set but is no setting of tidewatch${closest ? `: did you mean ${closest}?` : ''} (ignored)`,
    );
  }
  if (config.store === 'sqlite::memory:') {
    collector.app.log.warn(
      'the store is in memory (sqlite::memory:): everything stored is lost when the collector stops; use sqlite:PATH to keep it',
    );
  }
  // Listening on every interface: http://0.0.0.0:4318 is no address a browser can open (Chromium
  // refuses 0.0.0.0), so the dashboard line names the machine.
  const wildcard = dashboardUrl(url);
  const dashboard = wildcard ?? url;
  if (collector.createdAdminToken) {
    console.log(`dashboard: ${dashboard}/#token=${collector.createdAdminToken}`);
    console.log('  (this admin token is shown once: keep the address; only its hash is stored)');
  } else if (config.adminToken) {
    console.log(`dashboard: ${dashboard}/ (sign in with the admin token you configured)`);
  } else {
    console.log(
      `dashboard: ${dashboard}/ (sign in with your token; mint one with: npx tidewatch token create --role admin${storeFlag(config.store)})`,
    );
  }
  if (wildcard)
    console.log(`  (listening on every interface; on this machine also ${withHost(url, 'localhost')}/)`);
}

/**
 * Started through npm (`npx tidewatch serve`): npm runs the command in a shell and passes a
 * SIGTERM to that shell, which dies without passing it on, so a service manager that stops npm
 * left this process running, orphaned, its port and store still held. The parent's end is the
 * signal then. Only under npm: a collector started any other way may outlive its parent on purpose.
 */
function stopWhenOrphaned(stop: () => void): void {
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    console.error('the npm process that started this collector is gone: stopping as on SIGTERM');
    stop();
  }, 500);
  timer.unref();
}

/** For a wildcard listening address (0.0.0.0, ::), the same URL with this machine's host name. */
export function dashboardUrl(url: string): string | undefined {
  const { hostname: listening } = new URL(url);
  return listening === '0.0.0.0' || listening === '[::]' ? withHost(url, hostname()) : undefined;
}

function withHost(url: string, host: string): string {
  const parsed = new URL(url);
  parsed.hostname = host;
  return parsed.origin;
}

/**
 * `--store …` for a command an operator is told to run against this collector's store: without it
 * the command would open the default store (relative to its own directory), not this one. A
 * password in the URL is not printed (PASSWORD stands in for it).
 */
export function storeFlag(store: string): string {
  if (store === DEFAULT_CONFIG.store) return '';
  // A SQLite file by its absolute path: the command may be run from another directory.
  const shown = shownStore(store);
  return ` --store '${shown.replaceAll("'", "'\\''")}'`;
}

/** The store as the start-up line names it: a SQLite file by its absolute path, no password. */
export function shownStore(store: string): string {
  const file = sqliteFile(store);
  return file ? `sqlite:${file}` : hidePassword(store);
}

function hidePassword(store: string): string {
  try {
    const url = new URL(store);
    if (url.password) {
      url.password = 'PASSWORD';
      return url.toString();
    }
  } catch {
    // sqlite:PATH and the like: nothing secret in them.
  }
  return store;
}
