// Calls on the SFU (the room's owner sets `call_topology: "sfu"`): a
// participant whose browser may not use UDP at all still gets media, over
// ICE-TCP, and the SFU's active speaker is highlighted; a shared screen
// reaches the others; six participants each receive the five others. Tina
// runs in a Chromium of her own, which may only use TCP and whose fake
// microphone plays a steady tone — Chromium's default fake microphone beeps
// for a few milliseconds twice a second, never long enough to count as
// speech. The others share one Chromium. The fake cameras send 320x180 at
// 15 fps so that six browsers fit on two cores. The tests share one call and
// run in order.

import assert from 'node:assert/strict';
import { writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { createRoom, eventually, joinCall, joinPublicRoom, launchBrowser, openPage, register, startServer } from './harness.mjs';
import { expectDecodingVideos, expectOnSfu, recordCalls, sfuCandidates, useSmallCamera } from './media.mjs';

const PASSWORD = 'correct horse battery';

let server;
let browser;
let tcpBrowser;
let scratch;
let roomId;
/** Everyone in the call, by name. */
const pages = new Map();
/** Requests the server refused (`error` frames), as `name: code message`. */
const refusals = [];
let refused = () => {};
/** Settles (rejecting) as soon as the server refuses a request of any page. */
const aRefusal = new Promise((_, reject) => {
  refused = () => reject(new Error(`the server refused requests:\n${refusals.join('\n')}`));
});
aRefusal.catch(() => {});

/** Waits for `work`, failing at once if the server refuses a request meanwhile. */
function unlessRefused(work) {
  return Promise.race([work, aRefusal]);
}

/** One second of a 440 Hz tone at -12 dBFS, 48 kHz mono PCM (Chromium loops it). */
function toneWav() {
  const rate = 48_000;
  const samples = rate;
  const data = Buffer.alloc(samples * 2);
  for (let i = 0; i < samples; i++) data.writeInt16LE(Math.round(0.25 * 32767 * Math.sin((2 * Math.PI * 440 * i) / rate)), i * 2);
  const header = Buffer.alloc(44);
  header.write('RIFF', 0);
  header.writeUInt32LE(36 + data.length, 4);
  header.write('WAVEfmt ', 8);
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20); // PCM
  header.writeUInt16LE(1, 22); // mono
  header.writeUInt32LE(rate, 24);
  header.writeUInt32LE(rate * 2, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36);
  header.writeUInt32LE(data.length, 40);
  return Buffer.concat([header, data]);
}

before(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), 'mesh-e2e-sfu-'));
  const tone = path.join(scratch, 'tone.wav');
  await writeFile(tone, toneWav());
  server = await startServer();
  browser = await launchBrowser();
  tcpBrowser = await launchBrowser({
    args: ['--webrtc-ip-handling-policy=disable_non_proxied_udp', `--use-file-for-fake-audio-capture=${tone}`],
  });
});

after(async () => {
  await tcpBrowser?.close();
  await browser?.close();
  await server?.stop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

const tile = (page, name) => page.getByRole('figure', { name, exact: true });

async function person(name, inBrowser = browser) {
  const page = await openPage(inBrowser);
  page.on('websocket', (socket) =>
    socket.on('framereceived', ({ payload }) => {
      const frame = JSON.parse(payload);
      if (frame.type !== 'error') return;
      refusals.push(`${name}: ${frame.payload.code} ${frame.payload.message}`);
      refused();
    }),
  );
  await recordCalls(page);
  await useSmallCamera(page);
  await register(page, server.url, name);
  pages.set(name, page);
  return page;
}

/** The owner makes the room's calls use the SFU, through the REST API. */
async function useSfu(owner) {
  const login = await fetch(`${server.url}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ login: owner, password: PASSWORD }),
  });
  assert.equal(login.status, 200);
  const { access_token: token } = await login.json();
  const patch = await fetch(`${server.url}/api/v1/rooms/${roomId}`, {
    method: 'PATCH',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ call_topology: 'sfu' }),
  });
  assert.equal(patch.status, 200);
  assert.equal((await patch.json()).call_topology, 'sfu');
}

test('a participant whose browser may not use UDP gets media through the SFU over TCP', { timeout: 90_000 }, async () => {
  const [alice, tina] = await Promise.all([person('alice'), person('tina', tcpBrowser)]);
  roomId = await createRoom(alice, 'all-hands');
  await useSfu('alice');
  await joinPublicRoom(tina, 'all-hands');

  await joinCall(alice);
  await joinCall(tina);
  await unlessRefused(Promise.all([expectOnSfu(alice), expectOnSfu(tina)]));
  await unlessRefused(Promise.all([expectDecodingVideos(alice, 1), expectDecodingVideos(tina, 1)]));

  assert.deepEqual(await sfuCandidates(tina), {
    local: { protocol: 'tcp', type: 'prflx' },
    remote: { protocol: 'tcp', type: 'host' },
  });
  assert.deepEqual((await sfuCandidates(alice))?.local.protocol, 'udp');

  // Tina's steady tone makes her the active speaker, highlighted in SFU mode
  // (the server names the speaker when it changes, so this is checked on the
  // pages in the call at that moment).
  await tile(alice, 'tina').and(alice.locator('.tile-active-speaker')).waitFor();
  await tile(tina, 'tina (you)').and(tina.locator('.tile-active-speaker')).waitFor();
  assert.equal(await alice.locator('.tile-active-speaker').count(), 1);
});

/** How many live m-lines the page's open connections receive on. */
function receivingMlines(page) {
  return page.evaluate(() =>
    window.__peerConnections
      .filter((connection) => connection.connectionState !== 'closed')
      .flatMap((connection) => connection.getTransceivers())
      .filter((transceiver) => !transceiver.stopped && transceiver.currentDirection === 'recvonly').length,
  );
}

test('a screen shared on the SFU reaches the others, who get no screen m-line while nobody shares', { timeout: 60_000 }, async () => {
  const [alice, tina] = [pages.get('alice'), pages.get('tina')];
  // Alice's microphone and camera; no empty m-line for a screen she does not share.
  await eventually(async () => assert.equal(await receivingMlines(tina), 2));

  await alice.getByRole('button', { name: 'Share screen' }).click();
  const screen = tile(tina, 'Screen of alice');
  await screen.locator('video').waitFor();
  await eventually(async () => {
    const width = await screen.locator('video').evaluate((video) => video.videoWidth);
    assert.ok(width > 0, 'the screen video has frames');
  });
  assert.equal(await receivingMlines(tina), 3);

  await alice.getByRole('button', { name: 'Stop sharing' }).click();
  await screen.waitFor({ state: 'detached' });
  await eventually(async () => assert.equal(await receivingMlines(tina), 2));
  await unlessRefused(expectDecodingVideos(tina, 1));
  assert.deepEqual(refusals, [], 'the server refused no request');
});

test('six participants on the SFU each receive the five others', { timeout: 120_000 }, async () => {
  const names = ['bob', 'carol', 'dave', 'erin'];
  const newcomers = await Promise.all(names.map((name) => person(name)));
  for (const page of newcomers) await joinPublicRoom(page, 'all-hands');
  for (const page of newcomers) await joinCall(page);

  const everyone = [...pages.values()];
  assert.equal(everyone.length, 6);
  await unlessRefused(Promise.all(everyone.map((page) => expectOnSfu(page, 30_000))));
  await unlessRefused(Promise.all(everyone.map((page) => expectDecodingVideos(page, 5, 30_000))));
  for (const [name, page] of pages) {
    const others = [...pages.keys()].filter((other) => other !== name);
    for (const other of others) await tile(page, other).locator('video').waitFor();
  }
  await eventually(async () => assert.deepEqual((await sfuCandidates(pages.get('tina')))?.local.protocol, 'tcp'));
  assert.deepEqual(refusals, [], 'the server refused no request');
});
