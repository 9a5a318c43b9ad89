// Mesh ↔ SFU switching as people see it, with a mesh limit of two and a
// one-second hysteresis: a call of two grows to three and moves to the SFU,
// then shrinks back to two and returns to mesh. Every page checks which
// connections are open, that the remote videos keep decoding, and how long
// the longest freeze of each remote video was across the switch (the
// longest time its tile showed no new frame; media.mjs, `videoGaps`). On
// the SFU each page asks for the simulcast
// layer its tile sizes call for. The tests share one call and run in order.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createRoom, eventually, joinCall, joinPublicRoom, launchBrowser, openPage, register, startServer } from './harness.mjs';
import {
  expectDecodingVideos,
  expectOnMesh,
  expectOnSfu,
  pageNow,
  recordCalls,
  recordVideoFrames,
  useSmallCamera,
  videoGaps,
} from './media.mjs';

/**
 * The longest freeze a switch may cause (the product's target). Runs measure
 * 110–112 ms (printed below), what a 15 fps fake camera's frames measure
 * between them here without any switch; the pages' frame callbacks stall
 * for 133–233 ms on three browsers and two cores.
 */
const MAX_GAP_MS = 500;
/** Frames keep being measured this long after a switch has completed. */
const AFTER_SWITCH_MS = 1500;

let server;
let browser;
let alice;
let bob;
let carol;
/** Per page, the `call.layer` requests it sent and the server's answers, by request id. */
const layerRequests = new Map();

before(async () => {
  server = await startServer({ MESH_MESH_LIMIT: '2', MESH_SFU_HYSTERESIS: '1' });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const tile = (page, name) => page.getByRole('figure', { name, exact: true });

async function person(name) {
  const page = await openPage(browser);
  const layers = { sent: new Map(), answers: new Map() };
  layerRequests.set(page, layers);
  page.on('websocket', (socket) => {
    socket.on('framesent', ({ payload }) => {
      const frame = JSON.parse(payload);
      if (frame.type === 'call.layer') layers.sent.set(frame.id, frame.payload);
    });
    socket.on('framereceived', ({ payload }) => {
      const frame = JSON.parse(payload);
      if (frame.id && layers.sent.has(frame.id)) layers.answers.set(frame.id, frame.type);
    });
  });
  await recordCalls(page);
  await recordVideoFrames(page);
  await useSmallCamera(page, { width: 640, height: 360, frameRate: 15 });
  await register(page, server.url, name);
  return page;
}

/** The layer web/src/call/layers.ts asks for, for a tile this tall. */
function layerFor(cssHeight, pixelRatio) {
  const height = cssHeight * pixelRatio;
  return height <= 135 ? 'low' : height <= 270 ? 'medium' : 'high';
}

/** Each remote camera tile got the layer its height calls for, acknowledged by
 * the server (`high` is the SFU's default and is never sent). */
async function expectLayersAsked(page) {
  const tiles = await page.evaluate(() =>
    [...document.querySelectorAll('figure[data-participant]:not(.tile-screen)')]
      .filter((figure) => !figure.querySelector('video.mirrored') && figure.querySelector('video'))
      .map((figure) => ({ id: figure.dataset.participant, height: figure.getBoundingClientRect().height, ratio: devicePixelRatio })),
  );
  assert.ok(tiles.length > 0);
  await eventually(async () => {
    const { sent, answers } = layerRequests.get(page);
    for (const { id, height, ratio } of tiles) {
      const wanted = layerFor(height, ratio);
      const asked = [...sent].filter(([, request]) => request.publisher === id);
      if (wanted === 'high') {
        assert.equal(asked.length, 0, `no layer asked for a ${height} px tile`);
        continue;
      }
      const last = asked.at(-1);
      assert.equal(last?.[1].max_layer, wanted, `layer asked for a ${height} px tile`);
      assert.equal(answers.get(last[0]), 'ack', 'the server accepted it');
    }
  });
}

/** Prints and checks the longest freeze of every remote video on every page. */
async function reportGaps(label, measured) {
  const lines = [];
  let longest = 0;
  for (const [name, page, since] of measured) {
    for (const [id, { frozen, stalled }] of Object.entries(await videoGaps(page, since))) {
      const who = await page.locator(`figure[data-participant="${id}"] .tile-name`).innerText();
      lines.push(
        `  at ${name}, video of ${who}: frozen ${frozen.longest} ms from +${frozen.at} ms (${frozen.frames} frames); ` +
          `page stalled ${stalled.longest} ms from +${stalled.at} ms`,
      );
      assert.ok(frozen.frames > 0, `${name} was shown frames of ${who}`);
      longest = Math.max(longest, frozen.longest);
    }
  }
  console.log(`switch ${label} longest freeze: ${longest} ms\n${lines.join('\n')}`);
  assert.ok(longest < MAX_GAP_MS, `switch ${label}: froze video for ${longest} ms, over ${MAX_GAP_MS} ms`);
}

test('a call that grows to three moves to the SFU without freezing video', { timeout: 90_000 }, async () => {
  [alice, bob, carol] = await Promise.all([person('alice'), person('bob'), person('carol')]);
  await createRoom(alice, 'growing');
  await joinPublicRoom(bob, 'growing');
  await joinPublicRoom(carol, 'growing');

  await joinCall(alice);
  await joinCall(bob);
  await Promise.all([expectOnMesh(alice, 1), expectOnMesh(bob, 1)]);
  await Promise.all([expectDecodingVideos(alice, 1), expectDecodingVideos(bob, 1)]);
  const since = await Promise.all([alice, bob, carol].map(pageNow));

  // A third participant is over the limit: everyone moves to the SFU.
  await joinCall(carol);
  await Promise.all([alice, bob, carol].map((page) => expectOnSfu(page)));
  await Promise.all([alice, bob, carol].map((page) => expectDecodingVideos(page, 2)));
  await sleep(AFTER_SWITCH_MS);
  for (const [page, others] of [
    [alice, ['bob', 'carol']],
    [bob, ['alice', 'carol']],
    [carol, ['alice', 'bob']],
  ]) {
    for (const name of others) await tile(page, name).locator('video').waitFor();
  }
  await reportGaps('mesh->sfu', [
    ['alice', alice, since[0]],
    ['bob', bob, since[1]],
    ['carol', carol, since[2]],
  ]);
  for (const page of [alice, bob, carol]) await expectLayersAsked(page);
});

test('back to two, the call returns to mesh after the hysteresis without freezing video', { timeout: 60_000 }, async () => {
  const since = await Promise.all([alice, bob].map(pageNow));
  await carol.getByRole('button', { name: 'Leave call' }).click();
  await Promise.all([alice, bob].map((page) => tile(page, 'carol').waitFor({ state: 'detached', timeout: 5000 })));

  await Promise.all([expectOnMesh(alice, 1), expectOnMesh(bob, 1)]);
  await Promise.all([expectDecodingVideos(alice, 1), expectDecodingVideos(bob, 1)]);
  await sleep(AFTER_SWITCH_MS);
  await reportGaps('sfu->mesh', [
    ['alice', alice, since[0]],
    ['bob', bob, since[1]],
  ]);
});
