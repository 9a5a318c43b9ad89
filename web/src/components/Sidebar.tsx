import { useState } from 'react';
import { NavLink } from 'react-router';
import { useT } from '../i18n';
import { CreateRoomDialog } from './CreateRoomDialog';
import { RoomList } from './RoomList';
import { UserPanel } from './UserPanel';

export function Sidebar({ id }: { id: string }) {
  const { t } = useT();
  const [creating, setCreating] = useState(false);
  return (
    <div id={id} className="sidebar">
      <div className="sidebar-actions">
        <button type="button" className="primary" onClick={() => setCreating(true)}>
          {t('nav.createRoom')}
        </button>
        <NavLink to="/browse" className="button">
          {t('nav.browse')}
        </NavLink>
      </div>
      <nav className="sidebar-rooms" aria-labelledby={`${id}-rooms`}>
        <h2 id={`${id}-rooms`} className="sidebar-heading">
          {t('nav.rooms')}
        </h2>
        <RoomList />
      </nav>
      <UserPanel />
      {creating && <CreateRoomDialog onClose={() => setCreating(false)} />}
    </div>
  );
}
