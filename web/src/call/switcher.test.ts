import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { CallParticipant, Signal, TopologyMode } from '../proto';
import type { LocalTracks, MediaPath, MediaPathEvents, Received, TrackRole } from './mediaPath';
import {
  isReady,
  OLD_PATH_LINGER_MS,
  SWITCH_GIVE_UP_MS,
  SWITCH_POLL_MS,
  TopologySwitcher,
  type SwitcherEvents,
} from './switcher';

const SELF = 'me';
const NOTHING: Received = { audio: false, video: false };
const DECODED: Received = { audio: true, video: true };

/** A media path reduced to what the switcher sees of it. */
class FakePath implements MediaPath {
  participants: string[] = [];
  closed = false;
  active = true;
  signals: [string, Signal][] = [];
  local: Partial<Record<TrackRole, MediaStreamTrack | null>>;
  readonly arrived = new Map<string, Received>();

  constructor(
    readonly mode: TopologyMode,
    readonly events: MediaPathEvents,
    local: LocalTracks,
  ) {
    this.local = { ...local };
  }

  setParticipants(ids: readonly string[]): void {
    this.participants = [...ids];
  }
  async setLocalTrack(role: TrackRole, track: MediaStreamTrack | null): Promise<void> {
    this.local[role] = track;
  }
  receiveSignal(from: string, signal: Signal): void {
    this.signals.push([from, signal]);
  }
  async received(id: string): Promise<Received> {
    return this.arrived.get(id) ?? NOTHING;
  }
  async stats() {
    return new Map(this.participants.map((id) => [id, { state: 'connected' as const, report: new Map() }]));
  }
  recover(): void {}
  close(): void {
    this.closed = true;
  }
  setActive(active: boolean): void {
    this.active = active;
  }

  /** The path gets a participant's audio and camera tracks. */
  deliver(id: string): { audio: MediaStreamTrack; video: MediaStreamTrack } {
    const tracks = { audio: track(`${this.mode}-${id}-audio`), video: track(`${this.mode}-${id}-video`) };
    this.events.onTrack(id, 'audio', tracks.audio);
    this.events.onTrack(id, 'video', tracks.video);
    return tracks;
  }
}

const track = (id: string) => ({ id }) as unknown as MediaStreamTrack;

function participant(id: string, media = { audio: true, video: true, screen: false }): CallParticipant {
  return { participant_id: id, user_id: 1, username: id, media, joined_at: 0 };
}

function setup(mode: TopologyMode = 'mesh', epoch = 1) {
  const opened: FakePath[] = [];
  const shown = new Map<string, Partial<Record<TrackRole, MediaStreamTrack | null>>>();
  const stuck: [string[], TopologyMode][] = [];
  const events: SwitcherEvents = {
    onTrack: (id, role, t) => shown.set(id, { ...shown.get(id), [role]: t }),
    onConnectionState: vi.fn(),
    sendSignal: vi.fn(),
    onStuck: (ids, to) => stuck.push([ids, to]),
    onPathClosed: vi.fn(),
  };
  const local: LocalTracks = { audio: track('mic'), video: null, screen: null };
  const switcher = new TopologySwitcher({
    selfId: SELF,
    topology: { mode, epoch },
    local,
    open: (pathMode, pathLocal, pathEvents) => {
      const path = new FakePath(pathMode, pathEvents, pathLocal);
      opened.push(path);
      return path;
    },
    events,
  });
  const path = (pathMode: TopologyMode) => opened.filter((p) => p.mode === pathMode).at(-1);
  return { switcher, opened, shown, stuck, events, path };
}

describe('readiness', () => {
  it('waits for the camera, or the audio without one, or nothing without either', () => {
    const media = (audio: boolean, video: boolean) => ({ audio, video, screen: false });
    expect(isReady(media(true, true), { audio: true, video: false })).toBe(false);
    expect(isReady(media(true, true), { audio: false, video: true })).toBe(true);
    expect(isReady(media(true, false), { audio: true, video: false })).toBe(true);
    expect(isReady(media(true, false), NOTHING)).toBe(false);
    expect(isReady(media(false, false), NOTHING)).toBe(true);
  });
});

describe('topology switcher', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('plays everyone from the path of the mode it starts in', () => {
    const { switcher, opened, shown, path } = setup('mesh');
    switcher.follow([participant(SELF), participant('a')], { mode: 'mesh', epoch: 1 });
    expect(opened.map((p) => p.mode)).toEqual(['mesh']);
    expect(path('mesh')?.participants).toEqual([SELF, 'a']);
    const tracks = path('mesh')!.deliver('a');
    expect(shown.get('a')).toEqual(tracks);
  });

  it('switches each participant once its camera decodes on the new path, then closes the old one', async () => {
    const { switcher, shown, path, events } = setup('mesh');
    const everyone = [participant(SELF), participant('a'), participant('b')];
    switcher.follow(everyone, { mode: 'mesh', epoch: 1 });
    const meshA = path('mesh')!.deliver('a');
    const meshB = path('mesh')!.deliver('b');

    switcher.follow(everyone, { mode: 'sfu', epoch: 2 });
    const sfu = path('sfu')!;
    expect(sfu.participants).toEqual([SELF, 'a', 'b']);
    expect(path('mesh')!.active).toBe(false);
    const sfuA = sfu.deliver('a');
    sfu.deliver('b');
    // Tracks arrived but nothing decoded yet: mesh still plays.
    await vi.advanceTimersByTimeAsync(SWITCH_POLL_MS * 3);
    expect(shown.get('a')).toEqual(meshA);

    sfu.arrived.set('a', { audio: true, video: false });
    await vi.advanceTimersByTimeAsync(SWITCH_POLL_MS * 2);
    expect(shown.get('a')).toEqual(meshA);

    sfu.arrived.set('a', DECODED);
    await vi.advanceTimersByTimeAsync(SWITCH_POLL_MS * 2);
    expect(shown.get('a')).toEqual({ ...sfuA, screen: null });
    expect(shown.get('b')).toEqual(meshB);
    expect(switcher.playedVia('b')).toBe('mesh');

    sfu.arrived.set('b', DECODED);
    await vi.advanceTimersByTimeAsync(SWITCH_POLL_MS * 2);
    expect(switcher.playedVia('b')).toBe('sfu');
    // Both are on the SFU; the mesh lingers a moment for the others to swap too.
    expect(path('mesh')!.closed).toBe(false);
    await vi.advanceTimersByTimeAsync(OLD_PATH_LINGER_MS);
    expect(path('mesh')!.closed).toBe(true);
    expect(events.onPathClosed).toHaveBeenCalledWith('mesh');
    expect(switcher.openModes()).toEqual(['sfu']);
  });

  it('ignores tracks and connection states of a path that does not play that participant', async () => {
    const { switcher, shown, path, events } = setup('mesh');
    const everyone = [participant(SELF), participant('a')];
    switcher.follow(everyone, { mode: 'mesh', epoch: 1 });
    const meshA = path('mesh')!.deliver('a');
    switcher.follow(everyone, { mode: 'sfu', epoch: 2 });
    path('sfu')!.deliver('a');
    path('sfu')!.events.onConnectionState('a', 'connecting');
    expect(shown.get('a')).toEqual(meshA);
    expect(events.onConnectionState).not.toHaveBeenCalled();
    path('mesh')!.events.onConnectionState('a', 'connected');
    expect(events.onConnectionState).toHaveBeenCalledWith('a', 'connected');
  });

  it('ignores a stale or repeated epoch', async () => {
    const { switcher, opened } = setup('mesh', 5);
    const everyone = [participant(SELF), participant('a')];
    switcher.follow(everyone, { mode: 'sfu', epoch: 4 });
    switcher.follow(everyone, { mode: 'sfu', epoch: 5 });
    expect(switcher.mode).toBe('mesh');
    expect(opened.map((p) => p.mode)).toEqual(['mesh']);
    switcher.follow(everyone, { mode: 'sfu', epoch: 6 });
    expect(switcher.mode).toBe('sfu');
    // A late state of the previous epoch changes nothing.
    switcher.follow(everyone, { mode: 'mesh', epoch: 5 });
    expect(switcher.mode).toBe('sfu');
  });

  it('switches back before the first switch ended, keeping the path still in use', async () => {
    const { switcher, shown, path } = setup('mesh');
    const everyone = [participant(SELF), participant('a'), participant('b')];
    switcher.follow(everyone, { mode: 'mesh', epoch: 1 });
    const mesh = path('mesh')!;
    const meshA = mesh.deliver('a');
    mesh.deliver('b');
    mesh.arrived.set('a', DECODED);
    mesh.arrived.set('b', DECODED);

    switcher.follow(everyone, { mode: 'sfu', epoch: 2 });
    const sfu = path('sfu')!;
    sfu.deliver('a');
    sfu.arrived.set('a', DECODED);
    await vi.advanceTimersByTimeAsync(SWITCH_POLL_MS * 2);
    expect(switcher.playedVia('a')).toBe('sfu');
    expect(switcher.playedVia('b')).toBe('mesh');

    switcher.follow(everyone, { mode: 'mesh', epoch: 3 });
    expect(mesh.active).toBe(true);
    expect(sfu.active).toBe(false);
    await vi.advanceTimersByTimeAsync(SWITCH_POLL_MS * 2);
    expect(switcher.playedVia('a')).toBe('mesh');
    expect(shown.get('a')).toEqual({ ...meshA, screen: null });
    await vi.advanceTimersByTimeAsync(OLD_PATH_LINGER_MS);
    expect(sfu.closed).toBe(true);
    expect(mesh.closed).toBe(false);
    expect(switcher.openModes()).toEqual(['mesh']);
  });

  it('puts someone who joins during a switch on the new path only, and drops who leaves everywhere', async () => {
    const { switcher, path } = setup('mesh');
    switcher.follow([participant(SELF), participant('a'), participant('b')], { mode: 'mesh', epoch: 1 });
    switcher.follow([participant(SELF), participant('a'), participant('b')], { mode: 'sfu', epoch: 2 });
    switcher.follow([participant(SELF), participant('a'), participant('b'), participant('c')], {
      mode: 'sfu',
      epoch: 2,
    });
    expect(path('sfu')!.participants).toEqual([SELF, 'a', 'b', 'c']);
    expect(path('mesh')!.participants).toEqual([SELF, 'a', 'b']);
    expect(switcher.playedVia('c')).toBe('sfu');

    switcher.follow([participant(SELF), participant('a'), participant('c')], { mode: 'sfu', epoch: 2 });
    expect(path('sfu')!.participants).toEqual([SELF, 'a', 'c']);
    expect(path('mesh')!.participants).toEqual([SELF, 'a']);
    expect(switcher.playedVia('b')).toBeUndefined();

    // The last one still on mesh leaves: nothing keeps the mesh open.
    switcher.follow([participant(SELF), participant('c')], { mode: 'sfu', epoch: 2 });
    await vi.advanceTimersByTimeAsync(OLD_PATH_LINGER_MS + SWITCH_POLL_MS);
    expect(path('mesh')!.closed).toBe(true);
  });

  it('keeps a participant the new path cannot reach on the old one, says so, and swaps when it can', async () => {
    const { switcher, path, stuck } = setup('mesh');
    const everyone = [participant(SELF), participant('a'), participant('b')];
    switcher.follow(everyone, { mode: 'mesh', epoch: 1 });
    const mesh = path('mesh')!;
    switcher.follow(everyone, { mode: 'sfu', epoch: 2 });
    const sfu = path('sfu')!;
    sfu.arrived.set('a', DECODED);

    await vi.advanceTimersByTimeAsync(SWITCH_GIVE_UP_MS - SWITCH_POLL_MS * 2);
    expect(stuck).toEqual([]);
    await vi.advanceTimersByTimeAsync(SWITCH_POLL_MS * 3);
    expect(stuck).toEqual([[['b'], 'sfu']]);
    expect(switcher.playedVia('a')).toBe('sfu');
    expect(switcher.playedVia('b')).toBe('mesh');
    // The mesh now only carries b, and stays open for it.
    expect(mesh.participants).toEqual([SELF, 'b']);
    await vi.advanceTimersByTimeAsync(OLD_PATH_LINGER_MS * 4);
    expect(mesh.closed).toBe(false);
    expect(stuck).toHaveLength(1);

    // b gets through after all.
    sfu.arrived.set('b', DECODED);
    await vi.advanceTimersByTimeAsync(2000 + OLD_PATH_LINGER_MS);
    expect(switcher.playedVia('b')).toBe('sfu');
    expect(mesh.closed).toBe(true);
  });

  it('routes signals from the SFU to the SFU path and the others to the mesh', async () => {
    const { switcher, path } = setup('mesh');
    const everyone = [participant(SELF), participant('a')];
    switcher.follow(everyone, { mode: 'mesh', epoch: 1 });
    switcher.follow(everyone, { mode: 'sfu', epoch: 2 });
    const offer: Signal = { description: { type: 'offer', sdp: 'v=0' } };
    switcher.receiveSignal('sfu', offer);
    switcher.receiveSignal('a', offer);
    expect(path('sfu')!.signals).toEqual([['sfu', offer]]);
    expect(path('mesh')!.signals).toEqual([['a', offer]]);

    path('sfu')!.arrived.set('a', DECODED);
    await vi.advanceTimersByTimeAsync(SWITCH_POLL_MS + OLD_PATH_LINGER_MS);
    expect(path('mesh')!.closed).toBe(true);
    // A late mesh signal does not bring a closed mesh back.
    switcher.receiveSignal('a', offer);
    expect(path('mesh')!.signals).toHaveLength(1);
    expect(switcher.openModes()).toEqual(['sfu']);
  });

  it('sends local tracks on every open path and opens new paths with them', async () => {
    const { switcher, path } = setup('mesh');
    switcher.follow([participant(SELF)], { mode: 'mesh', epoch: 1 });
    const camera = track('camera');
    await switcher.setLocalTrack('video', camera);
    expect(path('mesh')!.local.video).toBe(camera);
    switcher.follow([participant(SELF)], { mode: 'sfu', epoch: 2 });
    expect(path('sfu')!.local).toEqual({ audio: track('mic'), video: camera, screen: null });
    await switcher.setLocalTrack('screen', track('screen'));
    expect(path('sfu')!.local.screen).toEqual(track('screen'));
    expect(path('mesh')!.local.screen).toEqual(track('screen'));
  });

  it('reports stats from the path each participant is played from, and closes everything', async () => {
    const { switcher, path, events } = setup('mesh');
    const everyone = [participant(SELF), participant('a'), participant('b')];
    switcher.follow(everyone, { mode: 'mesh', epoch: 1 });
    switcher.follow(everyone, { mode: 'sfu', epoch: 2 });
    path('sfu')!.arrived.set('a', DECODED);
    await vi.advanceTimersByTimeAsync(SWITCH_POLL_MS * 2);
    const stats = await switcher.stats();
    expect(stats.get('a')?.via).toBe('sfu');
    expect(stats.get('b')?.via).toBe('mesh');
    expect(stats.has(SELF)).toBe(false);
    switcher.close();
    expect(path('sfu')!.closed && path('mesh')!.closed).toBe(true);
    expect(events.onPathClosed).toHaveBeenCalledTimes(2);
  });
});
