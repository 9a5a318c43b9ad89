import { useId } from 'react';
import { NavLink, useNavigate } from 'react-router';
import { realtime } from '../api/socket';
import { useT } from '../i18n';
import { useConnection } from '../store/connection';
import { useMembers } from '../store/members';
import { useSession } from '../store/session';
import { notify } from '../store/toasts';
import { LanguageSelect } from './LanguageSelect';

type ChosenPresence = 'online' | 'busy';

export function UserPanel() {
  const { t } = useT();
  const navigate = useNavigate();
  const user = useSession((state) => state.user);
  const myPresence = useConnection((state) => state.myPresence);
  const statusId = useId();

  const setPresence = (status: ChosenPresence) => {
    useConnection.setState({ myPresence: status });
    if (user) useMembers.getState().setPresence(user.id, status);
    realtime.request({ type: 'presence.set', payload: { status } }).catch(notify.failure);
  };

  const logout = async () => {
    await useSession.getState().logout();
    navigate('/login', { replace: true });
  };

  return (
    <div className="user-panel">
      <p className="user-name">{t('user.signedInAs', { name: user?.username ?? '' })}</p>
      <div className="field field-inline">
        <label htmlFor={statusId}>{t('user.status')}</label>
        <select
          id={statusId}
          value={myPresence}
          onChange={(event) => setPresence(event.target.value as ChosenPresence)}
        >
          <option value="online">{t('presence.online')}</option>
          <option value="busy">{t('presence.busy')}</option>
        </select>
      </div>
      <LanguageSelect />
      <NavLink to="/settings" className="button">
        {t('user.settings')}
      </NavLink>
      <button type="button" onClick={logout}>
        {t('user.logout')}
      </button>
    </div>
  );
}
