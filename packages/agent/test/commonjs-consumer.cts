// A CommonJS consumer of the package as published: src/commonjs.test.ts type-checks it with
// `module: node16` and runs it with require().
import { type Agent, AgentError, type AgentOptions, createAgent, DEFAULTS } from '@tidewatch/agent';

const options: AgentOptions = { endpoint: 'http://127.0.0.1:9', nodeType: 'worker', dataDir: null };
let agent: Agent | undefined;
try {
  createAgent({ ...options, endpoint: 'not a url' });
} catch (error) {
  if (error instanceof AgentError) {
    const code: 'invalid_option' = error.code;
    agent = createAgent({ ...options, enabled: code !== 'invalid_option' });
  }
}
agent?.counter('hits').inc();
console.log(JSON.stringify({ enabled: agent?.enabled, interval: DEFAULTS.interval }));
