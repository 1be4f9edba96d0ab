// The entry point the collector uses for POST /api/v3/report: bytes (already inflated) plus the
// request's content type in, a validated AgentReport or a ProtocolError out.
import { ProtocolError } from '../errors.js';
import { parseReportJson } from './json.js';
import { type AgentReport, NATIVE_LIMITS } from './model.js';
import { parseReportProtobuf } from './protobuf.js';
import { validateReport } from './validate.js';

export const NATIVE_CONTENT_TYPES = ['application/json', 'application/x-protobuf'] as const;
export type NativeContentType = (typeof NATIVE_CONTENT_TYPES)[number];

export function decodeNativeReport(body: Uint8Array, contentType: NativeContentType): AgentReport {
  if (body.byteLength > NATIVE_LIMITS.bodyMax) {
    throw new ProtocolError(
      'too_large',
      `body is ${body.byteLength} bytes; the limit is ${NATIVE_LIMITS.bodyMax} (after decompression)`,
      413,
    );
  }
  // Parameters such as "; charset=utf-8" are allowed and ignored.
  const type = String(contentType).split(';')[0]!.trim().toLowerCase();
  let plain: unknown;
  if (type === 'application/json') plain = parseReportJson(body);
  else if (type === 'application/x-protobuf') plain = parseReportProtobuf(body);
  else {
    throw new ProtocolError(
      'unsupported_media_type',
      `content type ${JSON.stringify(String(contentType).slice(0, 100))} is not one of ${NATIVE_CONTENT_TYPES.join(', ')}`,
      415,
    );
  }
  try {
    return validateReport(plain);
  } catch (error) {
    if (error instanceof ProtocolError) throw error;
    // A validator bug must still surface as a 400, never as a 500 (and is caught by the fuzz tests).
    throw new ProtocolError('invalid_report', `report could not be validated: ${String(error)}`);
  }
}
