import { useEffect, useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import { api } from '../api/endpoints';
import { ApiError } from '../api/http';
import { AuthLayout } from '../components/AuthLayout';
import { useT } from '../i18n';
import { formatDateTime } from '../i18n/format';
import type { InvitePreview } from '../proto';
import { useRooms } from '../store/rooms';
import { useSession } from '../store/session';
import { notify } from '../store/toasts';
import { loginPath } from './redirect';

type PreviewState = { kind: 'loading' } | { kind: 'invalid' } | { kind: 'ready'; preview: InvitePreview };

export function InvitePage() {
  const { t, language } = useT();
  const navigate = useNavigate();
  const code = useParams().code ?? '';
  const status = useSession((state) => state.status);
  const [state, setState] = useState<PreviewState>({ kind: 'loading' });
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    api.invitePreview(code).then(
      (preview) => setState({ kind: 'ready', preview }),
      () => setState({ kind: 'invalid' }),
    );
  }, [code]);

  const accept = async (preview: InvitePreview) => {
    if (status !== 'authenticated') {
      navigate(loginPath(`/invite/${code}`));
      return;
    }
    setBusy(true);
    try {
      const room = await api.acceptInvite(code);
      useRooms.getState().upsert(room);
      notify.success(t('invitePage.joined', { name: room.name }));
      navigate(`/rooms/${room.id}`);
    } catch (error) {
      if (error instanceof ApiError && error.code === 'conflict') {
        navigate(`/rooms/${preview.room_id}`); // already a member
        return;
      }
      notify.failure(error);
      setBusy(false);
    }
  };

  return (
    <AuthLayout title={t('invitePage.title')}>
      {state.kind === 'loading' && <p>{t('app.loading')}</p>}
      {state.kind === 'invalid' && <p className="notice">{t('invitePage.invalid')}</p>}
      {state.kind === 'ready' && (
        <>
          <p>
            {t('invitePage.body', {
              name: state.preview.room_name,
              role: t(`role.${state.preview.role}`).toLowerCase(),
            })}
          </p>
          {state.preview.expires_at !== undefined && (
            <p className="muted">
              {t('invitePage.expires', { date: formatDateTime(state.preview.expires_at, language) })}
            </p>
          )}
          {status !== 'authenticated' && <p className="muted">{t('invitePage.loginFirst')}</p>}
          <button type="button" className="primary" disabled={busy} onClick={() => accept(state.preview)}>
            {t('invitePage.accept')}
          </button>
        </>
      )}
      {status === 'authenticated' && (
        <p>
          <Link to="/">{t('invitePage.home')}</Link>
        </p>
      )}
    </AuthLayout>
  );
}
