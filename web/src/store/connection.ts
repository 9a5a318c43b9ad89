import { create } from 'zustand';
import type { ConnectionStatus } from '../api/realtime';
import type { Presence } from '../proto';

interface ConnectionData {
  status: ConnectionStatus;
  /** What the user chose for themselves; restored after reconnecting. */
  myPresence: Extract<Presence, 'online' | 'busy'>;
}

export const initialConnection: ConnectionData = { status: 'offline', myPresence: 'online' };

export const useConnection = create<ConnectionData>(() => initialConnection);
