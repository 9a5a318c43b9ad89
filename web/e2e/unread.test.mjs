// A message in a room someone is not looking at raises that room's unread badge.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  createRoom,
  eventually,
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

/** The hidden text of a room's badge in the sidebar, or null without one. */
async function unreadLabel(page, roomName) {
  const link = page.getByRole('navigation', { name: 'Your rooms' }).getByRole('link', { name: roomName });
  const badge = link.locator('.badge .visually-hidden');
  return (await badge.count()) === 0 ? null : badge.innerText();
}

test('messages in another room raise its unread badge', { timeout: 90_000 }, async () => {
  const alice = await openPage(browser);
  const bob = await openPage(browser);
  await register(alice, server.url, 'alice');
  await register(bob, server.url, 'bob');
  const lobbyId = await createRoom(alice, 'lobby');
  await createRoom(alice, 'news');
  await joinPublicRoom(bob, 'news');
  await joinPublicRoom(bob, 'lobby');

  // Bob reads the lobby; Alice writes in news, then in the lobby.
  assert.match(bob.url(), new RegExp(`/rooms/${lobbyId}$`));
  await sendMessage(alice, 'first news');
  await sendMessage(alice, 'second news');
  await eventually(async () => assert.equal(await unreadLabel(bob, 'news'), '2 unread messages'));

  await alice.getByRole('link', { name: 'lobby' }).click();
  await sendMessage(alice, 'hello lobby');
  await messageWith(bob, 'hello lobby').waitFor();
  assert.equal(await unreadLabel(bob, 'lobby'), null, 'the room on screen stays read');

  // Opening news shows the messages and clears the badge, for good.
  await bob.getByRole('link', { name: 'news' }).click();
  await messageWith(bob, 'second news').waitFor();
  await eventually(async () => assert.equal(await unreadLabel(bob, 'news'), null));
  await bob.getByRole('link', { name: 'lobby' }).click();
  await bob.reload();
  await messageWith(bob, 'hello lobby').waitFor();
  assert.equal(await unreadLabel(bob, 'news'), null, 'the read marker reached the server');
});
