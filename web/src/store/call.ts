// Calls as the UI sees them: the calls going on in the user's rooms (newest
// revision wins), rings, and the one call this tab is in — what it sends and,
// per remote participant, the tracks some media path delivers, the connection
// quality and who is speaking. The WebRTC side lives in src/call/.

import { create } from 'zustand';
import type { Quality } from '../call/quality';
import type { TrackRole } from '../call/mediaPath';
import type { CallRing, CallState, MediaState } from '../proto';

export type CallPhase = 'prejoin' | 'joining' | 'joined' | 'resuming';

export interface CallSession {
  roomId: number;
  phase: CallPhase;
  /** Ours, once the server has given it (call.joined). */
  participantId: string | null;
}

export type Tracks = Partial<Record<TrackRole, MediaStreamTrack>>;

export interface DeviceOption {
  deviceId: string;
  label: string;
}

export interface Devices {
  cameras: DeviceOption[];
  microphones: DeviceOption[];
  /** Empty when the browser cannot choose the output (no setSinkId). */
  speakers: DeviceOption[];
  camera?: string;
  microphone?: string;
  speaker?: string;
}

/** Key of the local participant in `speaking` (its id is unknown before joining). */
export const LOCAL = 'local';

interface CallData {
  /** The latest known state of each room's call; an ended call has no participants. */
  states: Record<number, CallState>;
  rings: CallRing[];
  session: CallSession | null;
  /** What this tab sends (announced with call.media). */
  media: MediaState;
  local: Tracks;
  remote: Record<string, Tracks>;
  quality: Record<string, Quality>;
  speaking: Record<string, boolean>;
  /** The loudest participant, as the SFU names it (SFU mode only). */
  activeSpeaker: string | null;
  devices: Devices;
}

interface CallStore extends CallData {
  /** Keeps `state` if it is newer than what is known; true when it was kept. */
  applyState(state: CallState): boolean;
  /** Forgets every known state (after a reconnect the server sends them again). */
  forgetStates(): void;
  forgetRoom(roomId: number): void;
  ring(ring: CallRing): void;
  dismissRing(roomId: number): void;
  setRemoteTrack(participantId: string, role: TrackRole, track: MediaStreamTrack | null): void;
  forgetParticipant(participantId: string): void;
  setSpeaking(key: string, speaking: boolean): void;
}

export const initialCall: CallData = {
  states: {},
  rings: [],
  session: null,
  media: { audio: true, video: true, screen: false },
  local: {},
  remote: {},
  quality: {},
  speaking: {},
  activeSpeaker: null,
  devices: { cameras: [], microphones: [], speakers: [] },
};

/** A state replaces the known one only with a higher revision, so a late
 * event never undoes a newer one. */
export function isNewer(incoming: CallState, known: CallState | undefined): boolean {
  return known === undefined || incoming.revision > known.revision;
}

export const useCall = create<CallStore>((set, get) => ({
  ...initialCall,

  applyState(state) {
    if (!isNewer(state, get().states[state.room_id])) return false;
    const rings =
      state.participants.length === 0 ? get().rings.filter((ring) => ring.room_id !== state.room_id) : get().rings;
    set({ states: { ...get().states, [state.room_id]: state }, rings });
    return true;
  },

  forgetStates() {
    set({ states: {} });
  },

  forgetRoom(roomId) {
    const states = { ...get().states };
    delete states[roomId];
    set({ states, rings: get().rings.filter((ring) => ring.room_id !== roomId) });
  },

  ring(ring) {
    set({ rings: [...get().rings.filter((known) => known.room_id !== ring.room_id), ring] });
  },

  dismissRing(roomId) {
    set({ rings: get().rings.filter((ring) => ring.room_id !== roomId) });
  },

  setRemoteTrack(participantId, role, track) {
    const tracks = { ...get().remote[participantId] };
    if (track) tracks[role] = track;
    else delete tracks[role];
    set({ remote: { ...get().remote, [participantId]: tracks } });
  },

  forgetParticipant(participantId) {
    const { remote, quality, speaking } = get();
    set({
      remote: without(remote, participantId),
      quality: without(quality, participantId),
      speaking: without(speaking, participantId),
    });
  },

  setSpeaking(key, speaking) {
    set({ speaking: { ...get().speaking, [key]: speaking } });
  },
}));

function without<T>(record: Record<string, T>, key: string): Record<string, T> {
  const copy = { ...record };
  delete copy[key];
  return copy;
}

/** The ongoing call of a room (undefined when there is none). */
export function ongoingCall(states: Record<number, CallState>, roomId: number): CallState | undefined {
  const state = states[roomId];
  return state && state.participants.length > 0 ? state : undefined;
}
