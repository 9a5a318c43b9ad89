// Messages the user sent that the server has not committed yet. Each keeps its
// client_id for life: a retry or a resend after reconnecting reuses it, and the
// server answers a known client_id with the original message, never a copy.

export type OutboxStatus = 'pending' | 'failed';

export interface OutboxEntry {
  clientId: string;
  roomId: number;
  body: string;
  status: OutboxStatus;
  createdAt: number;
}

export function addEntry(outbox: readonly OutboxEntry[], entry: OutboxEntry): OutboxEntry[] {
  return [...outbox, entry];
}

export function setEntryStatus(
  outbox: readonly OutboxEntry[],
  clientId: string,
  status: OutboxStatus,
): OutboxEntry[] {
  return outbox.map((entry) => (entry.clientId === clientId ? { ...entry, status } : entry));
}

export function removeEntry(outbox: readonly OutboxEntry[], clientId: string): OutboxEntry[] {
  return outbox.filter((entry) => entry.clientId !== clientId);
}

/** Whether a failed delivery should stay pending (to be resent on reconnect)
 * rather than be shown as failed: true when the connection was the problem. */
export function isRetriedOnReconnect(errorCode: string): boolean {
  return errorCode === 'disconnected';
}
