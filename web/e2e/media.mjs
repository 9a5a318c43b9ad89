// Measuring calls from inside the pages: every RTCPeerConnection a page
// creates is recorded by an init script (the app itself has no test hook),
// and its getStats() says what is really received.

import assert from 'node:assert/strict';
import { eventually } from './harness.mjs';

/** Runs in the page before the app: keeps a list of its peer connections. */
function recordPeerConnections() {
  const Native = window.RTCPeerConnection;
  const connections = [];
  window.RTCPeerConnection = class extends Native {
    constructor(...args) {
      super(...args);
      connections.push(this);
    }
  };
  window.__peerConnections = connections;
}

export async function recordCalls(page) {
  await page.addInitScript(recordPeerConnections);
}

/** Inbound RTP streams of the page's open connections. A stream's role is
 * its transceiver's index (audio, camera, screen), as web/README.md describes. */
export function receivedMedia(page) {
  return page.evaluate(async () => {
    const roles = ['audio', 'video', 'screen'];
    const streams = [];
    for (const [index, connection] of window.__peerConnections.entries()) {
      if (connection.connectionState === 'closed') continue;
      const transceivers = connection.getTransceivers();
      (await connection.getStats()).forEach((stat) => {
        if (stat.type !== 'inbound-rtp') return;
        const role = roles[transceivers.findIndex((transceiver) => transceiver.mid === stat.mid)];
        streams.push({
          key: `${index}/${stat.mid}`,
          role,
          frames: stat.framesDecoded ?? 0,
          bytes: stat.bytesReceived ?? 0,
        });
      });
    }
    return streams;
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until exactly `expected[role]` streams of each role keep flowing over
 * one second: video frames decoded, audio bytes received. */
export async function expectFlowing(page, expected, timeout = 20_000) {
  await eventually(async () => {
    const before = await receivedMedia(page);
    await sleep(1000);
    const after = await receivedMedia(page);
    const flowing = {};
    for (const stream of after) {
      const earlier = before.find((candidate) => candidate.key === stream.key);
      if (!earlier) continue;
      const grew = stream.role === 'audio' ? stream.bytes > earlier.bytes : stream.frames > earlier.frames;
      if (grew) flowing[stream.role] = (flowing[stream.role] ?? 0) + 1;
    }
    for (const [role, count] of Object.entries(expected)) {
      assert.equal(flowing[role] ?? 0, count, `${role} streams flowing on ${page.url()}`);
    }
  }, timeout);
}

/** Runs in the page before the app: asks the fake camera for a small picture
 * (Chromium's default is 640x480 at 30 fps), which keeps many browsers on two
 * cores within their CPU budget. The app's own constraints stay in force
 * otherwise. */
function smallCamera({ width, height, frameRate }) {
  const devices = navigator.mediaDevices;
  if (!devices) return;
  const open = devices.getUserMedia.bind(devices);
  devices.getUserMedia = (constraints = {}) => {
    if (!constraints.video) return open(constraints);
    const video = typeof constraints.video === 'object' ? constraints.video : {};
    return open({
      ...constraints,
      video: { ...video, width: { ideal: width }, height: { ideal: height }, frameRate: { ideal: frameRate, max: frameRate } },
    });
  };
}

export async function useSmallCamera(page, size = { width: 320, height: 180, frameRate: 15 }) {
  await page.addInitScript(smallCamera, size);
}

/** The page's recorded connections: which one goes to the SFU (its answer
 * says ICE-lite) and their states. */
export function connections(page) {
  return page.evaluate(() =>
    window.__peerConnections.map((connection) => ({
      sfu: /a=ice-lite/.test(connection.remoteDescription?.sdp ?? ''),
      state: connection.connectionState,
    })),
  );
}

/** Waits until the page's only open connection is one to the SFU, connected. */
export async function expectOnSfu(page, timeout = 20_000) {
  await eventually(async () => {
    const open = (await connections(page)).filter((connection) => connection.state !== 'closed');
    assert.deepEqual(open, [{ sfu: true, state: 'connected' }], `connections of ${page.url()}`);
  }, timeout);
}

/** Waits until the page has `peers` connected mesh connections and nothing else open. */
export async function expectOnMesh(page, peers, timeout = 20_000) {
  await eventually(async () => {
    const open = (await connections(page)).filter((connection) => connection.state !== 'closed');
    assert.deepEqual(open, Array(peers).fill({ sfu: false, state: 'connected' }), `connections of ${page.url()}`);
  }, timeout);
}

/** Per inbound video stream of the open connections: frames decoded and
 * packets received so far, and whose it is (the SFU's msid, when it has one). */
function decodedVideo(page) {
  return page.evaluate(async () => {
    const streams = {};
    for (const [index, connection] of window.__peerConnections.entries()) {
      if (connection.connectionState === 'closed') continue;
      const msids = {};
      let mid = null;
      for (const line of (connection.remoteDescription?.sdp ?? '').split('\r\n')) {
        if (line.startsWith('m=')) mid = null;
        else if (line.startsWith('a=mid:')) mid = line.slice(6);
        else if (line.startsWith('a=msid:') && mid) msids[mid] = line.slice(7).split(' ')[1];
      }
      (await connection.getStats()).forEach((stat) => {
        if (stat.type !== 'inbound-rtp' || stat.kind !== 'video') return;
        streams[`${index}/${stat.mid}`] = {
          frames: stat.framesDecoded ?? 0,
          packets: stat.packetsReceived ?? 0,
          keyframes: stat.keyFramesDecoded ?? 0,
          plis: stat.pliCount ?? 0,
          track: msids[stat.mid] ?? '',
        };
      });
    }
    return streams;
  });
}

/** Waits until exactly `count` inbound videos decode frames over one second. */
export async function expectDecodingVideos(page, count, timeout = 20_000) {
  await eventually(async () => {
    const before = await decodedVideo(page);
    await sleep(1000);
    const after = await decodedVideo(page);
    const growing = Object.keys(after).filter((key) => after[key].frames > (before[key]?.frames ?? Infinity));
    assert.equal(growing.length, count, `decoding videos on ${page.url()}: ${JSON.stringify(after)}`);
  }, timeout);
}

/** Runs in the page before the app: notes when each remote participant's
 * video element presents a frame to the page (requestVideoFrameCallback),
 * keyed by the tile's participant id, whichever <video> element the tile
 * uses. The callback runs on the page's main thread, in its rendering steps. */
function recordFrames() {
  const frames = {};
  window.__frames = frames;
  const watch = (video) => {
    if (video.__watched) return;
    video.__watched = true;
    const onFrame = (now) => {
      const tile = video.closest('figure[data-participant]');
      // Remote cameras only: not this tab's own (mirrored) video, nor screens,
      // nor a replacement still waiting unseen beneath the video it replaces.
      const seen = !video.classList.contains('mirrored') && !video.hasAttribute('data-standby');
      if (tile && seen && !tile.classList.contains('tile-screen')) {
        (frames[tile.dataset.participant] ??= []).push(now);
      }
      if (video.isConnected) video.requestVideoFrameCallback(onFrame);
    };
    video.requestVideoFrameCallback(onFrame);
  };
  new MutationObserver(() => document.querySelectorAll('video').forEach(watch)).observe(document, {
    childList: true,
    subtree: true,
  });
}

/** Runs in the page before the app: notes when each remote camera track
 * delivers a frame, and which track each remote participant's tile shows
 * from when.
 *
 * A busy page's main thread can stall for hundreds of milliseconds while its
 * videos keep playing: Chromium composites video frames off the main thread,
 * so requestVideoFrameCallback (recordFrames) misses frames the person sees.
 * The frames are timed in a worker instead, from a MediaStreamTrackProcessor
 * on a clone of each remote camera track. Which element a tile shows is
 * the DOM's business, so that is timed on the main thread. */
function recordShownFrames() {
  const delivered = {};
  const shown = {};
  window.__delivered = delivered;
  window.__shown = shown;
  // Served by the test (recordVideoFrames): the app's CSP admits only
  // same-origin scripts.
  const worker = new Worker('/__frame-timer.js');
  worker.onmessage = ({ data: { track, at } }) => (delivered[track] ??= []).push(at - performance.timeOrigin);
  // By track object: a mesh connection made again receives a camera as a new
  // track with the old one's id.
  const keys = new WeakMap();
  let timed = 0;
  const time = (track) => {
    if (keys.has(track)) return;
    const key = ++timed;
    keys.set(track, key);
    const { readable } = new MediaStreamTrackProcessor({ track: track.clone() });
    worker.postMessage({ track: key, readable }, [readable]);
  };
  const remoteCameraTile = (video) => {
    const tile = video.closest('figure[data-participant]');
    return tile && !tile.classList.contains('tile-screen') && !video.classList.contains('mirrored') ? tile : null;
  };
  const look = () => {
    const now = performance.now();
    for (const tile of document.querySelectorAll('figure[data-participant]:not(.tile-screen)')) {
      const video = tile.querySelector('video:not([data-standby])');
      const remote = video && !video.classList.contains('mirrored');
      // A tile that showed a remote camera and now shows none (camera off:
      // the avatar) shows no track; this tab's own tile is never recorded.
      if (!remote && !shown[tile.dataset.participant]) continue;
      const track = (remote && keys.get(video.srcObject?.getVideoTracks()[0])) ?? null;
      const history = (shown[tile.dataset.participant] ??= []);
      if (history.at(-1)?.track !== track) history.push({ from: now, track });
    }
  };
  const srcObject = Object.getOwnPropertyDescriptor(HTMLMediaElement.prototype, 'srcObject');
  Object.defineProperty(HTMLMediaElement.prototype, 'srcObject', {
    ...srcObject,
    set(stream) {
      srcObject.set.call(this, stream);
      const track = stream?.getVideoTracks()[0];
      if (track && this instanceof HTMLVideoElement && remoteCameraTile(this)) time(track);
      look();
    },
  });
  new MutationObserver(look).observe(document, {
    childList: true,
    subtree: true,
    attributes: true,
    attributeFilter: ['data-standby'],
  });
}

/** The worker of recordShownFrames: times each frame of the tracks it is
 * given, on its own thread. */
const FRAME_TIMER = `onmessage = async ({ data: { track, readable } }) => {
  const reader = readable.getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    value.close();
    postMessage({ track, at: performance.timeOrigin + performance.now() });
  }
};`;

export async function recordVideoFrames(page) {
  await page.context().route('**/__frame-timer.js', (route) =>
    route.fulfill({ contentType: 'text/javascript', body: FRAME_TIMER }),
  );
  await page.addInitScript(recordFrames);
  await page.addInitScript(recordShownFrames);
}

/** The page's clock, to mark the start of a measurement. */
export function pageNow(page) {
  return page.evaluate(() => performance.now());
}

/**
 * Per remote participant shown on the page, since `since` (page clock) and
 * counting up to now, so a video that stopped shows as one long gap; a tile
 * that appeared after `since` counts from its first frame. Each is
 * `{ longest, at, frames }`, `at` being when the longest gap began, in ms
 * after `since`:
 *
 * - `frozen`: the longest time the tile showed no new frame, as the person
 *   sees it — the frames of the track the tile showed at each moment, and
 *   the moment it changed to a track that already had a frame (the handover
 *   shows that frame at once); `frames` counts the frames only;
 * - `stalled`: the longest time between two of the page's frame callbacks
 *   for the tile, which also counts its main thread not running.
 */
export function videoGaps(page, since) {
  return page.evaluate((since) => {
    const now = performance.now();
    const during = (time) => time >= since && time <= now;
    /** The longest interval between `changes` (a new picture on screen),
     * and how many of `frames` came during the measurement. */
    const longestGap = (changes, frames = changes) => {
      const sorted = [...changes].sort((a, b) => a - b);
      const before = sorted.filter((time) => time < since).at(-1);
      const series = [...(before === undefined ? [] : [before]), ...sorted.filter(during), now];
      let [longest, at] = [0, 0];
      for (let i = 1; i < series.length; i++) {
        if (series[i] - series[i - 1] > longest) [longest, at] = [series[i] - series[i - 1], series[i - 1] - since];
      }
      return { longest: Math.round(longest), at: Math.round(at), frames: frames.filter(during).length };
    };
    const gaps = {};
    for (const [id, history] of Object.entries(window.__shown)) {
      if (!document.querySelector(`figure[data-participant="${id}"]`)) continue;
      const frames = [];
      const handovers = [];
      history.forEach(({ from, track }, index) => {
        const until = history[index + 1]?.from ?? Infinity;
        const delivered = window.__delivered[track] ?? [];
        if (delivered.some((time) => time <= from)) handovers.push(from);
        frames.push(...delivered.filter((time) => time > from && time < until));
      });
      gaps[id] = {
        frozen: longestGap([...handovers, ...frames], frames),
        stalled: longestGap(window.__frames[id] ?? []),
      };
    }
    return gaps;
  }, since);
}

/** The candidates the page's SFU connection selected: protocol and type of
 * each end. */
export function sfuCandidates(page) {
  return page.evaluate(async () => {
    const connection = window.__peerConnections.find(
      (candidate) => candidate.connectionState !== 'closed' && /a=ice-lite/.test(candidate.remoteDescription?.sdp ?? ''),
    );
    if (!connection) return null;
    const stats = new Map();
    (await connection.getStats()).forEach((stat) => stats.set(stat.id, stat));
    const transport = [...stats.values()].find((stat) => stat.type === 'transport' && stat.selectedCandidatePairId);
    const pair = transport && stats.get(transport.selectedCandidatePairId);
    if (!pair) return null;
    const describe = (candidate) => ({ protocol: candidate?.protocol, type: candidate?.candidateType });
    return { local: describe(stats.get(pair.localCandidateId)), remote: describe(stats.get(pair.remoteCandidateId)) };
  });
}
