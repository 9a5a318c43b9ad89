import { Link } from 'react-router';
import { useT } from '../../i18n';
import { useCall } from '../../store/call';
import { findRoom, useRooms } from '../../store/rooms';
import { Icon } from '../Icon';

/** In the top bar while in a call: where it is, one click away. */
export function CallIndicator() {
  const { t } = useT();
  const roomId = useCall((state) => (state.session?.phase === 'prejoin' ? undefined : state.session?.roomId));
  const room = useRooms((state) => (roomId === undefined ? undefined : findRoom(state.rooms, roomId)));
  if (!room) return null;
  return (
    <Link to={`/rooms/${room.id}`} className="call-indicator">
      <Icon name="mic" />
      {t('call.elsewhere', { name: room.name })}
    </Link>
  );
}
