// @tidewatch/agent: telemetry for a database node that never hurts its host.

export type { AgentReport } from '@tidewatch/protocol';
export { type Agent, createAgent } from './agent.js';
export { AgentError } from './errors.js';
export { type AgentOptions, type Clock, DEFAULTS, type Logger, systemClock } from './options.js';
export type { Counter, Gauge, Histogram, Labels, MetricInfo } from './registry.js';
export { AGENT_VERSION, type EventFields } from './report.js';
