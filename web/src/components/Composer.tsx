import { useId, useMemo, useState, type FormEvent, type KeyboardEvent } from 'react';
import { realtime } from '../api/socket';
import { useT } from '../i18n';
import type { Room } from '../proto';
import { useChat } from '../store/chat';
import { typingThrottle } from '../store/typing';

const MAX_MESSAGE_CHARS = 4000;

export function Composer({ room }: { room: Room }) {
  const { t } = useT();
  const id = useId();
  const [draft, setDraft] = useState('');
  const typing = useMemo(
    () =>
      typingThrottle((roomId) => {
        realtime.request({ type: 'typing', payload: { room_id: roomId } }).catch(() => {});
      }),
    [],
  );

  const send = (event?: FormEvent) => {
    event?.preventDefault();
    const body = draft.trimEnd();
    if (!body.trim()) return;
    useChat.getState().send(room.id, body);
    typing.sent(room.id);
    setDraft('');
  };

  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault();
      send();
    }
  };

  return (
    <form className="composer" onSubmit={send}>
      <label htmlFor={id} className="visually-hidden">
        {t('chat.composerLabel')}
      </label>
      <textarea
        id={id}
        value={draft}
        onChange={(event) => {
          setDraft(event.target.value);
          if (event.target.value.trim()) typing.typed(room.id);
        }}
        onKeyDown={onKeyDown}
        placeholder={t('chat.composerPlaceholder', { name: room.name })}
        aria-describedby={`${id}-hint`}
        maxLength={MAX_MESSAGE_CHARS}
        rows={2}
      />
      <button type="submit" className="primary" disabled={!draft.trim()}>
        {t('chat.send')}
      </button>
      <p id={`${id}-hint`} className="hint composer-hint">
        {t('chat.composerHint')}
      </p>
    </form>
  );
}
