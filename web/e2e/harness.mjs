// End-to-end harness: a real Mesh server per test file (fresh data directory,
// random port) serving the built client from web/dist, and a headless Chromium
// driven by playwright-core. Every wait is bounded so that a test fails rather
// than hangs.

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const meshBin = process.env.MESH_BIN ?? path.join(repoRoot, 'target/debug/mesh');
const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const START_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 5_000;
/** Longest wait for any one thing to appear on a page. */
export const UI_TIMEOUT_MS = 15_000;

/** Starts `mesh serve` and resolves once it prints its address. */
export async function startServer(extraEnv = {}) {
  if (!existsSync(path.join(repoRoot, 'web/dist/index.html'))) {
    throw new Error('web/dist is missing: run `npm run build` before the end-to-end tests');
  }
  const dataDir = await mkdtemp(path.join(tmpdir(), 'mesh-e2e-'));
  const child = spawn(meshBin, ['serve'], {
    cwd: repoRoot,
    env: {
      ...process.env,
      MESH_HTTP_ADDR: '127.0.0.1:0',
      MESH_DATA_DIR: dataDir,
      MESH_REGISTRATION: 'open',
      MESH_MEDIA_PORT: '0',
      MESH_TURN_PORT: '0',
      MESH_PUBLIC_IP: '127.0.0.1',
      NO_COLOR: '1',
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise((resolve) => child.once('exit', resolve));

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
      await exited;
      clearTimeout(timer);
    }
    await rm(dataDir, { recursive: true, force: true });
  };

  try {
    const url = await new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`mesh did not start within ${START_TIMEOUT_MS} ms:\n${output}`)),
        START_TIMEOUT_MS,
      );
      const collect = (chunk) => {
        output += chunk;
        const match = /running at (http:\/\/\S+)/.exec(output.replace(/\x1b\[[0-9;]*m/g, ''));
        if (match) {
          clearTimeout(timer);
          resolve(match[1].replace(/[/.,;]+$/, ''));
        }
      };
      child.stdout.on('data', collect);
      child.stderr.on('data', (chunk) => {
        output += chunk;
      });
      child.once('error', (error) => {
        clearTimeout(timer);
        reject(new Error(`cannot run ${meshBin}: ${error.message}`));
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`mesh exited (${code ?? signal}) before it was ready:\n${output}`));
      });
    });
    return { url, stop, logs: () => output };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Chromium with fake camera, microphone and screen. `media: 'denied'` makes
 * it refuse every camera and microphone prompt instead of granting it (the
 * fake UI grants whatever a context says, so this needs its own process).
 * `args` adds Chromium switches (they apply to every page of the process). */
export function launchBrowser({ media = 'granted', args = [] } = {}) {
  return chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    timeout: START_TIMEOUT_MS,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--use-fake-device-for-media-stream',
      media === 'denied' ? '--deny-permission-prompts' : '--use-fake-ui-for-media-stream',
      // WebRTC between pages of this machine: host candidates on loopback,
      // with their real address rather than an mDNS name.
      '--allow-loopback-in-peer-connection',
      '--disable-features=WebRtcHideLocalIpsWithMdns',
      ...args,
    ],
  });
}

/** A new browser profile (own cookies) with one page; English unless told. */
export async function openPage(browser, { locale = 'en-US' } = {}) {
  const context = await browser.newContext({ locale });
  context.setDefaultTimeout(UI_TIMEOUT_MS);
  context.setDefaultNavigationTimeout(UI_TIMEOUT_MS);
  const page = await context.newPage();
  page.on('pageerror', (error) => console.error(`[page error] ${error.message}`));
  return page;
}

/** Registers through the UI and waits for the logged-in home page. */
export async function register(page, baseUrl, username) {
  await page.goto(`${baseUrl}/register`);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Email').fill(`${username}@example.test`);
  await page.getByLabel('Password', { exact: true }).fill('correct horse battery');
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.getByRole('heading', { name: `Welcome, ${username}` }).waitFor();
}

/** Creates a room through the dialog and waits until it is open. */
export async function createRoom(page, name, visibility = 'public') {
  await page.getByRole('button', { name: 'Create room' }).first().click();
  const dialog = page.getByRole('dialog', { name: 'Create a room' });
  await dialog.getByLabel('Room name').fill(name);
  await dialog.getByLabel('Visibility').selectOption(visibility);
  await dialog.getByRole('button', { name: 'Create room' }).click();
  await page.getByRole('heading', { level: 1, name }).waitFor();
  return Number(/\/rooms\/(\d+)/.exec(page.url())[1]);
}

/** Joins a public room from the browse page. */
export async function joinPublicRoom(page, name) {
  await page.getByRole('link', { name: 'Browse public rooms' }).click();
  await page.getByRole('button', { name: `Join ${name}` }).click();
  await page.getByRole('heading', { level: 1, name }).waitFor();
}

/** Joins the call of the open room through its pre-join; resolves with the
 * page-clock time (performance.now()) of the click on "Join now": the click
 * event's own time stamp, not when Playwright set out to click (its checks
 * that the button is visible and still wait for animation frames, which on
 * a busy page took up to 370 ms). */
export async function joinCall(page) {
  await page.getByRole('button', { name: 'Join call' }).click();
  const joinNow = page.getByRole('button', { name: 'Join now' });
  await joinNow.waitFor();
  await joinNow.evaluate((button) => {
    button.addEventListener('click', (event) => (window.__joinClickedAt = event.timeStamp), { once: true, capture: true });
  });
  await joinNow.click();
  await page.getByRole('group', { name: 'Call controls' }).waitFor();
  const clickedAt = await page.evaluate(() => window.__joinClickedAt);
  if (typeof clickedAt !== 'number') throw new Error('the click on "Join now" was not seen');
  return clickedAt;
}

export async function sendMessage(page, body) {
  const composer = page.getByRole('textbox', { name: 'Message', exact: true });
  await composer.fill(body);
  await composer.press('Enter');
}

/** The committed (not pending) message whose text contains `text`. */
export function messageWith(page, text) {
  return page.locator('li.message[data-message-id]').filter({ hasText: text });
}

/** Retries `check` until it stops throwing, for at most `timeout` ms. */
export async function eventually(check, timeout = UI_TIMEOUT_MS) {
  const deadline = Date.now() + timeout;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}
