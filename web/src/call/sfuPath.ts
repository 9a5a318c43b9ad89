// The SFU media path: one RTCPeerConnection to the server's SFU, signaled
// with `call.signal` to and from the reserved participant id "sfu"
// (docs/protocol.md, "Topology: mesh and SFU").
//
// This tab publishes on three send-only transceivers added before the first
// offer (simulcast.ts), and makes that first offer. Whenever the set of
// tracks it should receive changes, the SFU offers and this tab answers; the
// SFU is the polite side, so an SFU offer that crosses ours is ignored
// (perfect negotiation with polite = false) and the SFU offers again after
// answering ours. Each received track is mapped to its publisher and role
// by its msid (msid.ts); a track the SFU stops (its m-line stopped or made
// inactive) is reported gone.
//
// If the connection fails, its DTLS is closed by the SFU, it stays
// disconnected or it never comes up, it is made again from scratch with a
// fresh offer: the server joins the participant to the SFU again after the
// SFU drops it.

import type { Signal } from '../proto';
import {
  TRACK_ROLES,
  type LocalTracks,
  type MediaPath,
  type MediaPathEvents,
  type Received,
  type TrackRole,
} from './mediaPath';
import { parseMsids, trackOrigin, type TrackOrigin } from './msid';
import { PerfectNegotiation } from './negotiation';
import { receivedSome } from './receiverStats';
import { addPublishingTransceivers, publishingDirection } from './simulcast';

/** The SFU's reserved participant id in `call.signal`. */
export const SFU_ID = 'sfu';
/** A connection not up within this long after it was made is made again. */
export const SFU_CONNECT_TIMEOUT_MS = 10_000;
/** How long a connection may stay `disconnected` before it is made again. */
export const SFU_DISCONNECTED_GRACE_MS = 5_000;

interface Forwarded extends TrackOrigin {
  track: MediaStreamTrack;
  receiver: RTCRtpReceiver;
}

const key = (publisher: string, role: TrackRole) => `${publisher}/${role}`;

export class SfuPath implements MediaPath {
  private connection!: RTCPeerConnection;
  private negotiation!: PerfectNegotiation;
  /** Microphone, camera and screen, in that order. */
  private publishing: RTCRtpTransceiver[] = [];
  /** What the SFU forwards to this tab, by publisher and role. */
  private forwarded = new Map<string, Forwarded>();
  private others: string[] = [];
  private readonly local: LocalTracks;
  private active = true;
  private closed = false;
  private repairTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly dtlsWatched = new WeakSet<RTCDtlsTransport>();

  constructor(
    private readonly selfId: string,
    private readonly iceServers: RTCIceServer[],
    local: LocalTracks,
    private readonly events: MediaPathEvents,
  ) {
    this.local = { ...local };
    this.connect();
  }

  setParticipants(participantIds: readonly string[]): void {
    this.others = participantIds.filter((id) => id !== this.selfId);
  }

  async setLocalTrack(role: TrackRole, track: MediaStreamTrack | null): Promise<void> {
    this.local[role] = track;
    const transceiver = this.publishing[TRACK_ROLES.indexOf(role)];
    if (!transceiver || transceiver.sender.track === track || this.closed) return;
    await transceiver.sender.replaceTrack(track).catch((error) => console.warn('replacing an SFU track failed', error));
    // Sharing a screen (or stopping) renegotiates: see simulcast.ts.
    if (!this.closed) transceiver.direction = publishingDirection(role, track);
  }

  receiveSignal(from: string, signal: Signal): void {
    if (from === SFU_ID && !this.closed) void this.negotiation.receive(signal);
  }

  async received(participantId: string): Promise<Received> {
    const [audio, video] = await Promise.all([
      receivedSome(this.forwarded.get(key(participantId, 'audio'))?.receiver),
      receivedSome(this.forwarded.get(key(participantId, 'video'))?.receiver),
    ]);
    return { audio, video };
  }

  /** Per publisher, the stats of the receivers carrying its tracks (with the
   * transport and candidate pair they share): the link to the SFU as far as
   * this publisher's media is concerned. */
  async stats(): Promise<Map<string, { state: RTCPeerConnectionState; report: ReadonlyMap<string, unknown> }>> {
    const state = this.connection.connectionState;
    const receivers = new Map<string, RTCRtpReceiver[]>();
    for (const { publisher, receiver } of this.forwarded.values()) {
      receivers.set(publisher, [...(receivers.get(publisher) ?? []), receiver]);
    }
    const entries = await Promise.all(
      [...receivers].map(async ([publisher, list]) => {
        const report = new Map<string, unknown>();
        for (const stats of await Promise.all(list.map((receiver) => receiver.getStats()))) {
          stats.forEach((value, id) => report.set(id, value));
        }
        return [publisher, { state, report }] as const;
      }),
    );
    return new Map(entries);
  }

  recover(): void {
    const state = this.connection.connectionState;
    if (state === 'failed' || state === 'disconnected') this.repair();
  }

  setActive(active: boolean): void {
    this.active = active;
    if (active) this.recover();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.repairTimer);
    this.teardown();
  }

  private connect(): void {
    const connection = new RTCPeerConnection({ iceServers: this.iceServers, bundlePolicy: 'max-bundle' });
    this.connection = connection;
    this.publishing = addPublishingTransceivers(connection, this.local);
    const current = () => this.connection === connection && !this.closed;
    connection.addEventListener('track', () => current() && this.sync());
    connection.addEventListener('signalingstatechange', () => {
      if (current() && connection.signalingState === 'stable') this.sync();
    });
    connection.addEventListener('connectionstatechange', () => current() && this.onConnectionState());
    this.negotiation = new PerfectNegotiation(connection, {
      polite: false,
      // The ICE-lite SFU learns this tab's address from its connectivity
      // checks: candidates need not travel.
      send: (signal) => {
        if ('description' in signal) this.events.sendSignal(SFU_ID, signal);
      },
      onError: (error) => console.warn('negotiation with the SFU failed', error),
    });
    this.events.onSfuConnection?.();
    void this.negotiation.offer();
    this.repairAfter(SFU_CONNECT_TIMEOUT_MS);
  }

  /** Brings the reported tracks in line with the connection's transceivers. */
  private sync(): void {
    const msids = parseMsids(this.connection.remoteDescription?.sdp ?? '');
    const now = new Map<string, Forwarded>();
    for (const transceiver of this.connection.getTransceivers()) {
      if (this.publishing.includes(transceiver) || transceiver.mid === null) continue;
      // Stopped (or being stopped) and inactive m-lines carry nothing.
      if (transceiver.direction !== 'recvonly' || transceiver.currentDirection === 'inactive') continue;
      const msid = msids.get(transceiver.mid);
      const origin = msid && trackOrigin(msid);
      if (!origin || origin.publisher === this.selfId) continue;
      now.set(key(origin.publisher, origin.role), { ...origin, track: transceiver.receiver.track, receiver: transceiver.receiver });
    }
    const before = this.forwarded;
    this.forwarded = now;
    for (const [name, gone] of before) {
      if (!now.has(name)) this.events.onTrack(gone.publisher, gone.role, null);
    }
    for (const [name, forwarded] of now) {
      if (before.get(name)?.track !== forwarded.track) {
        this.events.onTrack(forwarded.publisher, forwarded.role, forwarded.track);
      }
    }
  }

  private onConnectionState(): void {
    const state = this.connection.connectionState;
    for (const id of this.others) this.events.onConnectionState(id, state);
    if (state === 'connected') {
      clearTimeout(this.repairTimer);
      this.watchDtls();
    } else if (state === 'failed' || state === 'closed') this.repair();
    else if (state === 'disconnected') this.repairAfter(SFU_DISCONNECTED_GRACE_MS);
  }

  /** When the SFU closes DTLS (it dropped this participant), the connection
   * state stays `connected` for as long as ICE answers: act on the close. */
  private watchDtls(): void {
    const connection = this.connection;
    const transport = this.publishing[0]?.sender.transport;
    if (!transport || this.dtlsWatched.has(transport)) return;
    this.dtlsWatched.add(transport);
    transport.addEventListener('statechange', () => {
      const closed = transport.state === 'closed' || transport.state === 'failed';
      if (closed && this.connection === connection && !this.closed) this.repair();
    });
  }

  private repairAfter(ms: number): void {
    clearTimeout(this.repairTimer);
    const connection = this.connection;
    this.repairTimer = setTimeout(() => {
      if (this.connection === connection && connection.connectionState !== 'connected') this.repair();
    }, ms);
  }

  /** A new connection in place of one that does not work. */
  private repair(): void {
    clearTimeout(this.repairTimer);
    if (this.closed || !this.active) return;
    console.info('connection to the SFU lost: connecting again');
    this.teardown();
    this.connect();
  }

  private teardown(): void {
    this.negotiation.close();
    this.connection.close();
    for (const { publisher, role } of this.forwarded.values()) this.events.onTrack(publisher, role, null);
    this.forwarded = new Map();
  }
}
