import { RealtimeClient } from './realtime';

/** The app's one WebSocket connection, started by the sync layer once logged in. */
export const realtime = new RealtimeClient();
