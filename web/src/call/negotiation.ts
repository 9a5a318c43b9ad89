// Perfect negotiation (W3C WebRTC §10.7, docs/protocol.md "Negotiation rules")
// on one RTCPeerConnection, whatever is at the other end: a participant (mesh)
// or, later, the SFU. Either side may offer at any time; on a collision the
// impolite side ignores the incoming offer and the polite side rolls back and
// answers. Incoming signals are applied one at a time, in order, and ICE
// candidates that arrive before a remote description wait for it.

import type { IceCandidate, SessionDescription, Signal } from '../proto';

/** The part of RTCPeerConnection that negotiation uses (a fake in tests). */
export interface NegotiablePeer extends EventTarget {
  readonly signalingState: RTCSignalingState;
  readonly iceConnectionState: RTCIceConnectionState;
  readonly localDescription: { type: RTCSdpType; sdp: string } | null;
  readonly remoteDescription: unknown;
  setLocalDescription(description?: RTCSessionDescriptionInit): Promise<void>;
  setRemoteDescription(description: RTCSessionDescriptionInit): Promise<void>;
  addIceCandidate(candidate: RTCIceCandidateInit): Promise<void>;
  restartIce(): void;
}

export interface NegotiationOptions {
  /** The polite side yields on a collision; see `isPolite`. */
  polite: boolean;
  send(signal: Signal): void;
  /** Runs after a remote offer is applied and before the answer is made,
   * so that local tracks can be attached to the transceivers it created. */
  beforeAnswer?(): void | Promise<void>;
  onError?(error: unknown): void;
}

/** The participant whose id sorts lower is impolite (protocol rule). */
export function isPolite(selfId: string, remoteId: string): boolean {
  return selfId > remoteId;
}

export class PerfectNegotiation {
  private makingOffer = false;
  private ignoreOffer = false;
  private settingRemoteAnswer = false;
  private closed = false;
  private pendingCandidates: RTCIceCandidateInit[] = [];
  /** Incoming signals are applied strictly in order. */
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly peer: NegotiablePeer,
    private readonly options: NegotiationOptions,
  ) {
    peer.addEventListener('negotiationneeded', this.onNegotiationNeeded);
    peer.addEventListener('icecandidate', this.onIceCandidate);
    peer.addEventListener('iceconnectionstatechange', this.onIceState);
  }

  get polite(): boolean {
    return this.options.polite;
  }

  /** Applies a signal from the other side; resolves once it is applied. */
  receive(signal: Signal): Promise<void> {
    this.queue = this.queue.then(() => this.apply(signal)).catch((error) => this.fail(error));
    return this.queue;
  }

  /** Restarts ICE if it failed or stalled, on the side that is meant to. */
  restartIfStalled(): void {
    const state = this.peer.iceConnectionState;
    if (!this.options.polite && (state === 'failed' || state === 'disconnected')) this.peer.restartIce();
  }

  close(): void {
    this.closed = true;
    this.peer.removeEventListener('negotiationneeded', this.onNegotiationNeeded);
    this.peer.removeEventListener('icecandidate', this.onIceCandidate);
    this.peer.removeEventListener('iceconnectionstatechange', this.onIceState);
  }

  /** Makes an offer now. A new connection whose transceivers are all in
   * place need not wait for `negotiationneeded`: that event is a task of its
   * own, which a page busy drawing the call it just joined runs late. */
  async offer(): Promise<void> {
    // Only from stable: in have-remote-offer this would make an answer.
    if (this.peer.signalingState !== 'stable' || this.closed) return;
    try {
      this.makingOffer = true;
      await this.peer.setLocalDescription();
      this.sendLocalDescription();
    } catch (error) {
      this.fail(error);
    } finally {
      this.makingOffer = false;
    }
  }

  private readonly onNegotiationNeeded = () => void this.offer();

  private readonly onIceCandidate = (event: Event) => {
    const candidate = (event as RTCPeerConnectionIceEvent).candidate;
    // A null or empty candidate only marks the end of gathering.
    if (!candidate?.candidate || this.closed) return;
    this.options.send({ candidate: wireCandidate(candidate.toJSON()) });
  };

  private readonly onIceState = () => {
    if (this.peer.iceConnectionState === 'failed') this.restartIfStalled();
  };

  private async apply(signal: Signal): Promise<void> {
    if (this.closed) return;
    if ('description' in signal) await this.applyDescription(signal.description);
    else await this.applyCandidate(signal.candidate);
  }

  private async applyDescription(description: SessionDescription): Promise<void> {
    const readyForOffer =
      !this.makingOffer && (this.peer.signalingState === 'stable' || this.settingRemoteAnswer);
    const collision = description.type === 'offer' && !readyForOffer;
    this.ignoreOffer = !this.options.polite && collision;
    if (this.ignoreOffer) return;

    this.settingRemoteAnswer = description.type === 'answer';
    try {
      // On a collision the polite side rolls back implicitly here.
      await this.peer.setRemoteDescription(description);
    } finally {
      this.settingRemoteAnswer = false;
    }
    await this.flushCandidates();
    if (description.type === 'offer') {
      await this.options.beforeAnswer?.();
      await this.peer.setLocalDescription();
      this.sendLocalDescription();
    }
  }

  private async applyCandidate(candidate: IceCandidate): Promise<void> {
    // Candidates of an offer this side ignored are dropped (by addCandidate).
    if (!this.peer.remoteDescription && !this.ignoreOffer) {
      this.pendingCandidates.push(candidate);
      return;
    }
    await this.addCandidate(candidate);
  }

  private async flushCandidates(): Promise<void> {
    const waiting = this.pendingCandidates;
    this.pendingCandidates = [];
    for (const candidate of waiting) await this.addCandidate(candidate);
  }

  private async addCandidate(candidate: RTCIceCandidateInit): Promise<void> {
    try {
      await this.peer.addIceCandidate(candidate);
    } catch (error) {
      // Candidates of an offer this side ignored cannot be added; that is fine.
      if (!this.ignoreOffer) throw error;
    }
  }

  private sendLocalDescription(): void {
    const local = this.peer.localDescription;
    if (!local || this.closed) return;
    this.options.send({ description: { type: local.type, sdp: local.sdp } });
  }

  private fail(error: unknown): void {
    if (!this.closed) this.options.onError?.(error);
  }
}

/** The candidate as the protocol carries it: absent fields left out, not null. */
function wireCandidate(init: RTCIceCandidateInit): IceCandidate {
  const candidate: IceCandidate = { candidate: init.candidate ?? '' };
  if (init.sdpMid != null) candidate.sdpMid = init.sdpMid;
  if (init.sdpMLineIndex != null) candidate.sdpMLineIndex = init.sdpMLineIndex;
  if (init.usernameFragment != null) candidate.usernameFragment = init.usernameFragment;
  return candidate;
}
