// REST client for `/api/v1`: JSON in and out, the access token kept in memory
// only, refreshed shortly before it expires and once more on a 401.

import type { AuthResponse } from '../proto';

export const API_BASE = '/api/v1';

/** An error from the server (`{code, message}`) or from the network. */
export class ApiError extends Error {
  readonly code: string;
  readonly status: number;

  constructor(code: string, message: string, status = 0) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.status = status;
  }
}

type SessionListener = (auth: AuthResponse | null) => void;

let accessToken: string | null = null;
let expiresAt = 0;
let refreshTimer: ReturnType<typeof setTimeout> | undefined;
let refreshInFlight: Promise<AuthResponse | null> | null = null;
const listeners = new Set<SessionListener>();

/** When to refresh an access token that lives `expiresInSecs`: a minute before
 * it runs out, or halfway through its life when that is shorter. */
export function refreshDelayMs(expiresInSecs: number): number {
  return Math.max(expiresInSecs / 2, expiresInSecs - 60) * 1000;
}

/** Called with the new session after every refresh, and with `null` when the
 * session is lost (refresh refused). */
export function onSessionChange(listener: SessionListener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function setSession(auth: AuthResponse): void {
  accessToken = auth.access_token;
  expiresAt = Date.now() + auth.expires_in * 1000;
  scheduleRefresh(refreshDelayMs(auth.expires_in));
}

function scheduleRefresh(delayMs: number): void {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => {
    // A network failure is retried; a refused refresh is reported by postRefresh.
    refreshSession().catch(() => scheduleRefresh(15_000));
  }, delayMs);
}

export function clearSession(): void {
  accessToken = null;
  expiresAt = 0;
  clearTimeout(refreshTimer);
}

export function currentAccessToken(): string | null {
  return accessToken;
}

/** A usable access token, refreshing first when it is about to expire. */
export async function freshAccessToken(): Promise<string | null> {
  if (accessToken && Date.now() < expiresAt - 5000) return accessToken;
  const auth = await refreshSession();
  return auth?.access_token ?? null;
}

/** Trades the HttpOnly refresh cookie for a new access token. Only one refresh
 * runs at a time (per tab, and across tabs where Web Locks exist), because a
 * refresh token presented twice revokes the whole session. */
export function refreshSession(): Promise<AuthResponse | null> {
  refreshInFlight ??= withRefreshLock(postRefresh).finally(() => {
    refreshInFlight = null;
  });
  return refreshInFlight;
}

function withRefreshLock<T>(task: () => Promise<T>): Promise<T> {
  const locks = typeof navigator !== 'undefined' ? navigator.locks : undefined;
  if (!locks) return task();
  // request() settles with the outcome of the promise the callback returns.
  return locks.request('mesh-refresh', task) as unknown as Promise<T>;
}

async function postRefresh(): Promise<AuthResponse | null> {
  try {
    const auth = await send<AuthResponse>('POST', '/auth/refresh', {}, false);
    setSession(auth);
    listeners.forEach((listener) => listener(auth));
    return auth;
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      const hadSession = accessToken !== null;
      clearSession();
      if (hadSession) listeners.forEach((listener) => listener(null));
      return null;
    }
    throw error;
  }
}

interface RequestOptions {
  /** Send the Bearer token (default true). */
  auth?: boolean;
}

/** Calls the API; a 401 on an authenticated call is retried once after a refresh. */
export async function request<T>(
  method: string,
  path: string,
  body?: unknown,
  { auth = true }: RequestOptions = {},
): Promise<T> {
  try {
    return await send<T>(method, path, body, auth);
  } catch (error) {
    if (!auth || !(error instanceof ApiError) || error.status !== 401) throw error;
    const refreshed = await refreshSession();
    if (!refreshed) throw error;
    return send<T>(method, path, body, auth);
  }
}

async function send<T>(method: string, path: string, body: unknown, auth: boolean): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (auth && accessToken) headers.Authorization = `Bearer ${accessToken}`;
  let response: Response;
  try {
    response = await fetch(API_BASE + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
    });
  } catch {
    throw new ApiError('network', 'The server cannot be reached.');
  }
  if (response.ok) {
    return (response.status === 204 ? undefined : await response.json()) as T;
  }
  throw await errorFrom(response);
}

async function errorFrom(response: Response): Promise<ApiError> {
  try {
    const { code, message } = (await response.json()) as { code?: unknown; message?: unknown };
    if (typeof code === 'string' && typeof message === 'string') {
      return new ApiError(code, message, response.status);
    }
  } catch {
    // Not a JSON error body (a proxy's error page, say): fall through.
  }
  return new ApiError(`http_${response.status}`, response.statusText || 'Request failed.', response.status);
}
