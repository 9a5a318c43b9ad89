// Connects the WebSocket to the stores: pushed events update them, and after a
// reconnect the room list, open rooms and pending messages are brought up to date.

import { freshAccessToken, refreshSession } from '../api/http';
import type { PushedEvent } from '../api/realtime';
import { realtime } from '../api/socket';
import { endCallIn, handleCallEvent, leaveOnPageHide, signalingBack, signalingLost } from '../call/controller';
import { t } from '../i18n';
import { useCall } from './call';
import { useChat } from './chat';
import { useConnection } from './connection';
import { useMembers } from './members';
import { findRoom, reportFocus, useRooms } from './rooms';
import { useSession } from './session';
import { notify } from './toasts';
import { useTyping } from './typing';
import { countsAsUnread } from './unread';

/** Starts the live connection for the logged-in user; returns the stop function. */
export function startSync(): () => void {
  realtime.start({
    accessToken: freshAccessToken,
    refreshSession: async () => (await refreshSession()) !== null,
    onStatus: (status) => {
      useConnection.setState({ status });
      if (status === 'reconnecting') signalingLost();
    },
    onReady: (ready, reconnected) => {
      // Where each open timeline stood when the connection came back, before
      // resent messages and new pushes land in it: they are newer than what
      // was missed, and a catch-up from them would skip it.
      const caughtUpTo = useChat.getState().newestIds();
      useSession.getState().setUser(ready.user);
      if (useConnection.getState().myPresence === 'busy') {
        realtime.request({ type: 'presence.set', payload: { status: 'busy' } }).catch(() => {});
      }
      useChat.getState().resendPending();
      reportFocus();
      if (reconnected) {
        void signalingBack();
        void resync(caughtUpTo).catch(notify.failure);
      }
    },
    onEvent: applyEvent,
    onSessionLost: () => useSession.getState().expire(),
  });
  // A closing tab leaves its call at once rather than after the resume grace.
  window.addEventListener('pagehide', leaveOnPageHide);
  document.addEventListener('visibilitychange', reportFocus);
  return () => {
    window.removeEventListener('pagehide', leaveOnPageHide);
    document.removeEventListener('visibilitychange', reportFocus);
    realtime.stop();
  };
}

/** After a reconnect: unread counts, missed messages (after `caughtUpTo`,
 * per open timeline) and presence. */
async function resync(caughtUpTo: Map<number, number | undefined>): Promise<void> {
  await useRooms.getState().load();
  const { rooms, activeRoomId } = useRooms.getState();
  const isMember = (roomId: number) => findRoom(rooms, roomId) !== undefined;
  const openRooms = [...caughtUpTo.keys()];
  // The room on screen may have failed its first load while offline.
  if (activeRoomId !== null && !openRooms.includes(activeRoomId)) openRooms.push(activeRoomId);
  const listedRooms = Object.keys(useMembers.getState().byRoom).map(Number);
  for (const roomId of new Set([...openRooms, ...listedRooms])) {
    if (!isMember(roomId)) forgetRoom(roomId);
  }
  await Promise.all([
    ...openRooms.filter(isMember).map((roomId) => useChat.getState().catchUp(roomId, caughtUpTo.get(roomId))),
    ...listedRooms.filter(isMember).map((roomId) => useMembers.getState().load(roomId)),
  ]);
}

function applyEvent(event: PushedEvent): void {
  const myUserId = useSession.getState().user?.id;
  switch (event.type) {
    case 'message.new': {
      const message = event.payload;
      useChat.getState().receive(message);
      useTyping.getState().clear(message.room_id, message.author_id);
      const viewer = {
        myUserId: myUserId ?? -1,
        activeRoomId: useRooms.getState().activeRoomId,
        pageHidden: document.hidden,
      };
      if (countsAsUnread(message, viewer)) useRooms.getState().incrementUnread(message.room_id);
      useRooms.getState().patch(message.room_id, { last_message_at: message.created_at });
      return;
    }
    case 'message.updated':
      useChat.getState().applyUpdate(event.payload);
      return;
    case 'message.deleted':
      useChat.getState().applyDelete(event.payload.room_id, event.payload.message_id);
      return;
    case 'typing': {
      const { room_id, user_id, username } = event.payload;
      if (user_id !== myUserId) useTyping.getState().show(room_id, { userId: user_id, username });
      return;
    }
    case 'presence':
      useMembers.getState().setPresence(event.payload.user_id, event.payload.status);
      return;
    case 'room.updated': {
      const { room_id, name, visibility, role } = event.payload;
      if (findRoom(useRooms.getState().rooms, room_id)) {
        useRooms.getState().patch(room_id, { name, visibility, role });
      } else {
        void useRooms.getState().load().catch(notify.failure);
      }
      return;
    }
    case 'room.deleted':
      forgetRoom(event.payload.room_id);
      return;
    case 'member.joined':
    case 'member.updated': {
      const { room_id, member } = event.payload;
      const known = useMembers.getState().byRoom[room_id]?.some((m) => m.user_id === member.user_id);
      useMembers.getState().upsert(room_id, member);
      const room = findRoom(useRooms.getState().rooms, room_id);
      if (room && member.user_id === myUserId) useRooms.getState().patch(room_id, { role: member.role });
      if (room && event.type === 'member.joined' && !known) {
        useRooms.getState().patch(room_id, { member_count: room.member_count + 1 });
      }
      return;
    }
    case 'member.left': {
      const { room_id, user_id } = event.payload;
      if (user_id === myUserId) {
        forgetRoom(room_id);
        return;
      }
      useMembers.getState().remove(room_id, user_id);
      const room = findRoom(useRooms.getState().rooms, room_id);
      if (room) useRooms.getState().patch(room_id, { member_count: Math.max(0, room.member_count - 1) });
      return;
    }
    case 'call.state':
    case 'call.ring':
    case 'call.signal':
    case 'call.speaker':
      handleCallEvent(event);
      return;
  }
}

/** Drops a room the user can no longer see, saying so if it was on screen. */
function forgetRoom(roomId: number): void {
  const { rooms, activeRoomId } = useRooms.getState();
  const room = findRoom(rooms, roomId);
  if (room && activeRoomId === roomId) notify.warning(t('room.removed', { name: room.name }));
  dropRoom(roomId);
}

/** Forgets everything about a room the user left or deleted. */
export function dropRoom(roomId: number): void {
  useRooms.getState().remove(roomId);
  useChat.getState().forgetRoom(roomId);
  useMembers.getState().forgetRoom(roomId);
  useCall.getState().forgetRoom(roomId);
  endCallIn(roomId);
}
