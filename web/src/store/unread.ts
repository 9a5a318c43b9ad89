// When a message counts as unread, and when to move the read marker.

import type { Message } from '../proto';

export interface ViewerContext {
  myUserId: number;
  activeRoomId: number | null;
  pageHidden: boolean;
}

/** A message from someone else counts as unread unless its room is on
 * screen in a visible tab. */
export function countsAsUnread(message: Message, viewer: ViewerContext): boolean {
  if (message.author_id === viewer.myUserId) return false;
  return message.room_id !== viewer.activeRoomId || viewer.pageHidden;
}

/** The newest message written by someone else: our own messages never count
 * as unread, so the read marker need not move for them. */
export function newestFromOthers(messages: readonly Message[], myUserId: number | undefined): number | undefined {
  for (let index = messages.length - 1; index >= 0; index--) {
    if (messages[index].author_id !== myUserId) return messages[index].id;
  }
  return undefined;
}

/** The message id to send as the read marker of the room on screen, or null
 * when nothing needs sending. */
export function readMarkerToSend(options: {
  newestId: number | undefined;
  lastSentId: number | undefined;
  unread: number;
  pageHidden: boolean;
}): number | null {
  const { newestId, lastSentId, unread, pageHidden } = options;
  if (pageHidden || newestId === undefined) return null;
  if (lastSentId !== undefined && newestId <= lastSentId && unread === 0) return null;
  return newestId;
}
