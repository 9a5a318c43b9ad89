import { useNavigate } from 'react-router';
import { joinNow } from '../../call/controller';
import { useT } from '../../i18n';
import { useCall } from '../../store/call';
import { findRoom, useRooms } from '../../store/rooms';

/** Incoming calls: accept (joins at once) or dismiss. */
export function RingToasts() {
  const { t } = useT();
  const navigate = useNavigate();
  const rings = useCall((state) => state.rings);
  const rooms = useRooms((state) => state.rooms);
  if (rings.length === 0) return null;
  return (
    <section className="rings" aria-label={t('ring.region')}>
      {rings.map((ring) => {
        const text = t('ring.text', { name: ring.username, room: findRoom(rooms, ring.room_id)?.name ?? '' });
        return (
          <div key={ring.room_id} className="ring" role="group" aria-label={text}>
            <span>{text}</span>
            <div className="ring-actions">
              <button type="button" onClick={() => useCall.getState().dismissRing(ring.room_id)}>
                {t('ring.dismiss')}
              </button>
              <button
                type="button"
                className="primary"
                onClick={() => {
                  navigate(`/rooms/${ring.room_id}`);
                  void joinNow(ring.room_id);
                }}
              >
                {t('ring.accept')}
              </button>
            </div>
          </div>
        );
      })}
    </section>
  );
}
