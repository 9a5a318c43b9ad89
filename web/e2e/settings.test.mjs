// The user's settings page against a real server: notification settings that
// stick across a reload, a test notification that reaches a receiver on
// loopback (started here) in Gotify's wire format, a media preference kept
// by the browser, a desktop device revoked, and a second browser signed out
// from the first.

import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, test } from 'node:test';
import { createRoom, eventually, launchBrowser, openPage, register, startServer, UI_TIMEOUT_MS } from './harness.mjs';

/** Largest request body the receiver keeps; a notification is far smaller. */
const MAX_BODY_BYTES = 64 * 1024;

/** An HTTP server on loopback that records every request and answers 200. */
function startReceiver() {
  const requests = [];
  const server = http.createServer((request, response) => {
    const chunks = [];
    let size = 0;
    request.on('data', (chunk) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    request.on('end', () => {
      requests.push({
        method: request.method,
        url: request.url,
        headers: request.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      response.writeHead(200, { 'Content-Type': 'application/json' });
      response.end('{"id":1}');
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      resolve({
        url: `http://127.0.0.1:${port}`,
        requests,
        stop: () => new Promise((done) => server.close(() => done())),
      });
    });
  });
}

let server;
let browser;
let receiver;

before(async () => {
  receiver = await startReceiver();
  // The receiver is on loopback, which users may only choose when the
  // administrator allows private addresses.
  server = await startServer({ MESH_NOTIFY_ALLOW_PRIVATE: 'true' });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  await receiver?.stop();
});

async function logIn(page, login) {
  await page.goto(`${server.url}/login`);
  await page.getByLabel('Username or email').fill(login);
  await page.getByLabel('Password').fill('correct horse battery');
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('heading', { name: `Welcome, ${login}` }).waitFor();
}

/** The settings panel titled `title` (the toasts' region is also called Notifications). */
const panel = (page, title) =>
  page.locator('section.panel').filter({ has: page.getByRole('heading', { level: 2, name: title, exact: true }) });
const notifications = (page) => panel(page, 'Notifications');

test('notification settings stick and the test notification reaches the receiver', { timeout: 120_000 }, async () => {
  const page = await openPage(browser);
  await register(page, server.url, 'alice');
  await page.getByRole('link', { name: 'Settings', exact: true }).click();
  await page.getByRole('heading', { level: 1, name: 'Settings' }).waitFor();

  const form = notifications(page);
  const backend = form.getByLabel('Send notifications through');
  assert.equal(await backend.inputValue(), 'none', 'a new user starts without notifications');

  // Bad input is refused before it reaches the server.
  await backend.selectOption('gotify');
  await form.getByLabel('Gotify server URL').fill('ftp://127.0.0.1/x');
  await form.getByText('The address must start with http:// or https://.').waitFor();
  assert.equal(await form.getByRole('button', { name: 'Save' }).isDisabled(), true);

  await form.getByLabel('Gotify server URL').fill(`${receiver.url}/gotify`);
  await form.getByLabel('Gotify application token').fill('app-token-7d1f');
  await form.getByLabel('Files sent to my devices').uncheck();
  await form.getByLabel('Send nothing during quiet hours').check();
  await form.getByLabel('From', { exact: true }).fill('22:30');
  await form.getByLabel('Until', { exact: true }).fill('06:15');
  await form.getByText('Quiet every night from 22:30 until 06:15 the next morning').waitFor();
  await form.getByRole('button', { name: 'Save' }).click();
  await page.getByText('Notification settings saved').waitFor();

  // After a reload, everything is as saved, and the token is not shown.
  await page.reload();
  await notifications(page).getByLabel('Gotify server URL').waitFor();
  const saved = notifications(page);
  assert.equal(await saved.getByLabel('Send notifications through').inputValue(), 'gotify');
  assert.equal(await saved.getByLabel('Gotify server URL').inputValue(), `${receiver.url}/gotify`);
  await saved.getByText('A token is stored (it is never shown).').waitFor();
  assert.equal(await saved.getByLabel('New messages').isChecked(), true);
  assert.equal(await saved.getByLabel('Calls', { exact: true }).isChecked(), true);
  assert.equal(await saved.getByLabel('Files sent to my devices').isChecked(), false);
  assert.equal(await saved.getByLabel('From', { exact: true }).inputValue(), '22:30');
  assert.equal(await saved.getByLabel('Until', { exact: true }).inputValue(), '06:15');
  assert.ok(!(await page.content()).includes('app-token-7d1f'), 'the token never comes back to the page');

  // The test notification goes through the saved settings to the receiver.
  assert.equal(receiver.requests.length, 0);
  await saved.getByRole('button', { name: 'Send a test notification' }).click();
  await saved.getByText('Test notification delivered.').waitFor();
  assert.equal(receiver.requests.length, 1);
  const [delivered] = receiver.requests;
  assert.equal(delivered.method, 'POST');
  assert.equal(delivered.url, '/gotify/message', 'Gotify messages go to {url}/message, token not in the URL');
  assert.equal(delivered.headers['x-gotify-key'], 'app-token-7d1f');
  assert.match(delivered.headers['content-type'], /^application\/json/);
  const body = JSON.parse(delivered.body);
  assert.equal(typeof body.title, 'string');
  assert.ok(body.title.length > 0);
  assert.equal(typeof body.message, 'string');
  assert.ok(body.message.length > 0);
  assert.ok(Number.isInteger(body.priority) && body.priority >= 0 && body.priority <= 10, 'a Gotify priority');

  // A receiver that refuses is reported as such.
  await saved.getByLabel('Gotify server URL').fill('http://127.0.0.1:9/closed');
  await saved.getByRole('button', { name: 'Save' }).click();
  await page.getByText('Notification settings saved').first().waitFor();
  await saved.getByRole('button', { name: 'Send a test notification' }).click();
  await saved.getByText(/^Test notification not delivered: /).waitFor();
  assert.ok(!(await saved.getByRole('status').textContent()).includes('app-token-7d1f'));
  assert.equal(receiver.requests.length, 1);
});

test('a media preference is kept by the browser', { timeout: 60_000 }, async () => {
  const page = await openPage(browser);
  await register(page, server.url, 'carol');
  await page.goto(`${server.url}/settings`);
  const media = panel(page, 'Camera, microphone and speaker');

  // The preview shows the (fake) camera and lists devices with their names.
  await media.getByRole('button', { name: 'Test camera and microphone' }).click();
  const preview = media.getByLabel('Your camera preview');
  await eventually(async () =>
    assert.ok((await preview.evaluate((video) => video.videoWidth)) > 0, 'the camera preview plays'),
  );
  const cameras = await media.getByLabel('Camera', { exact: true }).locator('option').allTextContents();
  assert.ok(cameras.length > 0 && cameras.every((label) => label && !/^Device \d+$/.test(label)), String(cameras));

  const threshold = media.getByLabel('Speaking threshold');
  assert.equal(await threshold.inputValue(), '0.015');
  await threshold.fill('0.05');
  await media.getByText('5.0 %').waitFor();
  await media.getByRole('button', { name: 'Stop the test' }).click();

  await page.reload();
  await page.getByRole('heading', { level: 1, name: 'Settings' }).waitFor();
  assert.equal(await media.getByLabel('Speaking threshold').inputValue(), '0.05');
  const stored = await page.evaluate(() => JSON.parse(localStorage.getItem('mesh.media') ?? 'null'));
  assert.equal(stored?.speakingThreshold, 0.05);
});

test('a call opens the microphone and speaker chosen in the settings', { timeout: 60_000 }, async () => {
  const page = await openPage(browser);
  await register(page, server.url, 'frank');
  await page.goto(`${server.url}/settings`);
  const media = panel(page, 'Camera, microphone and speaker');
  await media.getByRole('button', { name: 'Test camera and microphone' }).click();
  const microphone = media.getByLabel('Microphone', { exact: true });
  await microphone.locator('option', { hasText: 'Fake Audio Input 1' }).waitFor({ state: 'attached' });
  await microphone.selectOption({ label: 'Fake Audio Input 1' });
  const microphoneId = await microphone.inputValue();
  const speaker = media.getByLabel('Speaker', { exact: true });
  await speaker.selectOption({ label: 'Fake Audio Output 1' });
  const speakerId = await speaker.inputValue();
  await media.getByRole('button', { name: 'Stop the test' }).click();

  // A fresh page load: nothing chosen in memory, only what the settings saved.
  await page.reload();
  await page.getByRole('heading', { level: 1, name: 'Settings' }).waitFor();
  await createRoom(page, 'saved-devices');
  await page.getByRole('button', { name: 'Join call' }).click();
  await page.getByRole('button', { name: 'Join now' }).waitFor();
  await eventually(async () => {
    assert.equal(await page.getByLabel('Microphone', { exact: true }).inputValue(), microphoneId);
    assert.equal(await page.getByLabel('Speaker', { exact: true }).inputValue(), speakerId);
  });
  await page.getByRole('button', { name: 'Cancel' }).click();
});

test('a desktop device is revoked from the list', { timeout: 60_000 }, async () => {
  const page = await openPage(browser);
  let accessToken = null;
  page.on('response', async (response) => {
    if (!/\/api\/v1\/auth\/(register|refresh)$/.test(response.url()) || !response.ok()) return;
    accessToken = (await response.json().catch(() => null))?.access_token ?? accessToken;
  });
  await register(page, server.url, 'dave');
  assert.ok(accessToken, 'the registration gave an access token');
  const api = (method, path, body) =>
    fetch(`${server.url}/api/v1${path}`, {
      method,
      headers: { Authorization: `Bearer ${accessToken}`, 'Content-Type': 'application/json' },
      body: body && JSON.stringify(body),
      signal: AbortSignal.timeout(UI_TIMEOUT_MS),
    });
  const created = await api('POST', '/devices', { name: 'dave-laptop', fingerprint: 'ab'.repeat(32) });
  assert.equal(created.status, 201);

  await page.goto(`${server.url}/settings`);
  const devices = panel(page, 'My devices');
  await devices.getByText('dave-laptop', { exact: true }).waitFor();
  await devices.getByText('never connected').waitFor();
  await devices.getByRole('button', { name: 'Revoke dave-laptop' }).click();
  await page.getByRole('dialog', { name: 'Revoke device' }).getByRole('button', { name: 'Revoke device' }).click();
  await devices.getByText('No devices yet.').waitFor();
  assert.deepEqual(await (await api('GET', '/devices')).json(), []);
});

test('a session revoked from another browser is signed out', { timeout: 90_000 }, async () => {
  const first = await openPage(browser);
  await register(first, server.url, 'erin');
  const second = await openPage(browser);
  await logIn(second, 'erin');

  await first.goto(`${server.url}/settings`);
  const sessions = panel(first, 'Where I am signed in');
  const items = sessions.getByRole('listitem');
  await eventually(async () => assert.equal(await items.count(), 2));
  const current = items.filter({ hasText: 'This browser' });
  assert.equal(await current.count(), 1);
  await current.getByText('Chrome on Linux').waitFor();

  const other = items.filter({ hasNotText: 'This browser' });
  await other.getByRole('button', { name: /^Sign out / }).click();
  const confirm = first.getByRole('dialog', { name: 'Sign out this session' });
  await confirm.getByRole('button', { name: 'Sign out this session' }).click();
  await eventually(async () => assert.equal(await items.count(), 1));

  // The other browser is thrown out without doing anything (its WebSocket is
  // closed and its refresh refused), and stays out after a reload.
  await second.getByRole('button', { name: 'Log in' }).waitFor();
  await second.reload();
  await second.getByRole('button', { name: 'Log in' }).waitFor();

  // Revoking this browser's own session is logging out.
  await sessions.getByRole('button', { name: 'Log out' }).click();
  await first.getByRole('dialog', { name: 'Log out' }).getByRole('button', { name: 'Log out' }).click();
  await first.getByRole('button', { name: 'Log in' }).waitFor();
  assert.match(new URL(first.url()).pathname, /^\/login$/);
});
