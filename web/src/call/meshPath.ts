// The mesh media path: one RTCPeerConnection per remote participant, each
// negotiated with perfect negotiation over `call.signal`.
//
// Which track is which: the side that opens a connection (the lower
// participant id, which is also the impolite side) adds exactly three
// transceivers in TRACK_ROLES order — microphone, camera, screen — before the
// first offer. The other side never adds transceivers; it gets the same three
// from that offer and attaches its own tracks to them before answering. So on
// both sides the n-th transceiver (m-line n) carries TRACK_ROLES[n], and a
// remote track's role is its transceiver's index. Starting or stopping the
// camera or a screen share is a `replaceTrack` on a transceiver that already
// exists: no renegotiation, no signaling.

import type { Signal } from '../proto';
import {
  TRACK_ROLES,
  type LocalTracks,
  type MediaPath,
  type MediaPathEvents,
  type Received,
  type TrackRole,
} from './mediaPath';
import { isPolite, PerfectNegotiation } from './negotiation';
import { receivedSome } from './receiverStats';

const KIND: Record<TrackRole, 'audio' | 'video'> = { audio: 'audio', video: 'video', screen: 'video' };

class MeshPeer {
  readonly connection: RTCPeerConnection;
  readonly negotiation: PerfectNegotiation;

  constructor(
    remoteId: string,
    polite: boolean,
    iceServers: RTCIceServer[],
    /** The path's own record of local tracks, read when answering. */
    private readonly local: LocalTracks,
    events: MediaPathEvents,
  ) {
    const connection = new RTCPeerConnection({ iceServers });
    this.connection = connection;
    if (!polite) {
      for (const role of TRACK_ROLES) {
        connection.addTransceiver(local[role] ?? KIND[role], { direction: 'sendrecv' });
      }
    }
    connection.addEventListener('track', (event) => {
      const role = TRACK_ROLES[connection.getTransceivers().indexOf(event.transceiver)];
      if (role) events.onTrack(remoteId, role, event.track);
    });
    connection.addEventListener('connectionstatechange', () =>
      events.onConnectionState(remoteId, connection.connectionState),
    );
    this.negotiation = new PerfectNegotiation(connection, {
      polite,
      send: (signal) => events.sendSignal(remoteId, signal),
      beforeAnswer: () => this.attachLocalTracks(),
      onError: (error) => console.warn(`negotiation with ${remoteId} failed`, error),
    });
  }

  async send(role: TrackRole, track: MediaStreamTrack | null): Promise<void> {
    const transceiver = this.connection.getTransceivers()[TRACK_ROLES.indexOf(role)];
    if (transceiver && transceiver.sender.track !== track) await transceiver.sender.replaceTrack(track);
  }

  close(): void {
    this.negotiation.close();
    this.connection.close();
  }

  async received(): Promise<Received> {
    const [audio, video] = this.connection.getTransceivers();
    const [heard, seen] = await Promise.all([receivedSome(audio?.receiver), receivedSome(video?.receiver)]);
    return { audio: heard, video: seen };
  }

  /** The polite side: the transceivers came with the offer (receive only);
   * make them send our tracks too. */
  private async attachLocalTracks(): Promise<void> {
    await Promise.all(
      this.connection.getTransceivers().map(async (transceiver, index) => {
        const role = TRACK_ROLES[index];
        if (!role) return;
        if (transceiver.direction === 'recvonly') transceiver.direction = 'sendrecv';
        await this.send(role, this.local[role]);
      }),
    );
  }
}

export class MeshPath implements MediaPath {
  private readonly peers = new Map<string, MeshPeer>();
  /** Participants who left: a late signal from them must not open a connection. */
  private readonly departed = new Set<string>();
  private readonly local: LocalTracks;

  constructor(
    private readonly selfId: string,
    private readonly iceServers: RTCIceServer[],
    local: LocalTracks,
    private readonly events: MediaPathEvents,
  ) {
    this.local = { ...local };
  }

  setParticipants(participantIds: readonly string[]): void {
    const others = new Set(participantIds.filter((id) => id !== this.selfId));
    // Listed again (the path is used again after a switch): its signals count.
    for (const id of others) this.departed.delete(id);
    for (const id of [...this.peers.keys()]) {
      if (!others.has(id)) this.drop(id);
    }
    // The lower id opens the connection; the other waits for its offer.
    for (const id of others) {
      if (!this.peers.has(id) && !isPolite(this.selfId, id)) this.open(id);
    }
  }

  async setLocalTrack(role: TrackRole, track: MediaStreamTrack | null): Promise<void> {
    this.local[role] = track;
    await Promise.all([...this.peers.values()].map((peer) => peer.send(role, track)));
  }

  receiveSignal(from: string, signal: Signal): void {
    if (from === this.selfId || this.departed.has(from)) return;
    const peer = this.peers.get(from) ?? this.open(from);
    void peer.negotiation.receive(signal);
  }

  async stats(): Promise<Map<string, { state: RTCPeerConnectionState; report: RTCStatsReport }>> {
    const entries = await Promise.all(
      [...this.peers].map(async ([id, peer]) => {
        const report = await peer.connection.getStats();
        return [id, { state: peer.connection.connectionState, report }] as const;
      }),
    );
    return new Map(entries);
  }

  async received(participantId: string): Promise<Received> {
    return (await this.peers.get(participantId)?.received()) ?? { audio: false, video: false };
  }

  recover(): void {
    for (const peer of this.peers.values()) peer.negotiation.restartIfStalled();
  }

  close(): void {
    for (const id of [...this.peers.keys()]) this.drop(id);
  }

  private open(remoteId: string): MeshPeer {
    const peer = new MeshPeer(remoteId, isPolite(this.selfId, remoteId), this.iceServers, this.local, this.events);
    this.peers.set(remoteId, peer);
    return peer;
  }

  private drop(remoteId: string): void {
    this.peers.get(remoteId)?.close();
    this.peers.delete(remoteId);
    this.departed.add(remoteId);
    for (const role of TRACK_ROLES) this.events.onTrack(remoteId, role, null);
  }
}

