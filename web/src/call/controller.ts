// The call this tab is in, from the pre-join preview to leaving: joining and
// resuming after a dropped WebSocket, routing signals to the media path,
// connection quality and speaking detection. Components call the exported
// functions and read everything else from the call store.

import { realtime } from '../api/socket';
import { t } from '../i18n';
import type { CallJoined, CallRing, CallState, MediaState, SignalReceived } from '../proto';
import { initialCall, LOCAL, useCall } from '../store/call';
import { notify } from '../store/toasts';
import { currentDevice, listDevices, watchDevices } from './devices';
import { browserEnvironment, environmentProblem, mediaProblem } from './errors';
import { openDevices } from './localMedia';
import type { LocalTracks, MediaPath, MediaPathEvents, TrackRole } from './mediaPath';
import { MeshPath } from './meshPath';
import { classifyQuality, QUALITY_INTERVAL_MS, readStats, toSample, type StatsCounters } from './quality';
import { SignalOutbox } from './signalOutbox';
import { SpeakingMonitor } from './speaking';

const RETRY_SIGNALS_MS = 1000;
const RING_MS = 30_000;

/** What exists only while this tab is in a call or about to join one. */
interface Live {
  roomId: number;
  path: MediaPath | null;
  outbox: SignalOutbox;
  speaking: SpeakingMonitor;
  /** Everyone in the call at the last state followed. */
  participants: string[];
  /** Remote participants whose connection is down, told to the user once. */
  lost: Set<string>;
  counters: Map<string, StatsCounters>;
  timers: ReturnType<typeof setInterval>[];
  stopWatchingDevices(): void;
}

let live: Live | null = null;

const store = () => useCall.getState();

export type CallEvent = { type: 'call.state'; payload: CallState } | { type: 'call.ring'; payload: CallRing } | {
  type: 'call.signal';
  payload: SignalReceived;
};

/** Applies a call event pushed by the server. */
export function handleCallEvent(event: CallEvent): void {
  if (event.type === 'call.state') applyState(event.payload);
  else if (event.type === 'call.ring') ring(event.payload);
  else if (live?.path && live.roomId === event.payload.room_id) {
    live.path.receiveSignal(event.payload.from, event.payload.signal);
  }
}

/** Opens the pre-join preview of a room's call (leaving any other call).
 * Run it from a click: audio analysis may only start after a gesture. */
export async function prepareCall(roomId: number): Promise<boolean> {
  const problem = environmentProblem(browserEnvironment());
  if (problem) {
    notify.error(t(`call.error.${problem}`));
    return false;
  }
  store().dismissRing(roomId);
  const session = store().session;
  if (session?.roomId === roomId) return true;
  if (session) leaveCall();
  live = {
    roomId,
    path: null,
    outbox: new SignalOutbox((to, signal) =>
      realtime.request({ type: 'call.signal', payload: { room_id: roomId, to, signal } }),
    ),
    speaking: new SpeakingMonitor((key, speaking) => store().setSpeaking(key, speaking)),
    participants: [],
    lost: new Set(),
    counters: new Map(),
    timers: [],
    stopWatchingDevices: watchDevices(() => void refreshDevices()),
  };
  const current = live;
  current.speaking.start();
  useCall.setState({ session: { roomId, phase: 'prejoin', participantId: null }, media: initialCall.media });
  const opened = await openDevices({ audio: true, video: true }, store().devices);
  if (opened.error) notify.error(t(`call.error.${mediaProblem(opened.error)}`));
  if (live !== current) {
    opened.audio?.stop();
    opened.video?.stop();
    return false;
  }
  await setLocalTrack('audio', opened.audio);
  await setLocalTrack('video', opened.video);
  // Told to the others too if the person already clicked "Join now".
  announceMedia({ audio: opened.audio !== null, video: opened.video !== null });
  await refreshDevices();
  return true;
}

/** Joins the call previewed in the pre-join. */
export async function joinCall(): Promise<void> {
  const session = store().session;
  if (session?.phase !== 'prejoin') return;
  useCall.setState({ session: { ...session, phase: 'joining' } });
  const media = store().media;
  try {
    const answer = await realtime.request({ type: 'call.join', payload: { room_id: session.roomId, media } });
    if (answer.type !== 'call.joined') return;
    enterCall(answer.payload);
    // The camera or microphone may have finished opening (or failed) meanwhile.
    if (!sameMedia(media, store().media)) announceMedia({});
  } catch (error) {
    if (store().session?.phase === 'joining') useCall.setState({ session: { ...session, phase: 'prejoin' } });
    notify.failure(error);
  }
}

/** Prepares and joins at once (accepting a ring). */
export async function joinNow(roomId: number): Promise<void> {
  if (await prepareCall(roomId)) await joinCall();
}

export function leaveCall(): void {
  const session = store().session;
  if (!session) return;
  if (session.phase !== 'prejoin') {
    realtime.request({ type: 'call.leave', payload: { room_id: session.roomId } }).catch(() => {});
  }
  endCall();
}

/** The tab is going away: say so while the socket is still open. */
export function leaveOnPageHide(): void {
  if (store().session?.phase === 'joined') leaveCall();
}

/** The WebSocket dropped; the call's media keeps flowing meanwhile. */
export function signalingLost(): void {
  const session = store().session;
  if (session?.phase !== 'joined') return;
  useCall.setState({ session: { ...session, phase: 'resuming' } });
  notify.warning(t('call.serverLost'));
}

/** The WebSocket is back: forget call states (the server sends the current
 * ones again) and take our place in the call again. */
export async function signalingBack(): Promise<void> {
  store().forgetStates();
  const session = store().session;
  if (session?.phase !== 'resuming' && session?.phase !== 'joined') return;
  try {
    const answer = await realtime.request({
      type: 'call.join',
      payload: { room_id: session.roomId, media: store().media, resume: session.participantId ?? undefined },
    });
    if (answer.type !== 'call.joined') return;
    enterCall(answer.payload);
    // The server tells only this tab about a resume. Announcing our media
    // (which may have changed meanwhile) tells everyone we are back, so they
    // retry the signals they could not send us.
    announceMedia({});
    if (session.phase === 'resuming') notify.success(t('call.serverRestored'));
  } catch (error) {
    endCall();
    notify.failure(error);
  }
}

/** The room is gone for this user (left, removed, deleted). */
export function endCallIn(roomId: number): void {
  if (store().session?.roomId === roomId) endCall();
}

/** Forgets everything (logging out). */
export function resetCall(): void {
  endCall();
  useCall.setState(initialCall);
}

/** Sets what this tab sends for `role`; the previous track is stopped. */
export async function setLocalTrack(role: TrackRole, track: MediaStreamTrack | null): Promise<void> {
  const previous = store().local[role] ?? null;
  if (previous === track) return;
  const local = { ...store().local };
  if (track) local[role] = track;
  else delete local[role];
  useCall.setState({ local });
  if (role === 'audio') live?.speaking.watch(LOCAL, track);
  await live?.path?.setLocalTrack(role, track);
  previous?.stop();
}

/** Records what this tab sends and tells the others when in the call. */
export function announceMedia(change: Partial<MediaState>): void {
  const media = { ...store().media, ...change };
  useCall.setState({ media });
  const session = store().session;
  if (session?.phase === 'joined') {
    realtime.request({ type: 'call.media', payload: { room_id: session.roomId, media } }).catch(() => {});
  }
}

export async function refreshDevices(): Promise<void> {
  const lists = await listDevices((number) => t('devices.unnamed', { number })).catch(() => null);
  if (!lists) return;
  const { devices, local } = store();
  useCall.setState({
    devices: {
      ...lists,
      camera: currentDevice(lists.cameras, devices.camera, local.video?.getSettings().deviceId),
      microphone: currentDevice(lists.microphones, devices.microphone, local.audio?.getSettings().deviceId),
      speaker: currentDevice(lists.speakers, devices.speaker),
    },
  });
}

function sameMedia(a: MediaState, b: MediaState): boolean {
  return a.audio === b.audio && a.video === b.video && a.screen === b.screen;
}

function enterCall(joined: CallJoined): void {
  const session = store().session;
  if (!live || !session) return;
  const resumed = live.path !== null && session.participantId === joined.participant_id;
  if (!resumed) {
    // First join, or the resume grace had passed: a new participant.
    live.path?.close();
    live.participants = [];
    live.lost.clear();
    live.counters.clear();
    useCall.setState({ remote: {}, quality: {} });
    live.path = new MeshPath(joined.participant_id, joined.ice_servers, localTracks(), pathEvents(live));
  }
  useCall.setState({ session: { ...session, phase: 'joined', participantId: joined.participant_id } });
  store().applyState(joined.call);
  const state = store().states[session.roomId];
  if (state) followState(state);
  if (resumed) live.path?.recover();
  if (live.timers.length === 0) {
    const current = live;
    live.timers.push(
      setInterval(() => void sampleQuality(current), QUALITY_INTERVAL_MS),
      setInterval(() => current.outbox.holding && current.outbox.retry(), RETRY_SIGNALS_MS),
    );
  }
}

function applyState(state: CallState): void {
  if (!store().applyState(state)) return;
  const session = store().session;
  if (session?.roomId === state.room_id && session.phase === 'joined') followState(state);
}

/** Brings the media path in line with who is in the call. */
function followState(state: CallState): void {
  const session = store().session;
  if (!live?.path || !session) return;
  const ids = state.participants.map((participant) => participant.participant_id);
  if (!ids.includes(session.participantId ?? '')) {
    endCall();
    notify.warning(t('call.ended'));
    return;
  }
  live.path.setParticipants(ids);
  for (const id of live.participants) {
    if (ids.includes(id)) continue;
    live.outbox.forget(id);
    live.lost.delete(id);
    live.counters.delete(id);
    store().forgetParticipant(id);
  }
  live.participants = ids;
  // A target that was reconnecting may be back.
  live.outbox.retry();
}

function ring(ring: CallRing): void {
  if (store().session?.roomId === ring.room_id) return;
  store().ring(ring);
  setTimeout(() => {
    if (store().rings.includes(ring)) store().dismissRing(ring.room_id);
  }, RING_MS);
}

function localTracks(): LocalTracks {
  const { audio, video, screen } = store().local;
  return { audio: audio ?? null, video: video ?? null, screen: screen ?? null };
}

function participantName(id: string): string {
  const state = live ? store().states[live.roomId] : undefined;
  return state?.participants.find((participant) => participant.participant_id === id)?.username ?? '';
}

function pathEvents(current: Live): MediaPathEvents {
  return {
    onTrack(participantId, role, track) {
      if (live !== current) return;
      store().setRemoteTrack(participantId, role, track);
      if (role === 'audio') current.speaking.watch(participantId, track);
    },
    onConnectionState(participantId, state) {
      if (live !== current) return;
      const down = state === 'disconnected' || state === 'failed';
      if (down && !current.lost.has(participantId)) {
        current.lost.add(participantId);
        useCall.setState({ quality: { ...store().quality, [participantId]: 'disconnected' } });
        notify.warning(t('call.peerLost', { name: participantName(participantId) }));
      } else if (state === 'connected' && current.lost.delete(participantId)) {
        notify.success(t('call.peerRestored', { name: participantName(participantId) }));
      }
    },
    sendSignal(to, signal) {
      current.outbox.send(to, signal);
    },
  };
}

async function sampleQuality(current: Live): Promise<void> {
  const stats = await current.path?.stats();
  if (!stats || live !== current) return;
  const quality = { ...store().quality };
  for (const [id, { state, report }] of stats) {
    // Until the first connection there is nothing to measure yet.
    if (state === 'new' || state === 'connecting') continue;
    const reading = readStats(report);
    quality[id] = classifyQuality(toSample(state === 'connected', reading, current.counters.get(id)));
    current.counters.set(id, reading.counters);
  }
  useCall.setState({ quality });
}

/** Stops everything this tab was doing for the call. */
function endCall(): void {
  if (live) {
    live.timers.forEach(clearInterval);
    live.path?.close();
    live.speaking.close();
    live.stopWatchingDevices();
    live = null;
  }
  for (const track of Object.values(store().local)) track?.stop();
  useCall.setState({
    session: null,
    media: initialCall.media,
    local: {},
    remote: {},
    quality: {},
    speaking: {},
  });
}
