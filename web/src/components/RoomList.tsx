import { NavLink } from 'react-router';
import { useShallow } from 'zustand/react/shallow';
import { useT } from '../i18n';
import { ongoingCall, useCall } from '../store/call';
import { sortRooms, useRooms } from '../store/rooms';
import { Icon, RoomIcon } from './Icon';

export function RoomList() {
  const { t, tn } = useT();
  const rooms = useRooms(useShallow((state) => sortRooms(state.rooms)));
  const loaded = useRooms((state) => state.loaded);
  const calls = useCall((state) => state.states);

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
            {ongoingCall(calls, room.id) && (
              <span className="room-call">
                <Icon name="phone" />
                <span className="visually-hidden">{t('call.inProgress')}</span>
              </span>
            )}
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
