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
 * The license JSON with its `sub` (a customer name) replaced by `redact(sub)`, and a custom tier's
 * name (RisingWave 2.6+: `"tier": {"name": …}`, which may be the customer's) by `custom`, as the
 * `license_tier` column keeps it; or null when there is nothing to redact. Every other byte stays
 * as sent: the members are replaced in the text, not re-serialized, because JSON.parse rounds an
 * unsigned 64-bit `exp` (RisingWave's u64::MAX for "never") to another number. A text that is not
 * a JSON object is replaced whole (it may be anything).
 */
export function redactLicenseJson(json: string, redact: (subject: string) => string): string | null {
  const parsed = parseEmbeddedJson(json);
  if (!isRecord(parsed)) return JSON.stringify({ unparsable: redact(json) });
  let out = '';
  let from = 0;
  for (const member of topLevelMembers(json)) {
    if (member.key !== 'sub' && member.key !== 'tier') continue;
    const value = JSON.parse(json.slice(member.start, member.end)) as unknown;
    let replacement: string | null = null;
    if (member.key === 'sub') {
      replacement = JSON.stringify(redact(typeof value === 'string' ? value : JSON.stringify(value)));
    } else if (member.key === 'tier' && isRecord(value) && 'name' in value) {
      replacement = JSON.stringify({ ...value, name: 'custom' });
    }
    if (replacement === null) continue;
    out += json.slice(from, member.start) + replacement;
    from = member.end;
  }
  return from === 0 ? null : out + json.slice(from);
}

/**
 * Where each top-level member's value is in the text of a JSON object (valid JSON: parsed before),
 * with its key; every member, duplicates included (JSON.parse keeps the last, a reader may not).
 * Hand-written: no JSON library in reach reports where a value is in its text.
 */
function topLevelMembers(json: string): { key: string; start: number; end: number }[] {
  const members: { key: string; start: number; end: number }[] = [];
  let i = skipSpace(json, 0);
  if (json[i] !== '{') return members;
  i = skipSpace(json, i + 1);
  while (i < json.length && json[i] === '"') {
    const keyEnd = stringEnd(json, i);
    const key = JSON.parse(json.slice(i, keyEnd)) as string;
    const start = skipSpace(json, skipSpace(json, keyEnd) + 1); // past the ':'
    const end = valueEnd(json, start);
    members.push({ key, start, end });
    i = skipSpace(json, end);
    if (json[i] === ',') i = skipSpace(json, i + 1);
  }
  return members;
}

function skipSpace(json: string, i: number): number {
  while (i < json.length && (json[i] === ' ' || json[i] === '\n' || json[i] === '\r' || json[i] === '\t'))
    i++;
  return i;
}

/** Just past the string that starts at i (a `"`). */
function stringEnd(json: string, i: number): number {
  for (let j = i + 1; j < json.length; j++) {
    if (json[j] === '\\') j++;
    else if (json[j] === '"') return j + 1;
  }
  return json.length;
}

/** Just past the value that starts at i. */
function valueEnd(json: string, i: number): number {
  const first = json[i];
  if (first === '"') return stringEnd(json, i);
  if (first === '{' || first === '[') {
    let depth = 0;
    for (let j = i; j < json.length; j++) {
      const c = json[j];
      if (c === '"') j = stringEnd(json, j) - 1;
      else if (c === '{' || c === '[') depth++;
      else if (c === '}' || c === ']') {
        depth--;
        if (depth === 0) return j + 1;
      }
    }
    return json.length;
  }
  let j = i;
  while (j < json.length && !',}] \n\r\t'.includes(json[j]!)) j++;
  return j;
}
