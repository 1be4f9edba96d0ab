// A host that starts the agent when told to, for starting several at the same moment (as
// node:cluster workers do). Usage: child-notice.ts <endpoint> <dataDir>; says `waiting`, starts the
// agent once a line arrives on stdin, writes every log line to stdout, says `started` and shuts down.
import { createAgent } from '../src/index.js';

const [endpoint, dataDir] = process.argv.slice(2);
process.stdin.once('data', async () => {
  process.stdin.destroy();
  const agent = createAgent({
    endpoint: endpoint!,
    dataDir: dataDir!,
    nodeType: 'worker',
    trackingId: 'notice-cluster',
    env: {},
    logger: { warn: (m) => void process.stdout.write(`${m}\n`) },
  });
  await agent.preview(); // start() is over: the notice was printed or not
  process.stdout.write('started\n');
  await agent.shutdown(1000);
});
process.stdout.write('waiting\n');
