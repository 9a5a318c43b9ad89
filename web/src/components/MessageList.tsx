import { useLayoutEffect, useRef } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { useT } from '../i18n';
import type { Room } from '../proto';
import { useChat } from '../store/chat';
import { useSession } from '../store/session';
import { notify } from '../store/toasts';
import { MessageItem, OutboxItem } from './MessageItem';

/** Distance from an edge, in pixels, that still counts as being at it. */
const EDGE_PX = 48;

/** The room's messages, oldest first. Sticks to the bottom while the reader is
 * there, keeps the view still when older messages are added above, and loads
 * older ones when scrolled to the top. */
export function MessageList({ room }: { room: Room }) {
  const { t } = useT();
  const user = useSession((state) => state.user);
  const timeline = useChat((state) => state.timelines[room.id]);
  const outbox = useChat(useShallow((state) => state.outbox.filter((entry) => entry.roomId === room.id)));
  const scroller = useRef<HTMLDivElement>(null);
  const atBottom = useRef(true);
  const previous = useRef({ firstId: undefined as number | undefined, height: 0, outbox: 0 });
  const messages = timeline?.messages ?? [];

  useLayoutEffect(() => {
    const element = scroller.current;
    if (!element) return;
    const firstId = messages[0]?.id;
    const before = previous.current;
    const olderAdded = before.firstId !== undefined && firstId !== undefined && firstId < before.firstId;
    if (outbox.length > before.outbox) atBottom.current = true; // the user just sent one
    if (atBottom.current) element.scrollTop = element.scrollHeight;
    else if (olderAdded) element.scrollTop += element.scrollHeight - before.height;
    previous.current = { firstId, height: element.scrollHeight, outbox: outbox.length };
  });

  const loadOlder = () => {
    useChat.getState().loadOlder(room.id).catch(notify.failure);
  };

  const onScroll = () => {
    const element = scroller.current!;
    atBottom.current = element.scrollHeight - element.scrollTop - element.clientHeight < EDGE_PX;
    if (element.scrollTop < EDGE_PX && timeline?.hasOlder && !timeline.loadingOlder) loadOlder();
  };

  return (
    <div ref={scroller} className="messages" onScroll={onScroll} role="log" aria-label={t('chat.messages')} tabIndex={0}>
      {!timeline && <p className="muted centered">{t('chat.loading')}</p>}
      {timeline?.hasOlder && (
        <button type="button" className="load-older" onClick={loadOlder} disabled={timeline.loadingOlder}>
          {t('chat.loadOlder')}
        </button>
      )}
      {timeline && !timeline.hasOlder && (
        <p className="muted centered">{t('chat.beginning', { name: room.name })}</p>
      )}
      <ol className="message-list">
        {messages.map((message) => {
          const own = message.author_id === user?.id;
          return (
            <MessageItem key={message.id} message={message} own={own} canDelete={own || room.role === 'owner'} />
          );
        })}
        {outbox.map((entry) => (
          <OutboxItem key={entry.clientId} entry={entry} author={user?.username ?? ''} />
        ))}
      </ol>
    </div>
  );
}
