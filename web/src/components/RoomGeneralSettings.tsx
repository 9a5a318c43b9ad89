import { useId, useState, type FormEvent } from 'react';
import { api } from '../api/endpoints';
import { useT } from '../i18n';
import type { Room, Visibility } from '../proto';
import { useRooms } from '../store/rooms';
import { notify } from '../store/toasts';
import { VisibilitySelect } from './VisibilitySelect';

/** Rename the room and change its visibility (owners). */
export function RoomGeneralSettings({ room }: { room: Room }) {
  const { t } = useT();
  const nameId = useId();
  const [name, setName] = useState(room.name);
  const [visibility, setVisibility] = useState<Visibility>(room.visibility);
  const changed = name.trim() !== room.name || visibility !== room.visibility;

  const save = async (event: FormEvent) => {
    event.preventDefault();
    try {
      const updated = await api.updateRoom(room.id, {
        name: name.trim() !== room.name ? name.trim() : undefined,
        visibility: visibility !== room.visibility ? visibility : undefined,
      });
      useRooms.getState().patch(room.id, { name: updated.name, visibility: updated.visibility });
      notify.success(t('settings.saved'));
    } catch (error) {
      notify.failure(error);
    }
  };

  return (
    <section className="panel" aria-labelledby={`${nameId}-heading`}>
      <h2 id={`${nameId}-heading`}>{t('settings.general')}</h2>
      <form className="form" onSubmit={save}>
        <div className="field">
          <label htmlFor={nameId}>{t('createRoom.name')}</label>
          <input id={nameId} value={name} onChange={(event) => setName(event.target.value)} maxLength={80} required />
        </div>
        <VisibilitySelect value={visibility} onChange={setVisibility} />
        <button type="submit" className="primary" disabled={!changed || !name.trim()}>
          {t('common.save')}
        </button>
      </form>
    </section>
  );
}
