// Message bodies are text: HTML in them is shown, never run; Markdown is rendered.

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

const inline = '<img src=x onerror="window.__xss=1"> <script>window.__xss=1</script> **bold**';
const block = '<script>window.__xss=1</script>';

test('HTML in messages is shown as text and never runs', { timeout: 90_000 }, async () => {
  const mallory = await openPage(browser);
  const victim = await openPage(browser);
  await register(mallory, server.url, 'mallory');
  await register(victim, server.url, 'victim');
  await createRoom(mallory, 'playground');
  await joinPublicRoom(victim, 'playground');

  await sendMessage(mallory, inline);
  await sendMessage(mallory, block);

  for (const page of [victim, mallory]) {
    const first = messageWith(page, 'onerror');
    await first.waitFor();
    const body = first.locator('.message-body');
    assert.equal(
      (await body.innerText()).trim(),
      '<img src=x onerror="window.__xss=1"> <script>window.__xss=1</script> bold',
    );
    assert.equal(await body.locator('strong').innerText(), 'bold');
    assert.equal(await body.locator('img, script').count(), 0);

    const second = page.locator('li.message[data-message-id]').nth(1).locator('.message-body');
    assert.equal((await second.innerText()).trim(), block);
    assert.equal(await second.locator('script').count(), 0);

    assert.equal(await page.evaluate(() => window.__xss), undefined);
  }

  // Loaded from history after a reload, it is still only text.
  await victim.reload();
  await messageWith(victim, 'onerror').waitFor();
  assert.equal(await victim.locator('.messages img, .messages script').count(), 0);
  assert.equal(await victim.evaluate(() => window.__xss), undefined);
});
