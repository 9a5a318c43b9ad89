import { useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import { api } from '../api/endpoints';
import { ConfirmDialog } from '../components/Dialog';
import { RoomGeneralSettings } from '../components/RoomGeneralSettings';
import { RoomMemberSettings } from '../components/RoomMemberSettings';
import { useT } from '../i18n';
import type { Room } from '../proto';
import { findRoom, useRooms } from '../store/rooms';
import { dropRoom } from '../store/sync';
import { notify } from '../store/toasts';

export function RoomSettingsPage() {
  const { t } = useT();
  const roomId = Number(useParams().roomId);
  const room = useRooms((state) => findRoom(state.rooms, roomId));
  const loaded = useRooms((state) => state.loaded);

  if (!room) return <p className="centered muted">{loaded ? t('room.notFound') : t('app.loading')}</p>;
  return (
    <section className="settings" aria-labelledby="settings-title">
      <header className="settings-header">
        <h1 id="settings-title">{t('settings.title', { name: room.name })}</h1>
        <Link to={`/rooms/${room.id}`}>{t('settings.back')}</Link>
      </header>
      {room.role === 'owner' ? (
        <>
          <RoomGeneralSettings room={room} />
          <RoomMemberSettings roomId={room.id} />
          <DeleteRoom room={room} />
        </>
      ) : (
        <p className="notice">{t('settings.ownersOnly')}</p>
      )}
    </section>
  );
}

function DeleteRoom({ room }: { room: Room }) {
  const { t } = useT();
  const navigate = useNavigate();
  const [confirming, setConfirming] = useState(false);

  const remove = async () => {
    setConfirming(false);
    try {
      await api.deleteRoom(room.id);
      dropRoom(room.id);
      notify.success(t('settings.deleted', { name: room.name }));
      navigate('/');
    } catch (error) {
      notify.failure(error);
    }
  };

  return (
    <section className="panel panel-danger" aria-labelledby="danger-heading">
      <h2 id="danger-heading">{t('settings.danger')}</h2>
      <button type="button" className="danger" onClick={() => setConfirming(true)}>
        {t('settings.delete')}
      </button>
      {confirming && (
        <ConfirmDialog
          title={t('settings.delete')}
          message={t('settings.deleteConfirm', { name: room.name })}
          confirmLabel={t('settings.delete')}
          onConfirm={remove}
          onCancel={() => setConfirming(false)}
        />
      )}
    </section>
  );
}
