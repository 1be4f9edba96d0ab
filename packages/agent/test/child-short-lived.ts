// A short-lived host: records, awaits flush() and shutdown() as its last steps, and says after
// each that its own code went on (the agent's unref'd timers and sockets once let the process exit
// in the middle of the await). Usage: child-short-lived.ts <endpoint> <dataDir | none>
import { createAgent } from '../src/index.js';

const [endpoint, dataDir] = process.argv.slice(2);
const agent = createAgent({
  endpoint: endpoint!,
  dataDir: dataDir === 'none' ? null : dataDir!,
  nodeType: 'script',
  trackingId: 'short-lived',
  jitter: 0,
  env: {},
  logger: { warn: () => {} },
});
agent.counter('runs').inc();
await agent.flush();
process.stdout.write('after flush\n');
await agent.shutdown(2000);
process.stdout.write('after shutdown\n');
