import { memo, useState } from 'react';
import { useT } from '../i18n';
import { formatDateTime, formatMessageTime } from '../i18n/format';
import type { Message } from '../proto';
import { useChat } from '../store/chat';
import type { OutboxEntry } from '../store/outbox';
import { notify } from '../store/toasts';
import { ConfirmDialog } from './Dialog';
import { EditMessageForm } from './EditMessageForm';
import { Icon } from './Icon';
import { Markdown } from './Markdown';

interface MessageItemProps {
  message: Message;
  own: boolean;
  canDelete: boolean;
}

/** A committed message, with edit (own) and delete (own, or any for owners). */
export const MessageItem = memo(function MessageItem({ message, own, canDelete }: MessageItemProps) {
  const { t, language } = useT();
  const [editing, setEditing] = useState(false);
  const [confirmingDelete, setConfirmingDelete] = useState(false);

  const remove = () => {
    setConfirmingDelete(false);
    useChat.getState().remove(message.room_id, message.id).catch(notify.failure);
  };

  return (
    <li className={own ? 'message message-own' : 'message'} data-message-id={message.id}>
      <div className="message-meta">
        <span className="message-author">{message.author}</span>
        <time dateTime={new Date(message.created_at).toISOString()} title={formatDateTime(message.created_at, language)}>
          {formatMessageTime(message.created_at, language)}
        </time>
        {message.edited_at !== undefined && <span className="muted">{t('chat.edited')}</span>}
      </div>
      {editing ? (
        <EditMessageForm message={message} onDone={() => setEditing(false)} />
      ) : (
        <div className="message-body">
          <Markdown source={message.body} />
        </div>
      )}
      {!editing && (own || canDelete) && (
        <div className="message-actions">
          {own && (
            <button type="button" className="icon-button" aria-label={t('chat.edit')} onClick={() => setEditing(true)}>
              <Icon name="edit" />
            </button>
          )}
          {canDelete && (
            <button
              type="button"
              className="icon-button"
              aria-label={t('chat.delete')}
              onClick={() => setConfirmingDelete(true)}
            >
              <Icon name="trash" />
            </button>
          )}
        </div>
      )}
      {confirmingDelete && (
        <ConfirmDialog
          title={t('chat.delete')}
          message={t('chat.deleteConfirm')}
          confirmLabel={t('common.delete')}
          onConfirm={remove}
          onCancel={() => setConfirmingDelete(false)}
        />
      )}
    </li>
  );
});

/** A message the server has not confirmed: pending, or failed with Retry. */
export function OutboxItem({ entry, author }: { entry: OutboxEntry; author: string }) {
  const { t } = useT();
  const failed = entry.status === 'failed';
  return (
    <li className={`message message-own message-${entry.status}`} data-client-id={entry.clientId}>
      <div className="message-meta">
        <span className="message-author">{author}</span>
        <span className={failed ? 'message-status error-text' : 'message-status'}>
          {failed ? t('chat.failed') : t('chat.pending')}
        </span>
      </div>
      <div className="message-body">
        <Markdown source={entry.body} />
      </div>
      {failed && (
        <div className="message-actions message-actions-visible">
          <button type="button" onClick={() => useChat.getState().retry(entry.clientId)}>
            {t('chat.retry')}
          </button>
          <button type="button" onClick={() => useChat.getState().discard(entry.clientId)}>
            {t('chat.discard')}
          </button>
        </div>
      )}
    </li>
  );
}
