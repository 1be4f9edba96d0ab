// A host process for crash tests: runs the agent on a fast real-time schedule and keeps counting
// until it is killed. Usage: child-agent.ts <endpoint> <dataDir> [nodeType]
import { createAgent } from '../src/index.js';

const [endpoint, dataDir, nodeType = 'crash-test'] = process.argv.slice(2);
const agent = createAgent({
  endpoint: endpoint!,
  dataDir: dataDir!,
  nodeType,
  trackingId: 'crash-cluster',
  interval: 150,
  firstReportDelay: 50,
  jitter: 0,
  retryBase: 50,
  maxBackoff: 100,
  timeout: 1000,
  env: {},
  logger: { warn: () => {} },
});
const work = agent.counter('work');
setInterval(() => work.inc(), 1); // keeps the process alive, like a database would
process.stdout.write('ready\n');
