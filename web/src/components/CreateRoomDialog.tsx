import { useId, useState, type FormEvent } from 'react';
import { useNavigate } from 'react-router';
import { api } from '../api/endpoints';
import { useT } from '../i18n';
import type { Visibility } from '../proto';
import { useRooms } from '../store/rooms';
import { notify } from '../store/toasts';
import { Dialog } from './Dialog';
import { VisibilitySelect } from './VisibilitySelect';

export function CreateRoomDialog({ onClose }: { onClose(): void }) {
  const { t } = useT();
  const navigate = useNavigate();
  const nameId = useId();
  const [name, setName] = useState('');
  const [visibility, setVisibility] = useState<Visibility>('public');
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    try {
      const room = await api.createRoom({ name: name.trim(), visibility });
      useRooms.getState().upsert(room);
      notify.success(t('createRoom.created', { name: room.name }));
      onClose();
      navigate(`/rooms/${room.id}`);
    } catch (error) {
      notify.failure(error);
      setBusy(false);
    }
  };

  return (
    <Dialog title={t('createRoom.title')} onClose={onClose}>
      <form className="form" onSubmit={submit}>
        <div className="field">
          <label htmlFor={nameId}>{t('createRoom.name')}</label>
          <input
            id={nameId}
            value={name}
            onChange={(event) => setName(event.target.value)}
            required
            maxLength={80}
            autoFocus
          />
        </div>
        <VisibilitySelect value={visibility} onChange={setVisibility} />
        <div className="dialog-actions">
          <button type="button" onClick={onClose}>
            {t('common.cancel')}
          </button>
          <button type="submit" className="primary" disabled={busy || !name.trim()}>
            {t('createRoom.submit')}
          </button>
        </div>
      </form>
    </Dialog>
  );
}
