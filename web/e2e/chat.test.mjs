// Two people, a private room, an invitation, real-time chat both ways, typing,
// staying logged in across a reload, and a logout that really revokes.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  createRoom,
  eventually,
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

test('invite, chat in real time, reload, log out', { timeout: 120_000 }, async () => {
  const alice = await openPage(browser);
  const bob = await openPage(browser);

  // Every access token Alice's browser is given, from login, register or refresh.
  const aliceTokens = [];
  alice.on('response', async (response) => {
    if (!/\/api\/v1\/auth\/(login|register|refresh)$/.test(response.url()) || !response.ok()) return;
    const body = await response.json().catch(() => null);
    if (body?.access_token) aliceTokens.push(body.access_token);
  });

  await register(alice, server.url, 'alice');
  await register(bob, server.url, 'bob');

  // Alice creates a private room and an invite link.
  await createRoom(alice, 'secret-plans', 'private');
  await alice.getByRole('button', { name: 'Invite people' }).click();
  const inviteDialog = alice.getByRole('dialog', { name: 'Invite people to “secret-plans”' });
  await inviteDialog.getByRole('button', { name: 'Create invite link' }).click();
  const inviteUrl = await inviteDialog.getByLabel('Invite link').inputValue();
  assert.match(inviteUrl, /\/invite\/[^/]+$/);
  await inviteDialog.getByRole('button', { name: 'Close' }).click();

  // Bob cannot see the private room, opens the link and accepts.
  await bob.getByRole('link', { name: 'Browse public rooms' }).click();
  await bob.getByRole('heading', { name: 'Public rooms' }).waitFor();
  assert.equal(await bob.getByText('secret-plans').count(), 0);
  await bob.goto(inviteUrl);
  await bob.getByText('Join “secret-plans” as member.').waitFor();
  await bob.getByRole('button', { name: 'Accept invitation' }).click();
  await bob.getByRole('heading', { level: 1, name: 'secret-plans' }).waitFor();

  // Alice → Bob, without reloading.
  await sendMessage(alice, 'Hello Bob, welcome aboard');
  await messageWith(bob, 'Hello Bob, welcome aboard').waitFor();
  await messageWith(alice, 'Hello Bob, welcome aboard').waitFor();
  assert.match(await messageWith(alice, 'Hello Bob').getAttribute('class'), /message-own/);
  assert.doesNotMatch(await messageWith(bob, 'Hello Bob').getAttribute('class'), /message-own/);

  // Bob types: Alice sees it; then Bob → Alice.
  const bobComposer = bob.getByRole('textbox', { name: 'Message', exact: true });
  await bobComposer.pressSequentially('Hi Alice', { delay: 20 });
  await alice.getByText('bob is typing…').waitFor();
  await bobComposer.press('Enter');
  await messageWith(alice, 'Hi Alice').waitFor();
  assert.doesNotMatch(await messageWith(alice, 'Hi Alice').getAttribute('class'), /message-own/);

  // Both see both members in the member list.
  await alice.getByRole('complementary', { name: 'Members (2)' }).waitFor();

  // A reload keeps Alice logged in, in the room, with its history.
  await alice.reload();
  await alice.getByRole('heading', { level: 1, name: 'secret-plans' }).waitFor();
  await messageWith(alice, 'Hello Bob, welcome aboard').waitFor();
  await messageWith(alice, 'Hi Alice').waitFor();
  assert.ok(aliceTokens.length >= 2, 'the reload refreshed the session');
  const cookies = await alice.context().cookies();
  assert.ok(
    !cookies.some((cookie) => aliceTokens.includes(cookie.value)),
    'the access token is not stored in a cookie',
  );
  const stored = await alice.evaluate(() => JSON.stringify({ ...localStorage, ...sessionStorage }));
  assert.ok(!aliceTokens.some((token) => stored.includes(token)), 'no token in web storage');

  // Logging out goes back to the login page and kills the tokens.
  await alice.getByRole('button', { name: 'Log out' }).click();
  await alice.getByRole('button', { name: 'Log in' }).waitFor();
  assert.match(new URL(alice.url()).pathname, /^\/login$/);
  for (const token of aliceTokens) {
    const response = await fetch(`${server.url}/api/v1/me`, { headers: { Authorization: `Bearer ${token}` } });
    assert.equal(response.status, 401);
  }

  // And the session does not come back on reload.
  await alice.reload();
  await alice.getByRole('button', { name: 'Log in' }).waitFor();

  // Bob's side was live all along.
  await eventually(async () =>
    assert.equal(await bob.getByRole('status', { name: 'Connection: Connected' }).count(), 1),
  );
});
