// The call this tab is in, from the pre-join preview to leaving: joining and
// resuming after a dropped WebSocket, routing signals to the media paths
// (mesh or SFU, switched by switcher.ts), connection quality, speaking
// detection, the SFU's active speaker and the simulcast layers asked of it.
// Components call the exported functions and read everything else from the
// call store.

import { realtime } from '../api/socket';
import { t } from '../i18n';
import type { ActiveSpeaker, CallJoined, CallRing, CallState, MediaState, SignalReceived } from '../proto';
import { initialCall, LOCAL, useCall } from '../store/call';
import { notify } from '../store/toasts';
import { currentDevice, listDevices, watchDevices } from './devices';
import { browserEnvironment, environmentProblem, mediaProblem } from './errors';
import { openDevices } from './localMedia';
import { LayerPlanner, layerForTileHeight } from './layers';
import type { LocalTracks, TrackRole } from './mediaPath';
import { MeshPath } from './meshPath';
import { classifyQuality, QUALITY_INTERVAL_MS, readStats, toSample, type StatsCounters } from './quality';
import { SFU_ID, SfuPath } from './sfuPath';
import { SignalOutbox } from './signalOutbox';
import { SpeakingMonitor } from './speaking';
import { TopologySwitcher, type Mode, type SwitcherEvents } from './switcher';

const RETRY_SIGNALS_MS = 1000;
const RING_MS = 30_000;
/** How often wanted simulcast layers are sent to the SFU (each is throttled too). */
const LAYER_FLUSH_MS = 500;

/** What exists only while this tab is in a call or about to join one. */
interface Live {
  roomId: number;
  /** The mesh and SFU paths, and which one plays whom. */
  path: TopologySwitcher | null;
  outbox: SignalOutbox;
  /** Simulcast layers wanted of each publisher, from its tile's height. */
  layers: LayerPlanner;
  speaking: SpeakingMonitor;
  /** Everyone in the call at the last state followed. */
  participants: string[];
  /** Remote participants whose connection is down, told to the user once. */
  lost: Set<string>;
  /** The last stats counters per participant, and the path they came from. */
  counters: Map<string, { via: Mode; counters: StatsCounters }>;
  timers: ReturnType<typeof setInterval>[];
  stopWatchingDevices(): void;
}

let live: Live | null = null;

const store = () => useCall.getState();

export type CallEvent =
  | { type: 'call.state'; payload: CallState }
  | { type: 'call.ring'; payload: CallRing }
  | { type: 'call.signal'; payload: SignalReceived }
  | { type: 'call.speaker'; payload: ActiveSpeaker };

/** Applies a call event pushed by the server. */
export function handleCallEvent(event: CallEvent): void {
  if (event.type === 'call.state') applyState(event.payload);
  else if (event.type === 'call.ring') ring(event.payload);
  else if (event.type === 'call.speaker') {
    if (live?.roomId === event.payload.room_id) useCall.setState({ activeSpeaker: event.payload.participant_id });
  } else if (live?.path && live.roomId === event.payload.room_id) {
    live.path.receiveSignal(event.payload.from, event.payload.signal);
  }
}

/** A remote participant's camera tile has this height (CSS pixels): in SFU
 * mode, the simulcast layer asked for follows it. */
export function tileResized(participantId: string, cssHeight: number): void {
  live?.layers.want(participantId, layerForTileHeight(cssHeight, window.devicePixelRatio || 1));
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
    layers: new LayerPlanner(),
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
    useCall.setState({ remote: {}, quality: {}, activeSpeaker: null });
    const { participant_id: selfId, ice_servers: iceServers } = joined;
    live.path = new TopologySwitcher({
      selfId,
      topology: joined.call.topology,
      local: localTracks(),
      open: (mode, local, events) =>
        mode === 'sfu' ? new SfuPath(selfId, iceServers, local, events) : new MeshPath(selfId, iceServers, local, events),
      events: pathEvents(live),
    });
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
      setInterval(() => flushLayers(current), LAYER_FLUSH_MS),
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
  live.path.follow(state.participants, state.topology);
  if (live.path.mode === 'mesh' && store().activeSpeaker !== null) useCall.setState({ activeSpeaker: null });
  for (const id of live.participants) {
    if (ids.includes(id)) continue;
    live.outbox.forget(id);
    live.lost.delete(id);
    live.counters.delete(id);
    live.layers.forget(id);
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

function participantNames(ids: string[]): string {
  return ids.map(participantName).filter(Boolean).join(', ');
}

function pathEvents(current: Live): SwitcherEvents {
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
    onSfuConnection() {
      // A fresh SFU connection: signals held for the previous one are stale,
      // and the SFU forwards the default layer again until told otherwise.
      current.outbox.forget(SFU_ID);
      current.layers.reset();
    },
    onPathClosed(mode) {
      if (mode === 'sfu') current.outbox.forget(SFU_ID);
    },
    onStuck(ids, mode) {
      if (live !== current) return;
      const names = participantNames(ids);
      notify.warning(t(mode === 'sfu' ? 'call.sfuUnreachable' : 'call.directUnreachable', { names }));
    },
  };
}

/** Sends the SFU the layers wanted that changed (SFU mode only). */
function flushLayers(current: Live): void {
  if (live !== current || current.path?.mode !== 'sfu' || store().session?.phase !== 'joined') return;
  for (const { publisher, layer } of current.layers.due(Date.now())) {
    realtime
      .request({ type: 'call.layer', payload: { room_id: current.roomId, publisher, max_layer: layer } })
      .catch(() => current.layers.failed(publisher, layer));
  }
}

async function sampleQuality(current: Live): Promise<void> {
  const stats = await current.path?.stats();
  if (!stats || live !== current) return;
  const quality = { ...store().quality };
  for (const [id, { state, report, via }] of stats) {
    // Until the first connection there is nothing to measure yet.
    if (state === 'new' || state === 'connecting') continue;
    const reading = readStats(report);
    // Counters of another path say nothing about this one's losses.
    const previous = current.counters.get(id);
    const counters = previous?.via === via ? previous.counters : undefined;
    quality[id] = classifyQuality(toSample(state === 'connected', reading, counters));
    current.counters.set(id, { via, counters: reading.counters });
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
    activeSpeaker: null,
  });
}
