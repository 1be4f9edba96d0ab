// The demo's clients: a few workers calling the bank service in a loop (mostly point selects and
// transfers, now and then a taken owner or an unknown sort column, so that errors show up too).
//
//   npx tsx examples/pglite/workload.ts --target http://127.0.0.1:3000 [--workers 4] [--pause-ms 5]
import { parseArgs } from 'node:util';
import { SMALL_BANK } from './bank.js';

const { values: args } = parseArgs({
  options: {
    target: { type: 'string' },
    workers: { type: 'string', default: '4' },
    'pause-ms': { type: 'string', default: '5' },
  },
});
if (!args.target) throw new Error('--target URL is required');
const target = args.target;
const pause = Number(args['pause-ms']);
const accounts = SMALL_BANK.branches * SMALL_BANK.accountsPerBranch;
const randomAid = () => 1 + Math.floor(Math.random() * accounts);

let running = true;
const done = { requests: 0, failed: 0 };

function nextRequest(): [string, string] {
  const r = Math.random();
  if (r < 0.6) return ['GET', `/accounts/${randomAid()}`];
  if (r < 0.9) return ['POST', '/transfer'];
  // Owners repeat (one in 50 names): a taken owner is a unique violation in the database.
  if (r < 0.97) return ['POST', `/signup?aid=${randomAid()}&owner=user-${Math.floor(Math.random() * 50)}`];
  return ['GET', `/accounts?sort=${Math.random() < 0.5 ? 'abalance' : 'balance'}`]; // 'balance' is no column
}

async function worker(): Promise<void> {
  while (running) {
    const [method, path] = nextRequest();
    try {
      const res = await fetch(`${target}${path}`, { method });
      await res.arrayBuffer();
      done.requests++;
      if (res.status >= 400) done.failed++;
    } catch {
      if (running) done.failed++;
    }
    if (pause > 0) await new Promise((resolve) => setTimeout(resolve, pause));
  }
}

const workers = Array.from({ length: Number(args.workers) }, () => worker());
const progress = setInterval(
  () => console.log(`workload: ${done.requests} requests, ${done.failed} answered with an error`),
  5_000,
);
const stop = async () => {
  running = false;
  clearInterval(progress);
  await Promise.all(workers);
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
