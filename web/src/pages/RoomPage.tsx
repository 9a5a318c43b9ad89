import { useEffect, useState } from 'react';
import { useParams } from 'react-router';
import { CallBanner } from '../components/call/CallBanner';
import { CallPanel } from '../components/call/CallPanel';
import { Composer } from '../components/Composer';
import { MemberList } from '../components/MemberList';
import { MessageList } from '../components/MessageList';
import { RoomHeader } from '../components/RoomHeader';
import { TypingIndicator } from '../components/TypingIndicator';
import { usePageVisible } from '../hooks/usePageVisible';
import { useT } from '../i18n';
import type { Room } from '../proto';
import { useCall } from '../store/call';
import { useChat } from '../store/chat';
import { useMembers } from '../store/members';
import { findRoom, useRooms } from '../store/rooms';
import { useSession } from '../store/session';
import { notify } from '../store/toasts';
import { newestFromOthers } from '../store/unread';

const WIDE_SCREEN = '(min-width: 1100px)';

export function RoomPage() {
  const { t } = useT();
  const roomId = Number(useParams().roomId);
  const room = useRooms((state) => findRoom(state.rooms, roomId));
  const loaded = useRooms((state) => state.loaded);

  useEffect(() => {
    useRooms.getState().setActive(roomId);
    return () => useRooms.getState().setActive(null);
  }, [roomId]);

  if (!room) {
    return <p className="centered muted">{loaded ? t('room.notFound') : t('app.loading')}</p>;
  }
  return <RoomView key={room.id} room={room} />;
}

/** The room on screen: header, then the call (when this tab is in it, or a
 * banner when others are), then the chat beside the member list. */
function RoomView({ room }: { room: Room }) {
  const [membersShown, setMembersShown] = useState(() => window.matchMedia(WIDE_SCREEN).matches);
  const inCall = useCall((state) => state.session?.roomId === room.id);
  useRoomData(room.id);
  useReadMarker(room);

  return (
    <section className={inCall ? 'room room-in-call' : 'room'} aria-labelledby="room-title">
      <RoomHeader room={room} membersShown={membersShown} onToggleMembers={() => setMembersShown(!membersShown)} />
      {inCall ? <CallPanel roomId={room.id} /> : <CallBanner roomId={room.id} />}
      <div className="chat">
        <MessageList room={room} />
        <TypingIndicator roomId={room.id} />
        <Composer room={room} />
      </div>
      {membersShown && (
        <div id="room-members" className="room-members">
          <MemberList roomId={room.id} />
        </div>
      )}
    </section>
  );
}

/** Loads the newest messages and the member list the first time a room opens. */
function useRoomData(roomId: number): void {
  useEffect(() => {
    if (!useChat.getState().timelines[roomId]) {
      useChat.getState().loadLatest(roomId).catch(notify.failure);
    }
    if (!useMembers.getState().byRoom[roomId]) {
      useMembers.getState().load(roomId).catch(notify.failure);
    }
  }, [roomId]);
}

/** Keeps the read marker on the newest message while the room is on screen. */
function useReadMarker(room: Room): void {
  const myUserId = useSession((state) => state.user?.id);
  const newestId = useChat((state) => newestFromOthers(state.timelines[room.id]?.messages ?? [], myUserId));
  const visible = usePageVisible();
  useEffect(() => {
    useRooms.getState().markRead(room.id, newestId, !visible);
  }, [room.id, room.unread, newestId, visible]);
}
