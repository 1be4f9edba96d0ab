// A host that never writes to stderr itself, started with stderr a pipe whose reader then goes
// away, and the agent's default logger. Usage: child-closed-stderr.ts <endpoint>; starts once a
// line arrives on stdin (the reader is gone by then) and says `alive` on stdout if it survived.
import { createAgent } from '../src/index.js';

process.stdin.once('data', async () => {
  process.stdin.destroy();
  const agent = createAgent({
    endpoint: process.argv[2]!,
    dataDir: null,
    nodeType: 'daemon',
    trackingId: 'closed-stderr',
    env: {},
  });
  agent.counter('c', Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, 'v']))).inc(); // a warning
  await agent.preview(); // the notice and the warning are written by now
  await new Promise((resolve) => setTimeout(resolve, 100));
  process.stdout.write('alive\n');
  await agent.shutdown(500);
});
