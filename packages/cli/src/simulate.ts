// `tidewatch simulate`: a realistic, deterministic fleet sent to a collector through the real wire
// formats. With an admin token, the whole history goes to /admin/import with backdated receive
// times; without one, only the last day goes to the public ingest routes, because those stamp
// the collector's own clock and never trust a client's.
import { parseArgs } from 'node:util';
import { integer, targetUrl, UsageError } from './args.js';
import { checkSendableToken } from './fetch-error.js';
import { FleetSimulation, type WireItem } from './simulate/activity.js';
import { DAY_MS } from './simulate/fleet.js';
import { ProgressBar } from './simulate/progress.js';
import { type Delivered, ImportSender, PublicSender } from './simulate/send.js';

export const SIMULATE_USAGE = `usage: tidewatch simulate --clusters N --days D [--target URL] [--token T] [--seed S] [--agents] [--now TIME]

  --clusters N   clusters in the fleet (1–100000); some run from the start, new ones keep arriving,
                 some go silent for good
  --days D       days of history (1–365), ending now
  --target URL   the collector (default TIDEWATCH_URL, else http://127.0.0.1:8080)
  --token T      an admin token: send all D days to /admin/import with backdated receive times.
                 Without it, only the last day's reports go to the public ingest routes (they
                 stamp the collector's clock), so the dashboard shows one day
  --seed S       the same seed gives the same fleet and the same bytes; a rerun stores nothing twice
                 (default 1)
  --agents       also send one Tidewatch agent report per cluster per day (query counters, errors
                 by SQLSTATE class and latency histograms that differ by version)
  --now TIME     pretend it is TIME (ISO 8601, not in the future): reproducible runs`;

export interface SimulateOptions {
  clusters: number;
  days: number;
  target: string;
  token: string | null;
  seed: string;
  agents: boolean;
  now: number;
}

function required(value: string | undefined, name: string, min: number, max: number): number {
  if (value === undefined) throw new UsageError(`${name} is required\n\n${SIMULATE_USAGE}`);
  return integer(value, name, min, max);
}

export function simulateOptions(
  argv: string[],
  now = Date.now(),
  env: NodeJS.ProcessEnv = {},
): SimulateOptions | null {
  const { values } = parseArgs({
    args: argv,
    options: {
      clusters: { type: 'string' },
      days: { type: 'string' },
      target: { type: 'string' },
      token: { type: 'string' },
      seed: { type: 'string' },
      agents: { type: 'boolean' },
      now: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) return null;
  // The same environment as `tidewatch query`: set once, used by both.
  const target = targetUrl(values, env);
  let at = now;
  if (values.now !== undefined) {
    at = Date.parse(values.now);
    // Date.parse rolls 2026-02-30 over to March 2: the calendar day must come back as written.
    const [, y, m, d] = /^(\d{4})-(\d{2})-(\d{2})/.exec(values.now) ?? [];
    const rolledOver =
      d !== undefined && new Date(Date.UTC(Number(y), Number(m) - 1, Number(d))).getUTCDate() !== Number(d);
    if (Number.isNaN(at) || at > now || rolledOver) {
      throw new UsageError(`--now must be an ISO 8601 time that is not in the future, not "${values.now}"`);
    }
  }
  // Not TIDEWATCH_TOKEN: a token switches simulate to importing history, which a read token for
  // `tidewatch query` cannot do; it is passed on purpose.
  if (values.token === '') throw new UsageError('--token is empty');
  if (values.token !== undefined) checkSendableToken(values.token, '--token');
  if (values.seed === '')
    throw new UsageError('--seed is empty (any text: the same seed gives the same fleet)');
  return {
    clusters: required(values.clusters, '--clusters', 1, 100_000),
    days: required(values.days, '--days', 1, 365),
    target,
    token: values.token ?? null,
    seed: values.seed ?? '1',
    agents: values.agents ?? false,
    now: at,
  };
}

const n = (v: number) => v.toLocaleString('en-US');
/** Said only when it happened: items of clusters an admin erased, which the collector drops. */
const blockedNote = (blocked: number) =>
  blocked > 0 ? `; ${n(blocked)} items of erased (blocked) clusters dropped` : '';
/** Items older than the collector keeps (its --retention-months): not stored. */
const expiredNote = (expired: number) =>
  expired > 0 ? `; ${n(expired)} items older than the collector's retention not stored` : '';

/** Everything with a receive time in the period, day by day, in NDJSON imports. */
async function importHistory(sim: FleetSimulation, o: SimulateOptions, token: string): Promise<Delivered> {
  const sender = new ImportSender(o.target, token);
  await sender.check();
  const days = sim.days();
  const bar = new ProgressBar(process.stderr, days.length, 'days');
  const d = sender.delivered;
  const status = () =>
    `${n(d.sent.reports)} reports  ${n(d.sent.events)} events${o.agents ? `  ${n(d.sent.agentReports)} agent reports` : ''}`;
  const sentItems = () => d.sent.reports + d.sent.events + d.sent.agentReports;
  for (const [i, dayStart] of days.entries()) {
    for (const item of sim.day(dayStart, Number.NEGATIVE_INFINITY)) {
      await sender.add(item);
      bar.update(i, sentItems(), status());
    }
    bar.update(i + 1, sentItems(), status());
  }
  const delivered = await sender.finish();
  bar.update(days.length, sentItems(), status(), true);
  bar.finish();
  return delivered;
}

/** Only the last 24 hours, to the public routes (state still advances through the whole period). */
async function sendToday(sim: FleetSimulation, o: SimulateOptions): Promise<Delivered> {
  const sender = new PublicSender(o.target);
  await sender.check();
  const items: WireItem[] = [];
  for (const dayStart of sim.days()) for (const item of sim.day(dayStart, sim.end - DAY_MS)) items.push(item);
  const bar = new ProgressBar(process.stderr, items.length, 'requests');
  let done = 0;
  const delivered = await sender.sendAll(items, () => {
    done++;
    bar.update(
      done,
      done,
      `${n(sender.delivered.sent.reports)} reports  ${n(sender.delivered.sent.events)} events`,
    );
  });
  bar.update(
    items.length,
    done,
    `${n(delivered.sent.reports)} reports  ${n(delivered.sent.events)} events`,
    true,
  );
  bar.finish();
  return delivered;
}

function summary(sim: FleetSimulation, o: SimulateOptions, d: Delivered, seconds: number): string {
  const seen = sim.clusters.filter((c) => c.bornAt <= sim.end);
  const reporting = seen.filter((c) => (c.silentAt ?? Number.POSITIVE_INFINITY) > sim.end);
  const silent = seen.length - reporting.length;
  const examples = reporting
    .filter((c) => !c.isTest)
    .slice(0, 3)
    .map((c) => c.trackingId);
  const auth = `-H "Authorization: Bearer $TOKEN"`;
  const lines = [
    `simulated ${n(o.clusters)} clusters over ${o.days} days (seed ${o.seed}) in ${seconds.toFixed(1)} s`,
    `  sent      ${n(d.sent.reports)} reports, ${n(d.sent.events)} events, ${n(d.sent.agentReports)} agent reports in ${n(d.requests)} requests to ${o.target}${o.token ? '/admin/import' : ''}`,
    o.token
      ? `  stored    ${n(d.stored.reports)} reports, ${n(d.stored.events)} events, ${n(d.stored.agentReports)} agent reports new; ${n(d.duplicates)} already stored; ${n(d.discarded)} is_test items discarded${blockedNote(d.blocked)}${expiredNote(d.expired)}`
      : `  stored    ${n(d.stored.reports)} reports, ${n(d.stored.events)} events, ${n(d.stored.agentReports)} agent reports acknowledged; ${n(d.discarded)} is_test items discarded${blockedNote(d.blocked)}`,
    `  fleet     ${n(reporting.length)} clusters still reporting, ${n(silent)} went silent, ${n(o.clusters - seen.length)} arrive later today; versions ${sim.releases[0]!.version} to ${sim.releases.at(-1)!.version}`,
    '',
    'next:',
    `  dashboard     ${o.target}/`,
    `  one cluster   curl ${auth} ${o.target}/query/clusters/${examples[0] ?? sim.clusters[0]!.trackingId}`,
  ];
  if (o.agents) {
    lines.push(`  latency       curl ${auth} '${o.target}/query/metrics/db.query.duration?by=version'`);
    lines.push(
      `  errors        curl ${auth} '${o.target}/query/metrics/db.query.errors?by=label:sqlstate_class'`,
    );
  }
  if (examples.length > 1) lines.push(`  more clusters ${examples.slice(1).join(' ')}`);
  if (!o.token) {
    lines.push(
      '',
      `only the last day was sent, to the public ingest routes (they stamp the collector's clock).`,
      `for ${o.days} days of history, pass an admin token: --token <the token \`npm start\` printed>`,
    );
  }
  return lines.join('\n');
}

export async function simulate(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const o = simulateOptions(argv, Date.now(), env);
  if (!o) {
    console.log(SIMULATE_USAGE);
    return;
  }
  const started = performance.now();
  const sim = new FleetSimulation(o);
  const delivered = o.token ? await importHistory(sim, o, o.token) : await sendToday(sim, o);
  console.log(summary(sim, o, delivered, (performance.now() - started) / 1000));
}
