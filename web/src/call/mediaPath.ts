// A media path carries the call's media between this tab and the others. The
// UI never sees it: it renders the tracks a path reports into the call store.
// `MeshPath` holds one RTCPeerConnection per remote participant. An SFU path
// (one RTCPeerConnection to the server) implements the same interface, so the
// controller can build the new path while the old one still plays and swap
// them when `call.state.topology` changes (make-before-break).

import type { Signal } from '../proto';

/** What a participant sends: microphone, camera and a shared screen. */
export type TrackRole = 'audio' | 'video' | 'screen';
export const TRACK_ROLES: readonly TrackRole[] = ['audio', 'video', 'screen'];

export type LocalTracks = Record<TrackRole, MediaStreamTrack | null>;

export interface MediaPathEvents {
  /** A remote participant's track for `role` appeared, or went away (null). */
  onTrack(participantId: string, role: TrackRole, track: MediaStreamTrack | null): void;
  /** The state of the connection carrying a participant's media. */
  onConnectionState(participantId: string, state: RTCPeerConnectionState): void;
  sendSignal(to: string, signal: Signal): void;
}

export interface MediaPath {
  /** Everyone in the call (this tab included), from call.state. */
  setParticipants(participantIds: readonly string[]): void;
  /** What this tab sends for `role` (null: nothing). No renegotiation needed. */
  setLocalTrack(role: TrackRole, track: MediaStreamTrack | null): Promise<void>;
  receiveSignal(from: string, signal: Signal): void;
  /** A stats report per remote participant, with its connection state. */
  stats(): Promise<Map<string, { state: RTCPeerConnectionState; report: RTCStatsReport }>>;
  /** Signaling is back after an outage: restart ICE where it broke meanwhile. */
  recover(): void;
  close(): void;
}
