export { auditEntryAnswer } from './admin/audit.js';
export { hashToken, newToken, tokenRecord, verifyToken } from './auth/tokens.js';
export { type RunningCollector, startCollector } from './collector.js';
export { type CollectorConfig, DEFAULT_CONFIG } from './config.js';
export { CollectorError } from './errors.js';
export { csvLine } from './query/export-format.js';
export { buildServer, type Collector } from './server.js';
export { openStore, sqliteFile } from './store/open-store.js';
export type * from './store/store.js';
