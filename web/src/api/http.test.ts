import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { AuthResponse } from '../proto';
import { clearSession, currentAccessToken, refreshDelayMs, request, setSession } from './http';

const auth = (token: string): AuthResponse => ({
  access_token: token,
  expires_in: 600,
  refresh_token: 'r',
  user: { id: 1, username: 'alice', email: 'a@example.com', is_admin: false, created_at: 0 },
});

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });

describe('refreshDelayMs', () => {
  it('refreshes a minute early, or halfway for short lifetimes', () => {
    expect(refreshDelayMs(900)).toBe(840_000);
    expect(refreshDelayMs(60)).toBe(30_000);
    expect(refreshDelayMs(10)).toBe(5_000);
  });
});

describe('request', () => {
  const fetch = vi.fn<typeof globalThis.fetch>();

  beforeEach(() => {
    vi.useFakeTimers();
    vi.stubGlobal('fetch', fetch);
    fetch.mockReset();
    setSession(auth('old-token'));
  });

  afterEach(() => {
    clearSession();
    vi.unstubAllGlobals();
    vi.useRealTimers();
  });

  it('sends the access token as a Bearer header, with same-origin credentials', async () => {
    fetch.mockResolvedValueOnce(json(200, { id: 1 }));
    await request('GET', '/me');
    const [url, init] = fetch.mock.calls[0];
    expect(url).toBe('/api/v1/me');
    expect(new Headers(init?.headers).get('Authorization')).toBe('Bearer old-token');
    expect(init?.credentials).toBe('same-origin');
  });

  it('on a 401 refreshes once and retries with the new token', async () => {
    fetch
      .mockResolvedValueOnce(json(401, { code: 'unauthorized', message: 'expired' }))
      .mockResolvedValueOnce(json(200, auth('new-token')))
      .mockResolvedValueOnce(json(200, { id: 1 }));
    await expect(request('GET', '/me')).resolves.toEqual({ id: 1 });
    const [refreshUrl, refreshInit] = fetch.mock.calls[1];
    expect(refreshUrl).toBe('/api/v1/auth/refresh');
    expect(refreshInit?.body).toBe('{}');
    expect(new Headers(fetch.mock.calls[2][1]?.headers).get('Authorization')).toBe('Bearer new-token');
    expect(currentAccessToken()).toBe('new-token');
  });

  it('gives up when the refresh is refused', async () => {
    fetch
      .mockResolvedValueOnce(json(401, { code: 'unauthorized', message: 'revoked' }))
      .mockResolvedValueOnce(json(401, { code: 'refresh_invalid', message: 'no' }));
    await expect(request('GET', '/me')).rejects.toMatchObject({ code: 'unauthorized', status: 401 });
    expect(fetch).toHaveBeenCalledTimes(2);
    expect(currentAccessToken()).toBeNull();
  });

  it('runs a single refresh for concurrent 401s', async () => {
    fetch.mockImplementation(async (url, init) => {
      if (url === '/api/v1/auth/refresh') return json(200, auth('new-token'));
      const authorization = new Headers(init?.headers).get('Authorization');
      return authorization === 'Bearer new-token'
        ? json(200, { ok: true })
        : json(401, { code: 'unauthorized', message: 'expired' });
    });
    await Promise.all([request('GET', '/a'), request('GET', '/b'), request('GET', '/c')]);
    expect(fetch.mock.calls.filter(([url]) => url === '/api/v1/auth/refresh')).toHaveLength(1);
  });

  it('turns error bodies into ApiErrors and network failures into `network`', async () => {
    fetch.mockResolvedValueOnce(json(409, { code: 'conflict', message: 'Taken.' }));
    await expect(request('POST', '/rooms', {})).rejects.toMatchObject({ code: 'conflict', status: 409 });
    fetch.mockRejectedValueOnce(new TypeError('Failed to fetch'));
    await expect(request('GET', '/rooms')).rejects.toMatchObject({ code: 'network' });
  });
});
