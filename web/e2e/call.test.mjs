// Calls between three people in three browser profiles of one Chromium (fake
// camera, microphone and screen): joining through the pre-join, a ring and
// the banner; media flowing every way; mute; a dropped WebSocket that resumes
// without the others noticing; screen sharing; leaving and closing the tab.
// The tests share one call and run in order.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  createRoom,
  eventually,
  joinPublicRoom,
  launchBrowser,
  openPage,
  register,
  startServer,
} from './harness.mjs';
import { expectFlowing, recordCalls } from './media.mjs';

let server;
let browser;
let alice;
let bob;
let carol;
/** Carol's WebSocket runs through the test, which can cut it. */
const carolSockets = [];

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

const tile = (page, name) => page.getByRole('figure', { name, exact: true });

async function person() {
  const page = await openPage(browser);
  await recordCalls(page);
  return page;
}

async function joinFromPreJoin(page) {
  await page.getByRole('button', { name: 'Join call' }).click();
  await page.getByLabel('Your camera preview').waitFor();
  await page.getByRole('button', { name: 'Join now' }).click();
  await page.getByRole('group', { name: 'Call controls' }).waitFor();
}

test('three people join a call and each receives the two others', { timeout: 120_000 }, async () => {
  [alice, bob, carol] = await Promise.all([person(), person(), person()]);
  await carol.routeWebSocket(/\/api\/v1\/ws$/, (socket) => {
    carolSockets.push({ socket, upstream: socket.connectToServer() });
  });
  await register(alice, server.url, 'alice');
  await register(bob, server.url, 'bob');
  await register(carol, server.url, 'carol');
  await createRoom(alice, 'standup');
  await joinPublicRoom(bob, 'standup');
  await joinPublicRoom(carol, 'standup');

  await joinFromPreJoin(alice);
  await tile(alice, 'alice (you)').waitFor();

  // Bob is rung and accepts.
  const ring = bob.getByRole('group', { name: 'alice is calling in “standup”' });
  await ring.getByRole('button', { name: 'Accept' }).click();
  await bob.getByRole('group', { name: 'Call controls' }).waitFor();

  // Carol dismisses her ring, sees who is in the call, then joins through the pre-join.
  const carolRing = carol.getByRole('group', { name: 'alice is calling in “standup”' });
  await carolRing.getByRole('button', { name: 'Dismiss' }).click();
  await carolRing.waitFor({ state: 'detached' });
  await carol.getByRole('status').filter({ hasText: 'Call in progress: alice, bob' }).waitFor();
  await joinFromPreJoin(carol);

  for (const [page, others] of [
    [alice, ['bob', 'carol']],
    [bob, ['alice', 'carol']],
    [carol, ['alice', 'bob']],
  ]) {
    for (const name of others) {
      const remote = tile(page, name);
      await remote.locator('video').waitFor();
      await remote.getByRole('img', { name: /^Connection quality: (excellent|good)$/ }).waitFor();
    }
  }
  await Promise.all([alice, bob, carol].map((page) => expectFlowing(page, { video: 2, audio: 2, screen: 0 })));

  // The fake microphone beeps twice a second: bob shows as speaking on alice's screen.
  // The beep is short: the icon and the highlight come and go together, so
  // both are read at one moment.
  await eventually(async () => {
    const shown = await tile(alice, 'bob').evaluate((figure) => ({
      highlighted: figure.classList.contains('tile-speaking'),
      icon: figure.querySelector('[role="img"][aria-label="Speaking"]') !== null,
    }));
    assert.deepEqual(shown, { highlighted: true, icon: true });
  });
});

test('turning the camera off and muting show on the others', { timeout: 60_000 }, async () => {
  await bob.getByRole('button', { name: 'Turn camera off' }).click();
  await bob.getByRole('button', { name: 'Mute microphone' }).click();
  for (const page of [alice, carol]) {
    await tile(page, 'bob').getByRole('img', { name: 'Camera off' }).waitFor();
    await tile(page, 'bob').getByRole('img', { name: 'Microphone muted' }).waitFor();
    assert.equal(await tile(page, 'bob').locator('video').count(), 0);
  }
  await tile(bob, 'bob (you)').getByRole('img', { name: 'Camera off' }).waitFor();
  // Only alice's and carol's cameras reach carol now.
  await expectFlowing(carol, { video: 1 });
  // Muted means silent: over several beeps, bob never shows as speaking.
  const speakingSeen = await alice.evaluate(async () => {
    const bobTile = [...document.querySelectorAll('figure')].find((figure) => figure.textContent?.includes('bob'));
    let seen = false;
    for (let i = 0; i < 30; i++) {
      seen ||= bobTile?.classList.contains('tile-speaking') ?? true;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return seen;
  });
  assert.equal(speakingSeen, false);

  await bob.getByRole('button', { name: 'Turn camera on' }).click();
  await bob.getByRole('button', { name: 'Unmute microphone' }).click();
  for (const page of [alice, carol]) {
    await tile(page, 'bob').locator('video').waitFor();
    await eventually(async () => {
      assert.equal(await tile(page, 'bob').getByRole('img', { name: 'Microphone muted' }).count(), 0);
    });
  }
  await Promise.all([alice, carol].map((page) => expectFlowing(page, { video: 2, audio: 2 })));
});

test('a device chosen mid-call replaces the track without rejoining', { timeout: 60_000 }, async () => {
  const connections = await alice.evaluate(() => window.__peerConnections.length);
  await alice.getByRole('button', { name: 'Choose devices' }).click();
  await alice.getByLabel('Microphone', { exact: true }).selectOption({ label: 'Fake Audio Input 1' });
  await eventually(async () => {
    const sent = await alice.evaluate(() =>
      window.__peerConnections
        .filter((connection) => connection.connectionState !== 'closed')
        .map((connection) => connection.getTransceivers()[0].sender.track?.label),
    );
    assert.deepEqual(sent, ['Fake Audio Input 1', 'Fake Audio Input 1']);
  });
  const speaker = alice.getByLabel('Speaker', { exact: true });
  await speaker.selectOption({ label: 'Fake Audio Output 1' });
  const speakerId = await speaker.inputValue();
  await eventually(async () => {
    const sinks = await alice.evaluate(() => [...document.querySelectorAll('audio')].map((audio) => audio.sinkId));
    assert.deepEqual(sinks, [speakerId, speakerId]);
  });
  await alice.getByRole('button', { name: 'Hide devices' }).click();
  assert.equal(await alice.evaluate(() => window.__peerConnections.length), connections, 'no new connection');
  await Promise.all([bob, carol].map((page) => expectFlowing(page, { audio: 2 })));
});

test('a dropped connection resumes its place without the others seeing it leave', { timeout: 90_000 }, async () => {
  const carolId = await tile(alice, 'carol').getAttribute('data-participant');
  assert.ok(carolId);
  // Alice and Bob check every 50 ms that Carol's tile is still there.
  const watch = (page) =>
    page.evaluate((id) => {
      window.__carolMissing = 0;
      window.__carolWatch = setInterval(() => {
        if (!document.querySelector(`figure[data-participant="${id}"]`)) window.__carolMissing++;
      }, 50);
    }, carolId);
  await Promise.all([watch(alice), watch(bob)]);

  // Not a clean close (1000/1001): the server keeps Carol's place for the grace.
  for (const { socket, upstream } of carolSockets.splice(0)) {
    upstream.close({ code: 4000, reason: 'network lost' });
    socket.close({ code: 4000, reason: 'network lost' });
  }
  await carol.getByRole('status').filter({ hasText: 'Connection to the server lost.' }).waitFor();
  await carol.getByText('Back in the call').waitFor({ timeout: 20_000 });
  await carol.getByRole('status', { name: 'Connection: Connected' }).waitFor();

  // Signaling works again: Carol's camera going off reaches the others.
  await carol.getByRole('button', { name: 'Turn camera off' }).click();
  await tile(alice, 'carol').getByRole('img', { name: 'Camera off' }).waitFor();
  await carol.getByRole('button', { name: 'Turn camera on' }).click();
  await tile(bob, 'carol').locator('video').waitFor();

  for (const page of [alice, bob]) {
    const missing = await page.evaluate(() => {
      clearInterval(window.__carolWatch);
      return window.__carolMissing;
    });
    assert.equal(missing, 0, 'carol’s tile never disappeared');
    assert.equal(await tile(page, 'carol').getAttribute('data-participant'), carolId);
  }
  await Promise.all([alice, bob, carol].map((page) => expectFlowing(page, { video: 2, audio: 2 })));
});

test('a shared screen reaches the others as its own large tile', { timeout: 60_000 }, async () => {
  await bob.getByRole('button', { name: 'Share screen' }).click();
  await tile(bob, 'Screen of bob (you)').locator('video').waitFor();
  for (const page of [alice, carol]) {
    const screen = tile(page, 'Screen of bob');
    await screen.locator('video').waitFor();
    await eventually(async () => {
      const width = await screen.locator('video').evaluate((video) => video.videoWidth);
      assert.ok(width > 0, 'the screen video has frames');
    });
  }
  // The screen is a third stream from bob, beside his camera: his third
  // transceiver sends the display capture, and the tile plays what arrives on it.
  const sent = await bob.evaluate(() =>
    window.__peerConnections
      .filter((connection) => connection.connectionState !== 'closed')
      .map((connection) => connection.getTransceivers().map((transceiver) => transceiver.sender.track?.label)),
  );
  assert.equal(sent.length, 2);
  for (const labels of sent) {
    assert.equal(labels[1], 'fake_device_0');
    assert.match(labels[2], /^screen:/);
  }
  for (const page of [alice, carol]) {
    const onScreenTransceiver = await tile(page, 'Screen of bob')
      .locator('video')
      .evaluate((video) => {
        const shown = video.srcObject.getVideoTracks()[0];
        return window.__peerConnections.some((connection) => connection.getTransceivers()[2]?.receiver.track === shown);
      });
    assert.ok(onScreenTransceiver, 'the screen tile plays the screen transceiver');
  }
  await Promise.all([alice, carol].map((page) => expectFlowing(page, { video: 2, audio: 2, screen: 1 })));

  await bob.getByRole('button', { name: 'Stop sharing' }).click();
  for (const page of [alice, carol]) await tile(page, 'Screen of bob').waitFor({ state: 'detached' });
});

test('leaving, or closing the tab, removes the tile everywhere within seconds', { timeout: 60_000 }, async () => {
  await carol.getByRole('button', { name: 'Leave call' }).click();
  await carol.getByRole('button', { name: 'Join call' }).waitFor();
  for (const page of [alice, bob]) await tile(page, 'carol').waitFor({ state: 'detached', timeout: 5000 });
  await carol.getByRole('status').filter({ hasText: 'Call in progress: alice, bob' }).waitFor();

  await bob.close();
  await tile(alice, 'bob').waitFor({ state: 'detached', timeout: 5000 });
  await carol.getByRole('status').filter({ hasText: /^Call in progress: alice$/ }).waitFor();
  await expectFlowing(alice, { video: 0, audio: 0 });
});
