import { describe, expect, it } from 'vitest';
import type { Message } from '../proto';
import { countsAsUnread, newestFromOthers, readMarkerToSend } from './unread';

const message = (roomId: number, authorId: number): Message => ({
  id: 1,
  room_id: roomId,
  author_id: authorId,
  author: 'someone',
  client_id: 'x',
  body: 'hi',
  created_at: 0,
});

describe('countsAsUnread', () => {
  const me = 1;
  it('counts messages from others in rooms that are not on screen', () => {
    expect(countsAsUnread(message(2, 9), { myUserId: me, activeRoomId: 3, pageHidden: false })).toBe(true);
    expect(countsAsUnread(message(2, 9), { myUserId: me, activeRoomId: null, pageHidden: false })).toBe(true);
  });

  it('does not count the room being read', () => {
    expect(countsAsUnread(message(2, 9), { myUserId: me, activeRoomId: 2, pageHidden: false })).toBe(false);
  });

  it('counts the open room while the tab is hidden', () => {
    expect(countsAsUnread(message(2, 9), { myUserId: me, activeRoomId: 2, pageHidden: true })).toBe(true);
  });

  it('never counts my own messages', () => {
    expect(countsAsUnread(message(2, me), { myUserId: me, activeRoomId: 3, pageHidden: true })).toBe(false);
  });
});

describe('newestFromOthers', () => {
  it('skips my own latest messages', () => {
    const messages = [message(1, 9), message(1, 1), message(1, 1)].map((m, index) => ({ ...m, id: index + 1 }));
    expect(newestFromOthers(messages, 1)).toBe(1);
    expect(newestFromOthers(messages, 9)).toBe(3);
    expect(newestFromOthers(messages.slice(1), 1)).toBeUndefined();
  });
});

describe('readMarkerToSend', () => {
  it('sends the newest message once', () => {
    expect(readMarkerToSend({ newestId: 5, lastSentId: undefined, unread: 2, pageHidden: false })).toBe(5);
    expect(readMarkerToSend({ newestId: 5, lastSentId: 5, unread: 0, pageHidden: false })).toBeNull();
    expect(readMarkerToSend({ newestId: 6, lastSentId: 5, unread: 0, pageHidden: false })).toBe(6);
  });

  it('sends again when the server still counts unread messages', () => {
    expect(readMarkerToSend({ newestId: 5, lastSentId: 5, unread: 3, pageHidden: false })).toBe(5);
  });

  it('waits while the tab is hidden or nothing is loaded', () => {
    expect(readMarkerToSend({ newestId: 5, lastSentId: 4, unread: 1, pageHidden: true })).toBeNull();
    expect(readMarkerToSend({ newestId: undefined, lastSentId: undefined, unread: 1, pageHidden: false })).toBeNull();
  });
});
