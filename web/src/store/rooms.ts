import { create } from 'zustand';
import { api } from '../api/endpoints';
import { realtime } from '../api/socket';
import type { Room } from '../proto';
import { readMarkerToSend } from './unread';

interface RoomsData {
  rooms: Room[];
  loaded: boolean;
  /** The room on screen, for unread counting and read markers. */
  activeRoomId: number | null;
  /** The last read marker sent per room. */
  readMarkers: Record<number, number>;
}

interface RoomsState extends RoomsData {
  load(): Promise<void>;
  upsert(room: Room): void;
  patch(roomId: number, changes: Partial<Room>): void;
  remove(roomId: number): void;
  setActive(roomId: number | null): void;
  incrementUnread(roomId: number): void;
  /** Moves the read marker of the room on screen to its newest message. */
  markRead(roomId: number, newestId: number | undefined, pageHidden: boolean): void;
}

export const initialRooms: RoomsData = { rooms: [], loaded: false, activeRoomId: null, readMarkers: {} };

export const useRooms = create<RoomsState>((set, get) => ({
  ...initialRooms,

  async load() {
    set({ rooms: await api.myRooms(), loaded: true });
  },

  upsert(room) {
    const others = get().rooms.filter((existing) => existing.id !== room.id);
    set({ rooms: [...others, room] });
  },

  patch(roomId, changes) {
    set({ rooms: get().rooms.map((room) => (room.id === roomId ? { ...room, ...changes } : room)) });
  },

  remove(roomId) {
    set({ rooms: get().rooms.filter((room) => room.id !== roomId) });
  },

  setActive(roomId) {
    set({ activeRoomId: roomId });
    reportFocus();
  },

  incrementUnread(roomId) {
    set({
      rooms: get().rooms.map((room) => (room.id === roomId ? { ...room, unread: room.unread + 1 } : room)),
    });
  },

  markRead(roomId, newestId, pageHidden) {
    const room = findRoom(get().rooms, roomId);
    if (!room) return;
    const lastSentId = get().readMarkers[roomId];
    const messageId = readMarkerToSend({ newestId, lastSentId, unread: room.unread, pageHidden });
    if (messageId === null) return;
    set({ readMarkers: { ...get().readMarkers, [roomId]: messageId } });
    get().patch(roomId, { unread: 0 });
    const payload = { room_id: roomId, message_id: messageId };
    const sent = realtime.isReady
      ? realtime.request({ type: 'room.read', payload })
      : Promise.reject(new Error('offline'));
    sent.catch(() => api.markRead(roomId, messageId)).catch(() => {
      // Not recorded: the next message or reconnect will try again.
    });
  },
}));

export function findRoom(rooms: readonly Room[], roomId: number): Room | undefined {
  return rooms.find((room) => room.id === roomId);
}

export function sortRooms(rooms: readonly Room[]): Room[] {
  return [...rooms].sort((a, b) => a.name.localeCompare(b.name));
}

/** Tells the server which room this tab shows and whether the page is
 * visible: the server pushes no notifications for a room the user is looking at. */
export function reportFocus(): void {
  if (!realtime.isReady) return;
  const visible = typeof document === 'undefined' || document.visibilityState === 'visible';
  const payload = { room_id: useRooms.getState().activeRoomId, visible };
  realtime.request({ type: 'focus', payload }).catch(() => {
    // Not recorded: the next focus change or reconnect sends it again.
  });
}
