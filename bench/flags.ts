// Command-line checks shared by the benchmarks.

/** An integer flag (`1_000_000` allowed) within [min, max], or an error naming the flag. */
export function integerFlag(
  name: string,
  value: string | undefined,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  const n = Number(value?.replaceAll('_', ''));
  if (!Number.isInteger(n) || n < min || n > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`;
    throw new Error(`--${name} must be an integer ${range}, not ${value}`);
  }
  return n;
}
