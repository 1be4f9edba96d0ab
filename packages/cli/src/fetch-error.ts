import { UsageError } from './args.js';

/** fetch's "fetch failed" with its cause (ECONNREFUSED, ENOTFOUND, …), which says what is wrong. */
export function describeFetchError(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  // An https:// address of a collector that serves plain HTTP: TLS reads its HTTP answer.
  if (cause?.code === 'ERR_SSL_WRONG_VERSION_NUMBER' || cause?.code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG')
    return `${cause.code} (it answers plain HTTP, not TLS: use an http:// address)`;
  return cause?.code ?? cause?.message ?? (error as Error).message;
}

/**
 * Refuses a token no HTTP header can carry, before any request: fetch would throw on it, and the
 * command then blamed a collector that is down. Tokens are printable ASCII; a curly quote or a
 * line break comes from copying one out of a document or a chat.
 */
export function checkSendableToken(token: string, source: string): void {
  const bad = /[^\x21-\x7e]/.exec(token);
  if (!bad) return;
  const code = `U+${bad[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
  throw new UsageError(
    `${source} holds a character a token never has (${code} at position ${bad.index + 1}; a curly quote, a space or a line break copied with it?): copy the token again as plain text`,
  );
}

/** What to do when the collector does not answer, for every command that calls it. */
export const START_HINT =
  'start it with `npm start` or `npx tidewatch serve`, or point at it with --target URL or TIDEWATCH_URL';
