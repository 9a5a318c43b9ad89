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
