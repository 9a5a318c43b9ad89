// Who is logged in. The access token itself lives in api/http (memory only);
// the refresh token is an HttpOnly cookie the page never sees.

import { create } from 'zustand';
import { api } from '../api/endpoints';
import { clearSession, onSessionChange, refreshSession, setSession } from '../api/http';
import { realtime } from '../api/socket';
import { t } from '../i18n';
import type { AuthResponse, RegisterRequest, User } from '../proto';
import { resetStores } from './reset';
import { notify } from './toasts';

export type SessionStatus = 'loading' | 'anonymous' | 'authenticated';

interface SessionState {
  status: SessionStatus;
  user: User | null;
  /** Resumes the session of a previous visit from the refresh cookie. */
  restore(): Promise<void>;
  login(login: string, password: string): Promise<void>;
  register(request: RegisterRequest): Promise<void>;
  logout(): Promise<void>;
  /** The server ended the session (revoked, expired): back to the login page. */
  expire(): void;
  setUser(user: User): void;
}

export const useSession = create<SessionState>((set, get) => {
  const signIn = (auth: AuthResponse) => {
    setSession(auth);
    set({ status: 'authenticated', user: auth.user });
  };
  const signOut = () => {
    realtime.stop();
    clearSession();
    resetStores();
    set({ status: 'anonymous', user: null });
  };

  return {
    status: 'loading',
    user: null,

    async restore() {
      try {
        const auth = await refreshSession();
        if (auth) set({ status: 'authenticated', user: auth.user });
        else set({ status: 'anonymous' });
      } catch {
        set({ status: 'anonymous' });
      }
    },

    async login(login, password) {
      signIn(await api.login({ login, password }));
    },

    async register(request) {
      signIn(await api.register(request));
    },

    async logout() {
      realtime.stop();
      try {
        await api.logout();
      } catch {
        // The session may already be gone; forget it here all the same.
      }
      signOut();
    },

    expire() {
      if (get().status !== 'authenticated') return;
      signOut();
      notify.warning(t('session.expired'));
    },

    setUser(user) {
      set({ user });
    },
  };
});

onSessionChange((auth) => {
  if (auth) useSession.getState().setUser(auth.user);
  else useSession.getState().expire();
});
