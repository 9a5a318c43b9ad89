// The freeze measure itself (media.mjs, `videoGaps`), which the switch tests
// and `mesh-bench switch` report: in a call of two, a video whose sender
// stops for a while must show as frozen for that long, and a page whose main
// thread is busy while the video keeps coming must show as stalled, not
// frozen. Chromium composites video off the main thread: the person sees
// it move (the page's own count of presented frames goes on rising).

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { growAndShrink, openParticipants } from './growth.mjs';
import { launchBrowser, startServer } from './harness.mjs';
import { pageNow, videoGaps } from './media.mjs';

/** How long the sender stops, and how long the receiving page is kept busy. */
const PAUSE_MS = 700;
/** A 15 fps camera's frames, as delivered here, are at most about 110 ms apart. */
const FLOWING_MS = 300;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

let server;
let browser;
let ann;
let ben;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  const people = await openParticipants(browser, server.url, ['ann', 'ben']);
  // Two people: one mesh call, nothing to switch.
  await growAndShrink(people, { meshLimit: 4, hysteresisS: 1 });
  [ann, ben] = people.map(({ page }) => page);
  await sleep(1000);
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** Ben's gaps of Ann's video since `since`. */
async function gapsOfAnn(since) {
  const gaps = Object.values(await videoGaps(ben, since));
  assert.equal(gaps.length, 1, 'ben shows one remote video');
  return gaps[0];
}

test('a video whose sender stops counts as frozen for that long', { timeout: 60_000 }, async () => {
  const since = await pageNow(ben);
  await ann.evaluate(async (pause) => {
    const connection = window.__peerConnections.find((candidate) => candidate.connectionState === 'connected');
    const sender = connection.getSenders().find((candidate) => candidate.track?.kind === 'video');
    const camera = sender.track;
    await sender.replaceTrack(null);
    await new Promise((resolve) => setTimeout(resolve, pause));
    await sender.replaceTrack(camera);
  }, PAUSE_MS);
  await sleep(1000);
  const { frozen, stalled } = await gapsOfAnn(since);
  assert.ok(frozen.longest >= PAUSE_MS - 50, `frozen ${frozen.longest} ms while nothing came for ${PAUSE_MS} ms`);
  assert.ok(stalled.longest >= PAUSE_MS - 50, `the page saw no frame for ${stalled.longest} ms`);
});

test('a busy page whose video keeps playing counts as stalled, not frozen', { timeout: 60_000 }, async () => {
  const since = await pageNow(ben);
  const presented = await ben.evaluate((busy) => {
    const video = [...document.querySelectorAll('figure[data-participant] video')].find(
      (candidate) => !candidate.classList.contains('mirrored'),
    );
    const next = () => new Promise((resolve) => video.requestVideoFrameCallback((_, frame) => resolve(frame.presentedFrames)));
    return next().then((before) => {
      const start = performance.now();
      while (performance.now() - start < busy);
      return next().then((after) => after - before);
    });
  }, PAUSE_MS);
  await sleep(1000);
  const { frozen, stalled } = await gapsOfAnn(since);
  assert.ok(presented > 2, `Chromium presented ${presented} frames while the main thread was busy`);
  assert.ok(stalled.longest >= PAUSE_MS - 50, `stalled ${stalled.longest} ms while the main thread was busy ${PAUSE_MS} ms`);
  assert.ok(frozen.longest < FLOWING_MS, `frozen ${frozen.longest} ms while the video kept coming`);
});
