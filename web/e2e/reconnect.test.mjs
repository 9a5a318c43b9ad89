// A dropped connection comes back by itself: messages sent meanwhile are
// delivered once, and messages missed meanwhile are fetched. A message the
// server never acknowledges is marked failed and can be retried.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  createRoom,
  joinPublicRoom,
  launchBrowser,
  messageWith,
  openPage,
  register,
  sendMessage,
  startServer,
} from './harness.mjs';

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('reconnects, resends pending messages, catches up and retries', { timeout: 90_000 }, async () => {
  const alice = await openPage(browser);
  const bob = await openPage(browser);

  // Alice's WebSocket goes through switches the test controls.
  let networkUp = true;
  let dropSends = false;
  const live = [];
  await alice.routeWebSocket(/\/api\/v1\/ws$/, (socket) => {
    if (!networkUp) {
      socket.close({ code: 1001, reason: 'network down' });
      return;
    }
    const upstream = socket.connectToServer();
    socket.onMessage((frame) => {
      if (dropSends && String(frame).includes('"message.send"')) return;
      upstream.send(frame);
    });
    live.push({ socket, upstream });
  });

  await register(alice, server.url, 'alice');
  await register(bob, server.url, 'bob');
  await createRoom(alice, 'ops');
  await joinPublicRoom(bob, 'ops');
  await alice.getByRole('status', { name: 'Connection: Connected' }).waitFor();

  networkUp = false;
  for (const { socket, upstream } of live.splice(0)) {
    upstream.close();
    socket.close({ code: 1001, reason: 'network down' });
  }
  await alice.getByRole('status', { name: 'Connection: Reconnecting…' }).waitFor();

  await sendMessage(alice, 'written while offline');
  const pending = alice.locator('li.message[data-client-id]').filter({ hasText: 'written while offline' });
  await pending.getByText('Sending…').waitFor();
  await sendMessage(bob, 'said while alice was away');
  await messageWith(bob, 'said while alice was away').waitFor();

  networkUp = true;
  await alice.getByRole('status', { name: 'Connection: Connected' }).waitFor({ timeout: 30_000 });
  await messageWith(alice, 'said while alice was away').waitFor();
  await messageWith(alice, 'written while offline').waitFor();
  await messageWith(bob, 'written while offline').waitFor();
  assert.equal(await pending.count(), 0);
  assert.equal(await messageWith(bob, 'written while offline').count(), 1);
  assert.equal(await messageWith(alice, 'written while offline').count(), 1);

  // A send that is never acknowledged fails after 10 s; Retry delivers it once.
  dropSends = true;
  await sendMessage(alice, 'lost in transit');
  const lost = alice.locator('li.message[data-client-id]').filter({ hasText: 'lost in transit' });
  await lost.getByText('Sending…').waitFor();
  await lost.getByText('Not sent').waitFor({ timeout: 20_000 });
  dropSends = false;
  await lost.getByRole('button', { name: 'Retry' }).click();
  await messageWith(bob, 'lost in transit').waitFor();
  await messageWith(alice, 'lost in transit').waitFor();
  assert.equal(await lost.count(), 0);
  assert.equal(await messageWith(bob, 'lost in transit').count(), 1);
});
