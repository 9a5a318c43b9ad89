import { useEffect, useState } from 'react';
import { Link, useNavigate } from 'react-router';
import { api } from '../api/endpoints';
import { useT } from '../i18n';
import type { Room } from '../proto';
import { sortRooms, useRooms } from '../store/rooms';
import { notify } from '../store/toasts';

export function BrowsePage() {
  const { t, tn } = useT();
  const navigate = useNavigate();
  const [rooms, setRooms] = useState<Room[] | null>(null);

  useEffect(() => {
    api.publicRooms().then((list) => setRooms(sortRooms(list)), notify.failure);
  }, []);

  const join = async (room: Room) => {
    try {
      const joined = await api.joinRoom(room.id);
      useRooms.getState().upsert(joined);
      notify.success(t('browse.joined', { name: joined.name }));
      navigate(`/rooms/${joined.id}`);
    } catch (error) {
      notify.failure(error);
    }
  };

  return (
    <section className="browse" aria-labelledby="browse-title">
      <h1 id="browse-title">{t('browse.title')}</h1>
      {rooms === null && <p>{t('app.loading')}</p>}
      {rooms?.length === 0 && <p className="muted">{t('browse.empty')}</p>}
      <ul className="browse-list">
        {rooms?.map((room) => (
          <li key={room.id} className="browse-item">
            <div>
              <strong>{room.name}</strong>
              <span className="muted"> · {tn('browse.members', room.member_count)}</span>
            </div>
            {room.role ? (
              <Link to={`/rooms/${room.id}`} className="button">
                {t('browse.open', { name: room.name })}
              </Link>
            ) : (
              <button type="button" className="primary" onClick={() => join(room)}>
                {t('browse.join', { name: room.name })}
              </button>
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}
