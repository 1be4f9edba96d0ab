// The package's types for a CommonJS consumer (`require('@tidewatch/agent')`, Node 20.19+ or 22.12+,
// which load the ES module itself). TypeScript's `module: node16` refuses to let a CommonJS file
// import dist/index.d.ts, an ES module's types (TS1479), so this file states the same exports as
// CommonJS; each points at the ES declaration, so the two cannot drift. Kept in step with
// src/index.ts by src/commonjs.test.ts.
type Esm = typeof import('./dist/index.js', { with: { 'resolution-mode': 'import' }});

export type {
  Agent,
  AgentOptions,
  AgentReport,
  Clock,
  Counter,
  EventFields,
  Gauge,
  Histogram,
  Labels,
  Logger,
  MetricInfo,
} from './dist/index.js' with { 'resolution-mode': 'import' };
export declare const createAgent: Esm['createAgent'];
export declare const AgentError: Esm['AgentError'];
export type AgentError = import('./dist/index.js', { with: { 'resolution-mode': 'import' }}).AgentError;
export declare const DEFAULTS: Esm['DEFAULTS'];
export declare const systemClock: Esm['systemClock'];
export declare const AGENT_VERSION: Esm['AGENT_VERSION'];
