// A media path carries the call's media between this tab and the others. The
// UI never sees it: it renders the tracks a path reports into the call store.
// `MeshPath` holds one RTCPeerConnection per remote participant, `SfuPath` one
// RTCPeerConnection to the server's SFU. `TopologySwitcher` (switcher.ts)
// builds the new path while the old one still plays and swaps each
// participant over when `call.state.topology` changes (make-before-break).

import type { Signal } from '../proto';

/** What a participant sends: microphone, camera and a shared screen. */
export type TrackRole = 'audio' | 'video' | 'screen';
export const TRACK_ROLES: readonly TrackRole[] = ['audio', 'video', 'screen'];

export type LocalTracks = Record<TrackRole, MediaStreamTrack | null>;

/** What has arrived of one remote participant on a path so far. */
export interface Received {
  /** Audio packets arrived. */
  audio: boolean;
  /** A camera frame was decoded. */
  video: boolean;
}

export interface MediaPathEvents {
  /** A remote participant's track for `role` appeared, or went away (null). */
  onTrack(participantId: string, role: TrackRole, track: MediaStreamTrack | null): void;
  /** The state of the connection carrying a participant's media. */
  onConnectionState(participantId: string, state: RTCPeerConnectionState): void;
  sendSignal(to: string, signal: Signal): void;
  /** The path opened a fresh connection to the SFU (it starts from defaults). */
  onSfuConnection?(): void;
}

export interface MediaPath {
  /** Everyone in the call (this tab included), from call.state. */
  setParticipants(participantIds: readonly string[]): void;
  /** What this tab sends for `role` (null: nothing). No renegotiation needed. */
  setLocalTrack(role: TrackRole, track: MediaStreamTrack | null): Promise<void>;
  receiveSignal(from: string, signal: Signal): void;
  /** A stats report per remote participant, with its connection state. */
  stats(): Promise<Map<string, { state: RTCPeerConnectionState; report: ReadonlyMap<string, unknown> }>>;
  /** Whether a participant's audio and camera have reached this tab on this path. */
  received(participantId: string): Promise<Received>;
  /** Signaling is back after an outage: restart ICE where it broke meanwhile. */
  recover(): void;
  /** False while the call moves away from this path: keep what works, but do
   * not open new connections to repair it. */
  setActive?(active: boolean): void;
  close(): void;
}
