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
