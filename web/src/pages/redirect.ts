/** The page to return to after logging in: only paths on this site, so a
 * crafted `?next=https://evil.example` cannot send people elsewhere. */
export function safeNextPath(next: string | null): string {
  if (!next || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\')) return '/';
  return next;
}

/** The invite code carried by a `next` path such as `/invite/AbC123`. */
export function inviteCodeFromNext(next: string): string | undefined {
  return /^\/invite\/([^/?#]+)/.exec(next)?.[1];
}

export function loginPath(next: string): string {
  return next === '/' ? '/login' : `/login?next=${encodeURIComponent(next)}`;
}
