import { useId, useState } from 'react';
import { useNavigate } from 'react-router';
import { api } from '../api/endpoints';
import { ConfirmDialog } from '../components/Dialog';
import { useT } from '../i18n';
import { formatDateTime } from '../i18n/format';
import type { SessionInfo } from '../proto';
import { useSession } from '../store/session';
import { notify } from '../store/toasts';
import { useLoad } from './useLoad';
import { describeClient } from './userAgent';

/** Where the user is signed in; revoking this browser's session logs out. */
export function Sessions() {
  const { t, language } = useT();
  const navigate = useNavigate();
  const headingId = useId();
  const { value: sessions, failed, setValue: setSessions } = useLoad(api.sessions);
  const [revoking, setRevoking] = useState<SessionInfo | null>(null);

  const name = (session: SessionInfo) => {
    const { browser, system } = describeClient(session.user_agent);
    if (browser && system) return t('prefs.sessions.clientOn', { browser, system });
    return browser ?? system ?? t('prefs.sessions.unknownClient');
  };

  const revoke = async (session: SessionInfo) => {
    setRevoking(null);
    if (session.current) {
      // Logging out revokes this session on the server and forgets it here.
      await useSession.getState().logout();
      navigate('/login', { replace: true });
      return;
    }
    try {
      await api.revokeSession(session.id);
      setSessions((current) => current?.filter((known) => known.id !== session.id) ?? null);
      notify.success(t('prefs.sessions.revoked', { name: name(session) }));
    } catch (error) {
      notify.failure(error);
    }
  };

  return (
    <section className="panel" aria-labelledby={headingId}>
      <h2 id={headingId}>{t('prefs.sessions.title')}</h2>
      {sessions === null ? (
        <p className="muted">{failed ? t('prefs.unavailable') : t('app.loading')}</p>
      ) : (
        <ul className="prefs-list">
          {sessions.map((session) => (
            <li key={session.id} className="prefs-item" data-current={session.current || undefined}>
              <div className="prefs-item-text">
                <span className="prefs-item-name">
                  {name(session)}
                  {session.current && <span className="tag">{t('prefs.sessions.thisBrowser')}</span>}
                </span>
                <span className="muted">
                  {t('prefs.sessions.since', { date: formatDateTime(session.created_at, language) })}
                  {session.last_seen_at !== null &&
                    ` · ${t('prefs.sessions.lastSeen', { date: formatDateTime(session.last_seen_at, language) })}`}
                </span>
              </div>
              <button
                type="button"
                className="danger"
                aria-label={session.current ? undefined : t('prefs.sessions.revoke', { name: name(session) })}
                onClick={() => setRevoking(session)}
              >
                {session.current ? t('user.logout') : t('prefs.sessions.revokeButton')}
              </button>
            </li>
          ))}
        </ul>
      )}
      {revoking && (
        <ConfirmDialog
          title={revoking.current ? t('user.logout') : t('prefs.sessions.revokeTitle')}
          message={
            revoking.current
              ? t('prefs.sessions.logoutConfirm')
              : t('prefs.sessions.revokeConfirm', { name: name(revoking) })
          }
          confirmLabel={revoking.current ? t('user.logout') : t('prefs.sessions.revokeTitle')}
          onConfirm={() => void revoke(revoking)}
          onCancel={() => setRevoking(null)}
        />
      )}
    </section>
  );
}
