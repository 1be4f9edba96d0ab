// The native Tidewatch report (protocol v3): model, wire forms, validation and the exponential
// histogram math shared by the agent and the collector.
export { decodeNativeReport, NATIVE_CONTENT_TYPES, type NativeContentType } from './decode.js';
export {
  bucketIndex,
  downscale,
  emptyHistogram,
  FITTED_BUCKETS_MIN,
  HistogramMerger,
  histogramOf,
  lowerBoundary,
  mergeHistograms,
  quantile,
  relativeErrorBound,
  SCALE_FOR_2_PERCENT,
  spanOneScaleFiner,
  stepsToFit,
} from './exp-histogram.js';
export { encodeReportJson, parseReportJson } from './json.js';
export * from './model.js';
export { encodeReportProtobuf, encodeReportProtobufPieces, parseReportProtobuf } from './protobuf.js';
export { validateHistogram, validateReport } from './validate.js';
