import { useState } from 'react';
import { Link, useNavigate } from 'react-router';
import { api } from '../api/endpoints';
import { prepareCall } from '../call/controller';
import { useT } from '../i18n';
import type { Room } from '../proto';
import { useCall } from '../store/call';
import { dropRoom } from '../store/sync';
import { notify } from '../store/toasts';
import { ConfirmDialog } from './Dialog';
import { Icon, RoomIcon } from './Icon';
import { InviteDialog } from './InviteDialog';

interface RoomHeaderProps {
  room: Room;
  membersShown: boolean;
  onToggleMembers(): void;
}

export function RoomHeader({ room, membersShown, onToggleMembers }: RoomHeaderProps) {
  const { t } = useT();
  const navigate = useNavigate();
  const [inviting, setInviting] = useState(false);
  const [confirmingLeave, setConfirmingLeave] = useState(false);
  const inCall = useCall((state) => state.session?.roomId === room.id);

  const leave = async () => {
    setConfirmingLeave(false);
    try {
      await api.leaveRoom(room.id);
      dropRoom(room.id);
      notify.success(t('room.left', { name: room.name }));
      navigate('/');
    } catch (error) {
      notify.failure(error);
    }
  };

  return (
    <header className="room-header">
      <h1 id="room-title" className="room-title">
        <RoomIcon visibility={room.visibility} />
        {room.name}
      </h1>
      <span className="tag">{t(`visibility.${room.visibility}`)}</span>
      <div className="room-actions" role="group" aria-label={t('room.actions')}>
        {!inCall && (
          <button type="button" className="primary" onClick={() => void prepareCall(room.id)}>
            <Icon name="phone" />
            {t('call.join')}
          </button>
        )}
        {room.role !== 'guest' && (
          <button type="button" onClick={() => setInviting(true)}>
            {t('room.invite')}
          </button>
        )}
        {room.role === 'owner' && (
          <Link to={`/rooms/${room.id}/settings`} className="button">
            {t('room.settings')}
          </Link>
        )}
        <button type="button" aria-expanded={membersShown} aria-controls="room-members" onClick={onToggleMembers}>
          {membersShown ? t('room.hideMembers') : t('room.showMembers')}
        </button>
        <button type="button" onClick={() => setConfirmingLeave(true)}>
          {t('room.leave')}
        </button>
      </div>
      {inviting && <InviteDialog room={room} onClose={() => setInviting(false)} />}
      {confirmingLeave && (
        <ConfirmDialog
          title={t('room.leave')}
          message={t('room.leaveConfirm', { name: room.name })}
          confirmLabel={t('room.leave')}
          onConfirm={leave}
          onCancel={() => setConfirmingLeave(false)}
        />
      )}
    </header>
  );
}
