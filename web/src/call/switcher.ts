// Mesh ↔ SFU switching, make-before-break (docs/protocol.md, "Topology: mesh
// and SFU"). The switcher holds the media path of the call's current mode
// and, during a switch, the previous one, and decides for each remote
// participant which path's tracks the UI plays:
//
// - On a newer `call.state.topology` epoch with another mode, the path for
//   that mode is brought up beside the old one (a stale epoch is ignored).
// - Each remote participant keeps playing from the old path until its camera
//   has decoded a frame on the new one (its audio has arrived, when it sends
//   no camera); then its tracks are swapped in the store.
// - Once nobody plays from the old path, it is closed after a short linger
//   (the others may not have swapped to our new tracks yet).
// - A participant still not on the new path after `SWITCH_GIVE_UP_MS` stays
//   on the old one, which is cut down to just those participants; the user
//   is told, and the swap still happens if the new path starts working.
// - Someone joining during a switch is only on the new path; someone leaving
//   is dropped everywhere. A switch back before the first one ended reuses
//   the path that is still open.

import type { CallParticipant, Signal, Topology, TopologyMode } from '../proto';
import {
  TRACK_ROLES,
  type LocalTracks,
  type MediaPath,
  type MediaPathEvents,
  type Received,
  type TrackRole,
} from './mediaPath';

export type Mode = TopologyMode;

/** How often a switch checks whether the new tracks decode. */
export const SWITCH_POLL_MS = 100;
/** Once a switch has given up on some participants, how often it checks again. */
export const STUCK_POLL_MS = 1000;
/** How long a participant may take to come through the new path. */
export const SWITCH_GIVE_UP_MS = 8000;
/** How long the old path stays open after the last participant left it. */
export const OLD_PATH_LINGER_MS = 1500;

export interface SwitcherEvents extends MediaPathEvents {
  /** A switch to `mode` could not reach these participants in time: they
   * stay on the other path for now. */
  onStuck(participantIds: string[], mode: Mode): void;
  /** The path for `mode` was closed. */
  onPathClosed?(mode: Mode): void;
}

export interface SwitcherOptions {
  selfId: string;
  topology: Topology;
  local: LocalTracks;
  /** Opens the media path of a mode. */
  open(mode: Mode, local: LocalTracks, events: MediaPathEvents): MediaPath;
  events: SwitcherEvents;
}

type Tracks = Partial<Record<TrackRole, MediaStreamTrack>>;

interface OpenPath {
  path: MediaPath;
  /** The latest tracks it reported, per remote participant. */
  tracks: Map<string, Tracks>;
  /** Remote participants it connects to. */
  members: Set<string>;
}

/** Whether what arrived is enough to play a participant from a path. */
export function isReady(media: CallParticipant['media'] | undefined, received: Received): boolean {
  if (media?.video) return received.video;
  if (media?.audio) return received.audio;
  return true;
}

export class TopologySwitcher {
  private target: Mode;
  private epoch: number;
  private readonly paths = new Map<Mode, OpenPath>();
  /** The path each remote participant is played from. */
  private readonly via = new Map<string, Mode>();
  private participants: CallParticipant[] = [];
  private readonly local: LocalTracks;
  private switchStartedAt = 0;
  private gaveUp = false;
  private pollTimer: ReturnType<typeof setTimeout> | undefined;
  private lingerTimer: ReturnType<typeof setTimeout> | undefined;
  private polling = false;
  private closed = false;

  constructor(private readonly options: SwitcherOptions) {
    this.target = options.topology.mode;
    this.epoch = options.topology.epoch;
    this.local = { ...options.local };
    this.open(this.target);
  }

  /** The mode the call uses now (the switch to it may still be going on). */
  get mode(): Mode {
    return this.target;
  }

  /** The path a remote participant is played from. */
  playedVia(participantId: string): Mode | undefined {
    return this.via.get(participantId);
  }

  /** Which modes have a path open (for tests and diagnostics). */
  openModes(): Mode[] {
    return [...this.paths.keys()];
  }

  /** Follows a call.state: who is in the call and its topology. */
  follow(participants: readonly CallParticipant[], topology: Topology): void {
    if (this.closed) return;
    this.participants = [...participants];
    if (topology.epoch > this.epoch) {
      this.epoch = topology.epoch;
      if (topology.mode !== this.target) this.switchTo(topology.mode);
    }
    const ids = participants.map((participant) => participant.participant_id);
    const remote = ids.filter((id) => id !== this.options.selfId);
    for (const id of [...this.via.keys()]) {
      if (!remote.includes(id)) this.forget(id);
    }
    // Newcomers are played from the path of the current mode only.
    for (const id of remote) if (!this.via.has(id)) this.via.set(id, this.target);
    for (const [mode, open] of this.paths) {
      if (mode === this.target) open.members = new Set(remote);
      else open.members = new Set(remote.filter((id) => open.members.has(id)));
      open.path.setParticipants([this.options.selfId, ...open.members]);
    }
    this.schedule();
  }

  receiveSignal(from: string, signal: Signal): void {
    // Only the SFU signals as "sfu"; everyone else is a mesh peer. A mesh
    // signal when no mesh path is open is late, and dropped.
    this.paths.get(from === 'sfu' ? 'sfu' : 'mesh')?.path.receiveSignal(from, signal);
  }

  async setLocalTrack(role: TrackRole, track: MediaStreamTrack | null): Promise<void> {
    this.local[role] = track;
    await Promise.all([...this.paths.values()].map((open) => open.path.setLocalTrack(role, track)));
  }

  /** A stats report per remote participant, from the path it is played from. */
  async stats(): Promise<Map<string, { state: RTCPeerConnectionState; report: ReadonlyMap<string, unknown>; via: Mode }>> {
    const result = new Map<string, { state: RTCPeerConnectionState; report: ReadonlyMap<string, unknown>; via: Mode }>();
    await Promise.all(
      [...this.paths].map(async ([mode, open]) => {
        for (const [id, entry] of await open.path.stats()) {
          if (this.via.get(id) === mode) result.set(id, { ...entry, via: mode });
        }
      }),
    );
    return result;
  }

  recover(): void {
    for (const open of this.paths.values()) open.path.recover();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.pollTimer);
    clearTimeout(this.lingerTimer);
    for (const mode of [...this.paths.keys()]) this.closePath(mode);
  }

  private switchTo(mode: Mode): void {
    const previous = this.target;
    this.target = mode;
    this.switchStartedAt = Date.now();
    this.gaveUp = false;
    // A slow poll of the previous switch must not delay this one.
    clearTimeout(this.pollTimer);
    this.pollTimer = undefined;
    clearTimeout(this.lingerTimer);
    this.lingerTimer = undefined;
    this.paths.get(previous)?.path.setActive?.(false);
    const existing = this.paths.get(mode);
    if (existing) existing.path.setActive?.(true);
    else this.open(mode);
  }

  private open(mode: Mode): void {
    const open: OpenPath = { path: undefined as unknown as MediaPath, tracks: new Map(), members: new Set() };
    this.paths.set(mode, open);
    const events = this.options.events;
    open.path = this.options.open(mode, { ...this.local }, {
      onTrack: (participantId, role, track) => {
        if (this.paths.get(mode) !== open) return;
        const tracks = { ...open.tracks.get(participantId) };
        if (track) tracks[role] = track;
        else delete tracks[role];
        open.tracks.set(participantId, tracks);
        if ((this.via.get(participantId) ?? this.target) === mode) events.onTrack(participantId, role, track);
      },
      onConnectionState: (participantId, state) => {
        if (this.paths.get(mode) !== open) return;
        if ((this.via.get(participantId) ?? this.target) === mode) events.onConnectionState(participantId, state);
      },
      sendSignal: (to, signal) => {
        if (this.paths.get(mode) === open) events.sendSignal(to, signal);
      },
      onSfuConnection: () => events.onSfuConnection?.(),
    });
  }

  private closePath(mode: Mode): void {
    const open = this.paths.get(mode);
    if (!open) return;
    this.paths.delete(mode);
    open.path.close();
    this.options.events.onPathClosed?.(mode);
  }

  /** Plays a participant from `mode`'s path from now on. */
  private show(participantId: string, mode: Mode): void {
    this.via.set(participantId, mode);
    const tracks = this.paths.get(mode)?.tracks.get(participantId) ?? {};
    for (const role of TRACK_ROLES) this.options.events.onTrack(participantId, role, tracks[role] ?? null);
  }

  private forget(participantId: string): void {
    this.via.delete(participantId);
    for (const open of this.paths.values()) open.tracks.delete(participantId);
  }

  /** Remote participants not yet played from the current mode's path. */
  private behind(): string[] {
    return [...this.via].filter(([, mode]) => mode !== this.target).map(([id]) => id);
  }

  /** Polls while someone is behind; closes the old path once nobody is. */
  private schedule(): void {
    if (this.closed || this.polling || this.pollTimer !== undefined) return;
    if (this.behind().length > 0) {
      this.pollTimer = setTimeout(() => {
        this.pollTimer = undefined;
        void this.poll();
      }, this.gaveUp ? STUCK_POLL_MS : SWITCH_POLL_MS);
    } else if (this.paths.size > 1 && this.lingerTimer === undefined) {
      this.lingerTimer = setTimeout(() => {
        this.lingerTimer = undefined;
        if (this.closed || this.behind().length > 0) return;
        for (const mode of [...this.paths.keys()]) if (mode !== this.target) this.closePath(mode);
      }, OLD_PATH_LINGER_MS);
    }
  }

  private async poll(): Promise<void> {
    this.polling = true;
    try {
      const target = this.target;
      const open = this.paths.get(target);
      if (!open) return;
      const behind = this.behind();
      const received = await Promise.all(behind.map((id) => open.path.received(id)));
      // The world may have moved on while the stats were read.
      if (this.closed || this.target !== target || this.paths.get(target) !== open) return;
      behind.forEach((id, index) => {
        const media = this.participants.find((participant) => participant.participant_id === id)?.media;
        if (this.via.has(id) && isReady(media, received[index])) this.show(id, target);
      });
      const still = this.behind();
      if (still.length > 0 && !this.gaveUp && Date.now() - this.switchStartedAt >= SWITCH_GIVE_UP_MS) {
        this.gaveUp = true;
        this.options.events.onStuck(still, target);
        // The old path keeps only those it still carries.
        for (const [mode, old] of this.paths) {
          if (mode === target) continue;
          old.members = new Set(still.filter((id) => this.via.get(id) === mode));
          old.path.setParticipants([this.options.selfId, ...old.members]);
        }
      }
    } finally {
      this.polling = false;
      this.schedule();
    }
  }
}
