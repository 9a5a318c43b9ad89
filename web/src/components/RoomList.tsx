import { NavLink } from 'react-router';
import { useShallow } from 'zustand/react/shallow';
import { useT } from '../i18n';
import { sortRooms, useRooms } from '../store/rooms';
import { RoomIcon } from './Icon';

export function RoomList() {
  const { t, tn } = useT();
  const rooms = useRooms(useShallow((state) => sortRooms(state.rooms)));
  const loaded = useRooms((state) => state.loaded);

  if (loaded && rooms.length === 0) return <p className="muted">{t('nav.noRooms')}</p>;
  return (
    <ul className="room-list">
      {rooms.map((room) => (
        <li key={room.id}>
          <NavLink to={`/rooms/${room.id}`} className="room-link">
            <span className="room-link-name">
              <RoomIcon visibility={room.visibility} />
              {room.name}
            </span>
            {room.unread > 0 && (
              <span className="badge">
                <span aria-hidden="true">{room.unread > 99 ? '99+' : room.unread}</span>
                <span className="visually-hidden">{tn('unread', room.unread)}</span>
              </span>
            )}
          </NavLink>
        </li>
      ))}
    </ul>
  );
}
