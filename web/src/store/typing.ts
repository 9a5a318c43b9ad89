// Who is typing where: received `typing` events are shown for a few seconds;
// our own are sent at most every couple of seconds while the user types.

import { create } from 'zustand';

export const TYPING_VISIBLE_MS = 4000;
export const TYPING_SEND_INTERVAL_MS = 2000;

export interface Typist {
  userId: number;
  username: string;
}

interface TypingData {
  byRoom: Record<number, Typist[]>;
}

interface TypingState extends TypingData {
  show(roomId: number, typist: Typist): void;
  clear(roomId: number, userId: number): void;
}

export const initialTyping: TypingData = { byRoom: {} };

const expiryTimers = new Map<string, ReturnType<typeof setTimeout>>();

export const useTyping = create<TypingState>((set, get) => ({
  ...initialTyping,

  show(roomId, typist) {
    const others = (get().byRoom[roomId] ?? []).filter((known) => known.userId !== typist.userId);
    set({ byRoom: { ...get().byRoom, [roomId]: [...others, typist] } });
    const key = `${roomId}:${typist.userId}`;
    clearTimeout(expiryTimers.get(key));
    expiryTimers.set(
      key,
      setTimeout(() => get().clear(roomId, typist.userId), TYPING_VISIBLE_MS),
    );
  },

  clear(roomId, userId) {
    const typists = get().byRoom[roomId];
    if (!typists?.some((typist) => typist.userId === userId)) return;
    clearTimeout(expiryTimers.get(`${roomId}:${userId}`));
    set({
      byRoom: { ...get().byRoom, [roomId]: typists.filter((typist) => typist.userId !== userId) },
    });
  },
}));

export interface TypingThrottle {
  /** Call on every keystroke: sends at most once per interval and room. */
  typed(roomId: number): void;
  /** Call after sending a message: others stop showing us as typing when it
   * arrives, so the next keystroke is announced at once. */
  sent(roomId: number): void;
}

export function typingThrottle(
  send: (roomId: number) => void,
  now: () => number = Date.now,
  interval = TYPING_SEND_INTERVAL_MS,
): TypingThrottle {
  const lastSent = new Map<number, number>();
  return {
    typed(roomId) {
      const time = now();
      const last = lastSent.get(roomId);
      if (last !== undefined && time - last < interval) return;
      lastSent.set(roomId, time);
      send(roomId);
    },
    sent(roomId) {
      lastSent.delete(roomId);
    },
  };
}
