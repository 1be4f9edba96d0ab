// The parts of the collector that load no server and no store driver, for the CLI's quick commands
// (help, query, simulate): importing the package's index costs ~1 s of CPU at every start.
export { type CollectorConfig, DEFAULT_CONFIG } from './config.js';
export { csvLine } from './query/export-format.js';
export type { Store } from './store/store.js';
export { sqliteFile } from './store/store-url.js';
