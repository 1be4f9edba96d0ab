/** fetch's "fetch failed" with its cause (ECONNREFUSED, ENOTFOUND, …), which says what is wrong. */
export function describeFetchError(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error as Error).message;
}
