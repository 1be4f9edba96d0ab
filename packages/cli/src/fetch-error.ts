/** fetch's "fetch failed" with its cause (ECONNREFUSED, ENOTFOUND, …), which says what is wrong. */
export function describeFetchError(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error as Error).message;
}

/** What to do when the collector does not answer, for every command that calls it. */
export const START_HINT =
  'start it with `npm start` or `npx tidewatch serve`, or point at it with --target URL or TIDEWATCH_URL';
