import { describe, expect, it } from 'vitest';
import { inviteCodeFromNext, loginPath, safeNextPath } from './redirect';

describe('safeNextPath', () => {
  it('keeps paths on this site', () => {
    expect(safeNextPath('/invite/abc')).toBe('/invite/abc');
    expect(safeNextPath('/rooms/3?x=1')).toBe('/rooms/3?x=1');
  });

  it('refuses anything that could leave the site', () => {
    for (const next of [null, '', 'https://evil.example', '//evil.example', '/\\evil.example', 'javascript:x']) {
      expect(safeNextPath(next)).toBe('/');
    }
  });
});

describe('invite links', () => {
  it('finds the invite code to prefill registration', () => {
    expect(inviteCodeFromNext('/invite/AbC-12')).toBe('AbC-12');
    expect(inviteCodeFromNext('/rooms/1')).toBeUndefined();
  });

  it('brings people back to the invitation after logging in', () => {
    expect(loginPath('/invite/AbC')).toBe('/login?next=%2Finvite%2FAbC');
    expect(loginPath('/')).toBe('/login');
  });
});
