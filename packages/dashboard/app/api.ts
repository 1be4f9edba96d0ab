// The query API over HTTP, with the tab's token. Errors come back as typed exceptions so views can
// tell "sign in again" from "this route is not there yet" from a real error. The answers' shapes are
// @tidewatch/protocol/api-answers, which the collector's routes are typed to return.
import { getToken } from './auth';

export class UnauthorizedError extends Error {}

/** A token the browser cannot put in a header at all (a character no token has). */
export class UnsendableTokenError extends UnauthorizedError {}

/** 404: an unknown route (not built yet) or an unknown cluster, depending on the route. */
export class NotFoundError extends Error {}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

let controller = new AbortController();

/** Cancels the requests of the previous view; called on every navigation. */
export function cancelPending(): void {
  controller.abort();
  controller = new AbortController();
}

export type Params = Record<string, string | number | null | undefined>;

export function queryString(params: Params): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== '') search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

async function request(path: string, params: Params): Promise<Response> {
  const token = getToken();
  if (!token) throw new UnauthorizedError('Sign in with an access token.');
  const signal = controller.signal;
  let headers: Headers;
  try {
    headers = new Headers({ authorization: `Bearer ${token}`, accept: 'application/json' });
  } catch {
    // The browser refuses the header before anything is sent (fetch would say "Failed to fetch"):
    // a character no header may carry, most often a curly quote or a line break from copying.
    throw new UnsendableTokenError(
      'that token has a character no token has (a curly quote or a line break from copying it?)',
    );
  }
  let response: Response;
  try {
    response = await fetch(`${path}${queryString(params)}`, {
      headers,
      signal,
      cache: 'no-store',
    });
  } catch (error) {
    if (signal.aborted) throw error;
    // The browser's own words ("Failed to fetch", "NetworkError when attempting…") do not say
    // what failed: no answer at all means the collector is down or unreachable.
    throw new ApiError(
      0,
      'unreachable',
      'The collector did not answer (stopped, restarting, or the network is down); reload this page once it is back.',
    );
  }
  if (response.ok) return response;
  let code = 'error';
  let message = `${response.status} ${response.statusText}`;
  try {
    const body = (await response.json()) as { error?: string; message?: string };
    code = body.error ?? code;
    message = body.message ?? message;
  } catch (error) {
    if (signal.aborted) throw error;
    // not JSON: keep the status line
  }
  if (response.status === 401) throw new UnauthorizedError(message);
  if (response.status === 404) throw new NotFoundError(message);
  throw new ApiError(response.status, code, message);
}

export async function getJson<T>(path: string, params: Params = {}): Promise<T> {
  return (await (await request(path, params)).json()) as T;
}

export async function getText(path: string, params: Params = {}): Promise<string> {
  return (await request(path, params)).text();
}

export function isAbort(error: unknown): boolean {
  return error instanceof DOMException && error.name === 'AbortError';
}
