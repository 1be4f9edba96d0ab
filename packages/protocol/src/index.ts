export type * from './api-answers.js';
export { connectorUsesOf, MAX_JSON_DEPTH, parseEmbeddedJson, redactLicenseJson } from './embedded-json.js';
export * from './errors.js';
export * as risingwaveWire from './gen/risingwave/telemetry_pb.js';
export * from './limits.js';
export * from './model.js';
export * from './native/index.js';
export { decodeV1Report } from './risingwave/v1.js';
export {
  decodeV2Event,
  decodeV2EventBatch,
  decodeV2EventBatchRaw,
  decodeV2Report,
  type RawEvent,
  redactV2LicenseSubject,
} from './risingwave/v2.js';
