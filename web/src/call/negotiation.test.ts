import { describe, expect, it, vi } from 'vitest';
import type { Signal } from '../proto';
import { isPolite, PerfectNegotiation, type NegotiablePeer } from './negotiation';

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

/** A peer connection reduced to its signaling state machine (JSEP), with
 * implicit rollback when an offer arrives in have-local-offer. */
class FakePeer extends EventTarget implements NegotiablePeer {
  signalingState: RTCSignalingState = 'stable';
  iceConnectionState: RTCIceConnectionState = 'new';
  localDescription: { type: RTCSdpType; sdp: string } | null = null;
  remoteDescription: { type: RTCSdpType; sdp: string } | null = null;
  candidates: RTCIceCandidateInit[] = [];
  restarts = 0;
  rollbacks = 0;
  private made = 0;

  constructor(readonly name: string) {
    super();
  }

  async setLocalDescription(): Promise<void> {
    await tick();
    if (this.signalingState === 'have-remote-offer') {
      this.localDescription = { type: 'answer', sdp: `${this.name}-answer-${++this.made}` };
      this.signalingState = 'stable';
    } else {
      this.localDescription = { type: 'offer', sdp: `${this.name}-offer-${++this.made}` };
      this.signalingState = 'have-local-offer';
    }
  }

  async setRemoteDescription(description: RTCSessionDescriptionInit): Promise<void> {
    await tick();
    if (description.type === 'offer') {
      if (this.signalingState === 'have-local-offer') {
        this.rollbacks++;
        this.localDescription = null;
      }
      this.signalingState = 'have-remote-offer';
    } else if (description.type === 'answer') {
      if (this.signalingState !== 'have-local-offer') throw new DOMException('wrong state', 'InvalidStateError');
      this.signalingState = 'stable';
    }
    this.remoteDescription = { type: description.type, sdp: description.sdp ?? '' };
  }

  async addIceCandidate(candidate: RTCIceCandidateInit): Promise<void> {
    if (!this.remoteDescription) throw new DOMException('no remote description', 'InvalidStateError');
    if (candidate.candidate?.includes('bad')) throw new DOMException('unknown ufrag', 'OperationError');
    this.candidates.push(candidate);
  }

  restartIce(): void {
    this.restarts++;
  }

  needsNegotiation(): void {
    this.dispatchEvent(new Event('negotiationneeded'));
  }

  gather(candidate: string): void {
    const event = Object.assign(new Event('icecandidate'), {
      candidate: { candidate, toJSON: () => ({ candidate, sdpMid: '0', sdpMLineIndex: 0, usernameFragment: null }) },
    });
    this.dispatchEvent(event);
  }

  iceState(state: RTCIceConnectionState): void {
    this.iceConnectionState = state;
    this.dispatchEvent(new Event('iceconnectionstatechange'));
  }
}

/** Two peers joined by an in-order signaling channel, as the server relays. */
function pair() {
  const impolite = new FakePeer('a');
  const polite = new FakePeer('b');
  const errors: unknown[] = [];
  const sent: { from: string; signal: Signal }[] = [];
  let delivery = Promise.resolve();
  const link = (from: FakePeer, polite: boolean, to: () => PerfectNegotiation) =>
    new PerfectNegotiation(from, {
      polite,
      send: (signal) => {
        sent.push({ from: from.name, signal });
        delivery = delivery.then(tick).then(() => to().receive(signal));
      },
      onError: (error) => errors.push(error),
    });
  const a: PerfectNegotiation = link(impolite, false, () => b);
  const b: PerfectNegotiation = link(polite, true, () => a);
  const settled = async () => {
    for (let i = 0; i < 20; i++) {
      await delivery;
      await tick();
    }
  };
  return { impolite, polite, a, b, errors, sent, settled };
}

describe('isPolite', () => {
  it('makes the lower participant id impolite', () => {
    expect(isPolite('abc', 'Abc')).toBe(true);
    expect(isPolite('abc', 'abd')).toBe(false);
  });
});

describe('PerfectNegotiation', () => {
  it('answers an offer and ends stable on both sides', async () => {
    const { impolite, polite, errors, settled } = pair();
    impolite.needsNegotiation();
    await settled();
    expect(impolite.signalingState).toBe('stable');
    expect(polite.signalingState).toBe('stable');
    expect(polite.remoteDescription?.sdp).toBe('a-offer-1');
    expect(impolite.remoteDescription?.sdp).toBe('b-answer-1');
    expect(errors).toEqual([]);
  });

  it('offers when asked, without waiting for negotiationneeded', async () => {
    const { impolite, polite, a, errors, sent, settled } = pair();
    await a.offer();
    await settled();
    expect(sent.map(({ from, signal }) => [from, 'description' in signal && signal.description.type])).toEqual([
      ['a', 'offer'],
      ['b', 'answer'],
    ]);
    expect(impolite.signalingState).toBe('stable');
    expect(polite.signalingState).toBe('stable');
    expect(errors).toEqual([]);
  });

  it('makes no offer when asked while not stable', async () => {
    const { impolite, a, errors, sent } = pair();
    impolite.signalingState = 'have-remote-offer';
    await a.offer();
    expect(sent).toEqual([]);
    expect(impolite.localDescription).toBeNull();
    expect(errors).toEqual([]);
  });

  it('resolves glare: the impolite side ignores, the polite side rolls back and answers', async () => {
    const { impolite, polite, errors, settled } = pair();
    impolite.needsNegotiation();
    polite.needsNegotiation();
    await settled();
    expect(polite.rollbacks).toBe(1);
    expect(impolite.rollbacks).toBe(0);
    expect(impolite.signalingState).toBe('stable');
    expect(polite.signalingState).toBe('stable');
    expect(polite.remoteDescription?.sdp).toBe('a-offer-1');
    expect(impolite.remoteDescription?.type).toBe('answer');
    expect(errors).toEqual([]);
  });

  it('lets the polite side offer when nothing collides', async () => {
    const { impolite, polite, settled } = pair();
    polite.needsNegotiation();
    await settled();
    expect(impolite.remoteDescription?.sdp).toBe('b-offer-1');
    expect(polite.remoteDescription?.sdp).toBe('a-answer-1');
    expect([impolite.signalingState, polite.signalingState]).toEqual(['stable', 'stable']);
  });

  it('runs the beforeAnswer hook between the remote offer and the answer', async () => {
    const peer = new FakePeer('b');
    const states: RTCSignalingState[] = [];
    const negotiation = new PerfectNegotiation(peer, {
      polite: true,
      send: () => {},
      beforeAnswer: () => {
        states.push(peer.signalingState);
      },
    });
    await negotiation.receive({ description: { type: 'offer', sdp: 'x' } });
    expect(states).toEqual(['have-remote-offer']);
    expect(peer.localDescription?.type).toBe('answer');
  });

  it('keeps candidates that arrive before the remote description, in order', async () => {
    const peer = new FakePeer('b');
    const negotiation = new PerfectNegotiation(peer, { polite: true, send: () => {} });
    void negotiation.receive({ candidate: { candidate: 'candidate:1' } });
    void negotiation.receive({ candidate: { candidate: 'candidate:2' } });
    await negotiation.receive({ description: { type: 'offer', sdp: 'x' } });
    expect(peer.candidates.map((c) => c.candidate)).toEqual(['candidate:1', 'candidate:2']);
    await negotiation.receive({ candidate: { candidate: 'candidate:3' } });
    expect(peer.candidates).toHaveLength(3);
  });

  it('drops the candidates of an ignored offer without reporting an error', async () => {
    const peer = new FakePeer('a');
    const onError = vi.fn();
    const negotiation = new PerfectNegotiation(peer, { polite: false, send: () => {}, onError });
    peer.needsNegotiation();
    await negotiation.receive({ description: { type: 'offer', sdp: 'colliding' } });
    expect(peer.remoteDescription).toBeNull();
    await negotiation.receive({ candidate: { candidate: 'candidate:of-the-ignored-offer' } });
    await negotiation.receive({ description: { type: 'answer', sdp: 'y' } });
    expect(peer.signalingState).toBe('stable');
    expect(peer.candidates).toEqual([]);
    expect(onError).not.toHaveBeenCalled();
  });

  it('reports a candidate that cannot be added when no offer was ignored', async () => {
    const peer = new FakePeer('b');
    const onError = vi.fn();
    const negotiation = new PerfectNegotiation(peer, { polite: true, send: () => {}, onError });
    await negotiation.receive({ description: { type: 'offer', sdp: 'x' } });
    await negotiation.receive({ candidate: { candidate: 'candidate:bad' } });
    expect(onError).toHaveBeenCalledOnce();
  });

  it('trickles local candidates without null fields, and not the end-of-candidates marker', () => {
    const peer = new FakePeer('a');
    const send = vi.fn();
    new PerfectNegotiation(peer, { polite: false, send });
    peer.gather('candidate:1 1 udp 1 127.0.0.1 5000 typ host');
    peer.gather('');
    expect(send.mock.calls).toEqual([
      [{ candidate: { candidate: 'candidate:1 1 udp 1 127.0.0.1 5000 typ host', sdpMid: '0', sdpMLineIndex: 0 } }],
    ]);
  });

  it('restarts ICE on failure on the impolite side only', () => {
    const { impolite, polite } = pair();
    impolite.iceState('failed');
    polite.iceState('failed');
    expect(impolite.restarts).toBe(1);
    expect(polite.restarts).toBe(0);
  });

  it('restarts a stalled connection on request (after signaling came back)', () => {
    const { impolite, a } = pair();
    impolite.iceState('connected');
    a.restartIfStalled();
    expect(impolite.restarts).toBe(0);
    impolite.iceState('disconnected');
    a.restartIfStalled();
    expect(impolite.restarts).toBe(1);
  });

  it('sends nothing more once closed', async () => {
    const peer = new FakePeer('a');
    const send = vi.fn();
    const negotiation = new PerfectNegotiation(peer, { polite: false, send });
    negotiation.close();
    peer.needsNegotiation();
    peer.gather('candidate:1');
    await tick();
    await tick();
    expect(send).not.toHaveBeenCalled();
  });
});
