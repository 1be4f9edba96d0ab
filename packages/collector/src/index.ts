export { auditEntryAnswer } from './admin/audit.js';
export { newToken } from './auth/tokens.js';
export { type RunningCollector, startCollector } from './collector.js';
export { type CollectorConfig, DEFAULT_CONFIG } from './config.js';
export { csvLine } from './query/export-format.js';
export type { Collector } from './server.js';
export { openStore } from './store/open-store.js';
export type * from './store/store.js';
export { sqliteFile } from './store/store-url.js';
