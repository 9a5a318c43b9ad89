import { useEffect, useState, type FormEvent } from 'react';
import { Link, useNavigate, useSearchParams } from 'react-router';
import { api } from '../api/endpoints';
import { AuthLayout } from '../components/AuthLayout';
import { Field } from '../components/Field';
import { useT } from '../i18n';
import type { ServerInfo } from '../proto';
import { useSession } from '../store/session';
import { notify } from '../store/toasts';
import { inviteCodeFromNext, safeNextPath } from './redirect';

export function RegisterPage() {
  const { t } = useT();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const next = safeNextPath(params.get('next'));
  const [server, setServer] = useState<ServerInfo | null>(null);
  const [username, setUsername] = useState('');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [inviteCode, setInviteCode] = useState(inviteCodeFromNext(next) ?? '');
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    api.serverInfo().then(setServer, notify.failure);
  }, []);

  const needsInvite = server?.registration === 'invite' && !server.first_account;
  const closed = server?.registration === 'closed' && !server.first_account;

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    try {
      await useSession.getState().register({
        username: username.trim(),
        email: email.trim(),
        password,
        invite_code: needsInvite ? inviteCode.trim() : undefined,
      });
      navigate(next, { replace: true });
    } catch (error) {
      notify.failure(error);
      setBusy(false);
    }
  };

  const loginLink = next === '/' ? '/login' : `/login?next=${encodeURIComponent(next)}`;
  return (
    <AuthLayout title={t('register.title')}>
      {server?.first_account && <p className="notice">{t('register.firstAccount')}</p>}
      {needsInvite && <p className="notice">{t('register.inviteRequired')}</p>}
      {closed ? (
        <p className="notice">{t('register.closed')}</p>
      ) : (
        <form className="form" onSubmit={submit}>
          <Field
            label={t('register.username')}
            hint={t('register.usernameHint')}
            value={username}
            onChange={(event) => setUsername(event.target.value)}
            autoComplete="username"
            minLength={3}
            maxLength={32}
            pattern="[A-Za-z0-9_.\-]+"
            required
            autoFocus
          />
          <Field
            label={t('register.email')}
            type="email"
            value={email}
            onChange={(event) => setEmail(event.target.value)}
            autoComplete="email"
            required
          />
          <Field
            label={t('register.password')}
            hint={t('register.passwordHint')}
            type="password"
            value={password}
            onChange={(event) => setPassword(event.target.value)}
            autoComplete="new-password"
            minLength={8}
            required
          />
          {needsInvite && (
            <Field
              label={t('register.inviteCode')}
              value={inviteCode}
              onChange={(event) => setInviteCode(event.target.value)}
              required
            />
          )}
          <button type="submit" className="primary" disabled={busy || !server}>
            {t('register.submit')}
          </button>
        </form>
      )}
      <p>
        {t('register.haveAccount')} <Link to={loginLink}>{t('register.toLogin')}</Link>
      </p>
    </AuthLayout>
  );
}
