// Messages per room (what the server committed) and the outbox (what the user
// sent that it has not confirmed yet).

import { create } from 'zustand';
import { api } from '../api/endpoints';
import { ApiError } from '../api/http';
import { realtime } from '../api/socket';
import type { Message } from '../proto';
import {
  addEntry,
  isRetriedOnReconnect,
  removeEntry,
  setEntryStatus,
  type OutboxEntry,
} from './outbox';
import { mergeMessages, newestMessageId, replaceMessage, withoutMessage } from './timeline';
import { notify } from './toasts';

const PAGE_SIZE = 50;
/** Catching up after a long disconnection stops after this many pages and
 * starts again from the newest page instead. */
const MAX_CATCH_UP_PAGES = 10;

export interface Timeline {
  messages: Message[];
  /** Older messages exist on the server. */
  hasOlder: boolean;
  loadingOlder: boolean;
}

interface ChatData {
  timelines: Record<number, Timeline>;
  outbox: OutboxEntry[];
}

interface ChatState extends ChatData {
  loadLatest(roomId: number): Promise<void>;
  loadOlder(roomId: number): Promise<void>;
  /** Each open timeline's newest message id (undefined when it is empty):
   * where a catch-up after a reconnect must start. */
  newestIds(): Map<number, number | undefined>;
  /** Fetches the messages after `after`, or the newest page without it. */
  catchUp(roomId: number, after: number | undefined): Promise<void>;
  send(roomId: number, body: string): void;
  retry(clientId: string): void;
  discard(clientId: string): void;
  resendPending(): void;
  /** A committed message: from `message.new` or the `ack` of a send. */
  receive(message: Message): void;
  applyUpdate(message: Message): void;
  applyDelete(roomId: number, messageId: number): void;
  edit(roomId: number, messageId: number, body: string): Promise<void>;
  remove(roomId: number, messageId: number): Promise<void>;
  forgetRoom(roomId: number): void;
}

export const initialChat: ChatData = { timelines: {}, outbox: [] };

export const useChat = create<ChatState>((set, get) => {
  const updateTimeline = (roomId: number, change: (timeline: Timeline) => Partial<Timeline>) => {
    const timeline = get().timelines[roomId];
    if (!timeline) return;
    set({ timelines: { ...get().timelines, [roomId]: { ...timeline, ...change(timeline) } } });
  };

  const deliver = (entry: OutboxEntry) => {
    if (!realtime.isReady) return; // stays pending; resendPending runs on reconnect
    const payload = { room_id: entry.roomId, client_id: entry.clientId, body: entry.body };
    realtime.request({ type: 'message.send', payload }).then(
      (answer) => {
        if (answer.type === 'ack' && answer.payload) get().receive(answer.payload);
      },
      (error: ApiError) => {
        if (isRetriedOnReconnect(error.code)) return;
        set({ outbox: setEntryStatus(get().outbox, entry.clientId, 'failed') });
        if (error.code !== 'timeout') notify.failure(error);
      },
    );
  };

  return {
    ...initialChat,

    async loadLatest(roomId) {
      const page = await api.messages(roomId, {}, PAGE_SIZE);
      const existing = get().timelines[roomId]?.messages ?? [];
      set({
        timelines: {
          ...get().timelines,
          [roomId]: {
            messages: mergeMessages(existing, page.messages),
            hasOlder: page.has_more,
            loadingOlder: false,
          },
        },
      });
    },

    async loadOlder(roomId) {
      const timeline = get().timelines[roomId];
      if (!timeline || timeline.loadingOlder || !timeline.hasOlder) return;
      const oldest = timeline.messages[0]?.id;
      if (oldest === undefined) return;
      updateTimeline(roomId, () => ({ loadingOlder: true }));
      try {
        const page = await api.messages(roomId, { before: oldest }, PAGE_SIZE);
        updateTimeline(roomId, (current) => ({
          messages: mergeMessages(page.messages, current.messages),
          hasOlder: page.has_more,
          loadingOlder: false,
        }));
      } catch (error) {
        updateTimeline(roomId, () => ({ loadingOlder: false }));
        throw error;
      }
    },

    newestIds() {
      return new Map(
        Object.entries(get().timelines).map(([roomId, timeline]) => [Number(roomId), newestMessageId(timeline.messages)]),
      );
    },

    async catchUp(roomId, after) {
      if (after === undefined) return get().loadLatest(roomId);
      for (let pages = 0; pages < MAX_CATCH_UP_PAGES; pages++) {
        const page = await api.messages(roomId, { after }, PAGE_SIZE);
        updateTimeline(roomId, (current) => ({
          messages: mergeMessages(current.messages, page.messages),
        }));
        if (!page.has_more) return;
        after = newestMessageId(page.messages) ?? after;
      }
      // Too far behind: start over from the newest page.
      set({ timelines: { ...get().timelines, [roomId]: { messages: [], hasOlder: true, loadingOlder: false } } });
      await get().loadLatest(roomId);
    },

    send(roomId, body) {
      const entry: OutboxEntry = {
        clientId: crypto.randomUUID(),
        roomId,
        body,
        status: 'pending',
        createdAt: Date.now(),
      };
      set({ outbox: addEntry(get().outbox, entry) });
      deliver(entry);
    },

    retry(clientId) {
      const entry = get().outbox.find((candidate) => candidate.clientId === clientId);
      if (!entry) return;
      set({ outbox: setEntryStatus(get().outbox, clientId, 'pending') });
      deliver({ ...entry, status: 'pending' });
    },

    discard(clientId) {
      set({ outbox: removeEntry(get().outbox, clientId) });
    },

    resendPending() {
      get()
        .outbox.filter((entry) => entry.status === 'pending')
        .forEach(deliver);
    },

    receive(message) {
      set({ outbox: removeEntry(get().outbox, message.client_id) });
      updateTimeline(message.room_id, (timeline) => ({
        messages: mergeMessages(timeline.messages, [message]),
      }));
    },

    applyUpdate(message) {
      updateTimeline(message.room_id, (timeline) => ({
        messages: replaceMessage(timeline.messages, message),
      }));
    },

    applyDelete(roomId, messageId) {
      updateTimeline(roomId, (timeline) => ({ messages: withoutMessage(timeline.messages, messageId) }));
    },

    async edit(roomId, messageId, body) {
      get().applyUpdate(await api.editMessage(roomId, messageId, body));
    },

    async remove(roomId, messageId) {
      await api.deleteMessage(roomId, messageId);
      get().applyDelete(roomId, messageId);
    },

    forgetRoom(roomId) {
      const timelines = { ...get().timelines };
      delete timelines[roomId];
      set({ timelines, outbox: get().outbox.filter((entry) => entry.roomId !== roomId) });
    },
  };
});
