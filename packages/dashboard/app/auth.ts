// The access token: taken from a `#token=` fragment on load (a fragment never reaches the server or
// its logs), kept in this tab's sessionStorage, and removed from the address bar at once.
const KEY = 'tidewatch.token';

export function takeTokenFromFragment(): void {
  const match = /^#token=([^&]+)/.exec(window.location.hash);
  if (!match) return;
  let token = match[1]!;
  try {
    token = decodeURIComponent(token);
  } catch {
    // keep it as it came
  }
  if (token) sessionStorage.setItem(KEY, token);
  history.replaceState(null, '', `${window.location.pathname}${window.location.search}#/overview`);
}

export function getToken(): string | null {
  return sessionStorage.getItem(KEY);
}

export function setToken(token: string): void {
  sessionStorage.setItem(KEY, token);
}

export function clearToken(): void {
  sessionStorage.removeItem(KEY);
}
