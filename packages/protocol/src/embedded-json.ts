// JSON texts that RisingWave embeds inside its reports: connector usage and license info.
// A text that does not parse is kept as sent and flagged, never a reason to reject the report.
import { Flags } from './fields.js';
import type { ConnectorUse } from './model.js';

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** NUL replaced (no store can hold it) and flagged, like every other string of a report. */
function noNul(value: string, flags: Flags): string {
  if (!value.includes('\0')) return value;
  flags.add('nul_replaced');
  return value.replaceAll('\0', '\uFFFD');
}

function shortString(value: unknown, flags: Flags): string | null {
  return typeof value === 'string' && value.length > 0 && value.length <= 256 ? noNul(value, flags) : null;
}

/** `{"source":[{"<id>":{"connector":..,"format":..,"encode":..}}],"sink":[...]}` */
export function parseConnectorUsage(json: string | null, flags: Flags): ConnectorUse[] {
  if (json === null) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    flags.add('connector_usage_unparsable');
    return [];
  }
  if (!isRecord(parsed)) {
    flags.add('connector_usage_unparsable');
    return [];
  }
  const uses: ConnectorUse[] = [];
  for (const kind of ['source', 'sink'] as const) {
    const list = parsed[kind];
    if (list === undefined || list === null) continue;
    if (!Array.isArray(list)) {
      flags.add('connector_usage_unparsable');
      continue;
    }
    for (const entry of list) {
      if (!isRecord(entry)) {
        flags.add('connector_usage_unparsable');
        continue;
      }
      for (const [id, desc] of Object.entries(entry)) {
        const d = isRecord(desc) ? desc : {};
        uses.push({
          kind,
          id: noNul(id.slice(0, 64), flags),
          connector: shortString(d['connector'], flags)?.toLowerCase() ?? null,
          format: shortString(d['format'], flags)?.toLowerCase() ?? null,
          encode: shortString(d['encode'], flags)?.toLowerCase() ?? null,
        });
      }
    }
  }
  return uses;
}

export interface LicenseFacts {
  tier: string | null;
  subject: string | null;
}

/** License JSON (`sub`, `iss`, `tier`, `rwu_limit`, `exp`) or `{"error": ...}`. */
export function parseLicense(json: string | null, flags: Flags): LicenseFacts {
  if (json === null) return { tier: null, subject: null };
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    flags.add('license_unparsable');
    return { tier: null, subject: null };
  }
  if (!isRecord(parsed)) {
    flags.add('license_unparsable');
    return { tier: null, subject: null };
  }
  const tier = shortString(parsed['tier'], flags);
  return { tier: tier?.toLowerCase() ?? null, subject: shortString(parsed['sub'], flags) };
}

/** The sources and sinks of a stored connector_usage_json_str; what does not parse is left out. */
export function connectorUsesOf(json: string | null): ConnectorUse[] {
  return parseConnectorUsage(json, new Flags());
}

/**
 * The license JSON with its `sub` (a customer name) replaced by `redact(sub)`, or null when there
 * is nothing to redact. A text that is not a JSON object is replaced whole (it may be anything).
 */
export function redactLicenseJson(json: string, redact: (subject: string) => string): string | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    return JSON.stringify({ unparsable: redact(json) });
  }
  if (!isRecord(parsed)) return JSON.stringify({ unparsable: redact(json) });
  if (!('sub' in parsed)) return null;
  const sub = parsed['sub'];
  return JSON.stringify({ ...parsed, sub: redact(typeof sub === 'string' ? sub : JSON.stringify(sub)) });
}
