import { beforeEach, describe, expect, it } from 'vitest';
import type { CallState } from '../proto';
import { initialCall, isNewer, ongoingCall, useCall } from './call';

function state(revision: number, usernames: string[], roomId = 3): CallState {
  return {
    room_id: roomId,
    revision,
    topology: { mode: 'mesh', epoch: 1 },
    participants: usernames.map((username, index) => ({
      participant_id: `p-${username}`,
      user_id: index + 1,
      username,
      media: { audio: true, video: true, screen: false },
      joined_at: 1,
    })),
  };
}

const call = () => useCall.getState();

describe('call state revisions', () => {
  beforeEach(() => useCall.setState(initialCall));

  it('compares revisions', () => {
    expect(isNewer(state(5, []), undefined)).toBe(true);
    expect(isNewer(state(5, []), state(4, []))).toBe(true);
    expect(isNewer(state(5, []), state(5, []))).toBe(false);
    expect(isNewer(state(4, []), state(5, []))).toBe(false);
  });

  it('keeps the highest revision: a late, older state is ignored', () => {
    expect(call().applyState(state(41, ['alice', 'bob']))).toBe(true);
    expect(call().applyState(state(40, ['alice']))).toBe(false);
    expect(call().states[3].participants.map((p) => p.username)).toEqual(['alice', 'bob']);
    expect(call().applyState(state(42, ['alice', 'bob', 'carol']))).toBe(true);
    expect(call().states[3].revision).toBe(42);
  });

  it('tracks rooms separately', () => {
    call().applyState(state(10, ['alice'], 1));
    call().applyState(state(5, ['bob'], 2));
    expect(ongoingCall(call().states, 1)?.participants[0].username).toBe('alice');
    expect(ongoingCall(call().states, 2)?.participants[0].username).toBe('bob');
  });

  it('treats an empty participant list as an ended call, and drops its ring', () => {
    call().ring({ room_id: 3, user_id: 1, username: 'alice' });
    call().applyState(state(7, ['alice']));
    expect(call().rings).toHaveLength(1);
    call().applyState(state(8, []));
    expect(ongoingCall(call().states, 3)).toBeUndefined();
    expect(call().rings).toEqual([]);
  });

  it('accepts any revision again once states are forgotten (after a reconnect)', () => {
    call().applyState(state(900, ['alice']));
    call().forgetStates();
    expect(call().applyState(state(3, ['bob']))).toBe(true);
  });
});

describe('remote participants', () => {
  beforeEach(() => useCall.setState(initialCall));

  it('collects tracks per participant and forgets them together', () => {
    const track = { kind: 'video' } as MediaStreamTrack;
    call().setRemoteTrack('p1', 'video', track);
    call().setRemoteTrack('p1', 'screen', track);
    call().setRemoteTrack('p1', 'screen', null);
    call().setSpeaking('p1', true);
    expect(call().remote.p1).toEqual({ video: track });
    call().forgetParticipant('p1');
    expect(call().remote).toEqual({});
    expect(call().speaking).toEqual({});
  });

  it('keeps one ring per room', () => {
    call().ring({ room_id: 3, user_id: 1, username: 'alice' });
    call().ring({ room_id: 3, user_id: 2, username: 'bob' });
    call().ring({ room_id: 4, user_id: 1, username: 'alice' });
    expect(call().rings.map((ring) => [ring.room_id, ring.username])).toEqual([
      [3, 'bob'],
      [4, 'alice'],
    ]);
    call().dismissRing(3);
    expect(call().rings.map((ring) => ring.room_id)).toEqual([4]);
  });
});
