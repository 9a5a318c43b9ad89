// A call grows from two people to six and back with the default mesh limit
// of four: it moves to the SFU when the fifth joins and returns to mesh
// (after a one-second hysteresis) when it is back to four. At every step each
// page decodes every other camera and nobody is dropped; the longest freeze
// of each switch is measured and printed (growth.mjs), and so is each
// newcomer's time to its first remote frame.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { growAndShrink, openParticipants } from './growth.mjs';
import { launchBrowser, startServer } from './harness.mjs';

const MESH_LIMIT = 4;
const HYSTERESIS_S = 1;
/**
 * The longest freeze a switch may cause here. The product target is 500 ms,
 * asserted for a call of three (topology.test.mjs). Here four browsers each
 * bring up an SFU connection with three simulcast encoders beside their
 * three mesh ones, on the same two cores as two more browsers and the
 * server: runs measured 124–463 ms, so the test holds the line at 1 s ("the
 * call never stops"), room for a machine busy with other work, and prints
 * the figure; `mesh-bench switch` reports it against the target.
 */
const MAX_GAP_MS = 1000;

let server;
let browser;

before(async () => {
  server = await startServer({ MESH_MESH_LIMIT: String(MESH_LIMIT), MESH_SFU_HYSTERESIS: String(HYSTERESIS_S) });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('a call grows from two to six and back without dropping anyone', { timeout: 300_000 }, async () => {
  const people = await openParticipants(browser, server.url, ['ann', 'ben', 'cat', 'dan', 'eve', 'fay']);
  const { figures } = await growAndShrink(people, { meshLimit: MESH_LIMIT, hysteresisS: HYSTERESIS_S, say: console.log });
  assert.equal(figures.switch_gap_ms_to_sfu.length, 1, 'one switch to the SFU');
  assert.equal(figures.switch_gap_ms_to_mesh.length, 1, 'one switch back to mesh');
  assert.equal(figures.first_frame_ms_mesh.length, MESH_LIMIT - 1);
  assert.equal(figures.first_frame_ms_sfu.length, 6 - MESH_LIMIT);
  for (const gap of [...figures.switch_gap_ms_to_sfu, ...figures.switch_gap_ms_to_mesh]) {
    assert.ok(gap < MAX_GAP_MS, `a switch froze video for ${gap} ms`);
  }
});
