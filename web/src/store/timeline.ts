// Pure helpers for a room's list of committed messages, kept in ascending id order.

import type { Message } from '../proto';

/** Adds `incoming` to `existing`: one entry per id (the incoming copy wins, so
 * an edit replaces the old text), sorted by id. */
export function mergeMessages(existing: readonly Message[], incoming: readonly Message[]): Message[] {
  if (incoming.length === 0) return existing as Message[];
  const byId = new Map(existing.map((message) => [message.id, message]));
  for (const message of incoming) byId.set(message.id, message);
  return [...byId.values()].sort((a, b) => a.id - b.id);
}

/** Replaces a message that is already listed; unknown ids are ignored. */
export function replaceMessage(existing: readonly Message[], updated: Message): Message[] {
  return existing.map((message) => (message.id === updated.id ? updated : message));
}

export function withoutMessage(existing: readonly Message[], messageId: number): Message[] {
  return existing.filter((message) => message.id !== messageId);
}

export function newestMessageId(messages: readonly Message[]): number | undefined {
  return messages.at(-1)?.id;
}
