import { useId, useState, type FormEvent, type KeyboardEvent } from 'react';
import { useT } from '../i18n';
import type { Message } from '../proto';
import { useChat } from '../store/chat';
import { notify } from '../store/toasts';

export function EditMessageForm({ message, onDone }: { message: Message; onDone(): void }) {
  const { t } = useT();
  const id = useId();
  const [body, setBody] = useState(message.body);

  const save = async (event?: FormEvent) => {
    event?.preventDefault();
    const text = body.trimEnd();
    if (!text.trim() || text === message.body) return onDone();
    try {
      await useChat.getState().edit(message.room_id, message.id, text);
      onDone();
    } catch (error) {
      notify.failure(error);
    }
  };

  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    if (event.key === 'Escape') {
      event.preventDefault();
      onDone();
    } else if (event.key === 'Enter' && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault();
      void save();
    }
  };

  return (
    <form className="edit-form" onSubmit={save}>
      <label htmlFor={id} className="visually-hidden">
        {t('chat.editLabel')}
      </label>
      <textarea
        id={id}
        value={body}
        onChange={(event) => setBody(event.target.value)}
        onKeyDown={onKeyDown}
        maxLength={4000}
        autoFocus
      />
      <div className="edit-actions">
        <button type="button" onClick={onDone}>
          {t('common.cancel')}
        </button>
        <button type="submit" className="primary">
          {t('common.save')}
        </button>
      </div>
    </form>
  );
}
