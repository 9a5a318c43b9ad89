import { useState, type FormEvent } from 'react';
import { Link, useNavigate, useSearchParams } from 'react-router';
import { AuthLayout } from '../components/AuthLayout';
import { Field } from '../components/Field';
import { useT } from '../i18n';
import { useSession } from '../store/session';
import { notify } from '../store/toasts';
import { safeNextPath } from './redirect';

export function LoginPage() {
  const { t } = useT();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const next = safeNextPath(params.get('next'));
  const [login, setLogin] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    try {
      await useSession.getState().login(login.trim(), password);
      navigate(next, { replace: true });
    } catch (error) {
      notify.failure(error);
      setBusy(false);
    }
  };

  const registerLink = next === '/' ? '/register' : `/register?next=${encodeURIComponent(next)}`;
  return (
    <AuthLayout title={t('login.title')}>
      <form className="form" onSubmit={submit}>
        <Field
          label={t('login.identifier')}
          value={login}
          onChange={(event) => setLogin(event.target.value)}
          autoComplete="username"
          required
          autoFocus
        />
        <Field
          label={t('login.password')}
          type="password"
          value={password}
          onChange={(event) => setPassword(event.target.value)}
          autoComplete="current-password"
          required
        />
        <button type="submit" className="primary" disabled={busy}>
          {t('login.submit')}
        </button>
      </form>
      <p>
        {t('login.noAccount')} <Link to={registerLink}>{t('login.toRegister')}</Link>
      </p>
    </AuthLayout>
  );
}
