// JSON texts that RisingWave embeds inside its reports: connector usage and license info.
// A text that does not parse is kept as sent and flagged, never a reason to reject the report.
import { Flags, storable } from './fields.js';
import type { ConnectorUse } from './model.js';

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * How deep arrays and objects may nest in an embedded JSON text. Real ones nest two or three
 * levels; a deeper one still parses, but writing it back out (JSON.stringify, fastify's
 * serializer) recurses once per level and runs out of stack at a few thousand.
 */
export const MAX_JSON_DEPTH = 64;

/** Whether the arrays and objects of a JSON text nest at most `max` deep: a scan, no parse. */
export function nestsAtMost(text: string, max: number = MAX_JSON_DEPTH): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // a backslash escapes the next character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return false;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return true;
}

/**
 * An embedded JSON text parsed, or undefined when it does not parse or nests deeper than
 * MAX_JSON_DEPTH (such a text is kept as text: it could not be written back out as JSON).
 */
export function parseEmbeddedJson(text: string): unknown {
  if (!nestsAtMost(text)) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function shortString(value: unknown, flags: Flags): string | null {
  return typeof value === 'string' && value.length > 0 && value.length <= 256 ? storable(value, flags) : null;
}

/**
 * A format or encode as one name: RisingWave 2.3+ writes its protobuf enum's name
 * (`FORMAT_TYPE_PLAIN`, `ENCODE_TYPE_JSON`, from `as_str_name()`), older versions and hand-written
 * samples `plain`, `json`; both are `plain`, `json` here, so one connector is one row.
 */
function enumValue(value: string | null, prefix: string): string | null {
  if (value === null) return null;
  const lower = value.toLowerCase();
  return lower.startsWith(prefix) && lower.length > prefix.length ? lower.slice(prefix.length) : lower;
}

/** `{"source":[{"<id>":{"connector":..,"format":..,"encode":..}}],"sink":[...]}` */
export function parseConnectorUsage(json: string | null, flags: Flags): ConnectorUse[] {
  if (json === null) return [];
  const parsed = parseEmbeddedJson(json);
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
          id: storable(id.slice(0, 64), flags),
          connector: shortString(d['connector'], flags)?.toLowerCase() ?? null,
          format: enumValue(shortString(d['format'], flags), 'format_type_'),
          encode: enumValue(shortString(d['encode'], flags), 'encode_type_'),
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
  const parsed = parseEmbeddedJson(json);
  if (!isRecord(parsed)) {
    flags.add('license_unparsable');
    return { tier: null, subject: null };
  }
  // RisingWave 2.6+ writes a custom tier as an object, `{"name": …, "features": […]}`: its name may
  // be the customer's, so it is kept as `custom` only.
  const tier = isRecord(parsed['tier']) ? 'custom' : shortString(parsed['tier'], flags);
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
  const parsed = parseEmbeddedJson(json);
  if (!isRecord(parsed)) return JSON.stringify({ unparsable: redact(json) });
  if (!('sub' in parsed)) return null;
  const sub = parsed['sub'];
  return JSON.stringify({ ...parsed, sub: redact(typeof sub === 'string' ? sub : JSON.stringify(sub)) });
}
