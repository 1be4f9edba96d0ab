// The JSON form of the native report: the AgentReport model as it is, UTF-8, no extra fields.
// Readable with any tool, which is why the agent's audit copies in <dataDir>/sent/ use it too.
import { ProtocolError } from '../errors.js';
import type { AgentReport } from './model.js';

export function encodeReportJson(report: AgentReport): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(report));
}

/** Parses UTF-8 JSON into a plain value for validateReport(); ProtocolError('undecodable') otherwise. */
export function parseReportJson(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes));
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ProtocolError('undecodable', `body is not valid UTF-8 JSON: ${reason}`);
  }
}
