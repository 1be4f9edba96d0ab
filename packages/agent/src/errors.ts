/**
 * The one error type of the agent. It is only ever thrown by createAgent() for options the host
 * got wrong; after that, nothing the agent does throws into the host (errors are counted in the
 * report's `drops.errors` and logged at most once per interval).
 */
export class AgentError extends Error {
  constructor(
    public readonly code: 'invalid_option',
    message: string,
  ) {
    super(message);
    this.name = 'AgentError';
  }
}

/**
 * A thrown value as text, whatever it is: `String()` itself throws for a null-prototype object, a
 * symbol's description is fine, and an Error's `message` may be a throwing getter. Used in every
 * catch, which must not throw in turn.
 */
export function describeError(error: unknown): string {
  try {
    return error instanceof Error ? String(error.message) : String(error);
  } catch {
    return `a thrown ${typeof error} that cannot be shown`;
  }
}

/** A host's value quoted for an error message (JSON where it can be, e.g. 10n or a null-prototype object). */
export function shown(value: unknown): string {
  // JSON would print NaN and ±Infinity as null.
  if (typeof value === 'number') return String(value);
  try {
    const json = JSON.stringify(value);
    if (json !== undefined) return json;
  } catch {}
  try {
    return String(value);
  } catch {
    return `a ${typeof value}`;
  }
}

/**
 * A copy of `s` that holds no reference to a longer string. V8 makes a cut (`slice`) point into the
 * original, which then cannot be freed while the agent keeps the cut: a 1,024-character field cut
 * from a host's 10 MB string kept all 10 MB alive until the next report. Through UTF-16 bytes the
 * copy is exact, lone surrogates included. For what the agent keeps (event fields, names, label
 * values), never on the hot path.
 */
export function ownCopy(s: string): string {
  return s.length === 0 ? s : Buffer.from(s, 'utf16le').toString('utf16le');
}

/**
 * Sets `key` on a plain object the agent builds from host input, as its own property. Plain
 * assignment would throw for keys such as `constructor` or `toString` in a host that froze
 * Object.prototype (a hardened runtime), losing the label or field.
 */
export function setOwn<T>(target: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}
