// A browser that refuses the camera and microphone: a French user is told, in
// French, what to do about it, and can still join the call to listen.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launchBrowser, openPage, startServer } from './harness.mjs';

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launchBrowser({ media: 'denied' });
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('a denied camera and microphone get a French explanation', { timeout: 60_000 }, async () => {
  const page = await openPage(browser, { locale: 'fr-FR' });
  await page.goto(`${server.url}/register`);
  await page.getByLabel('Nom d’utilisateur').fill('camille');
  await page.getByLabel('E-mail').fill('camille@example.test');
  await page.getByLabel('Mot de passe').fill('correct horse battery');
  await page.getByRole('button', { name: 'Créer le compte' }).click();
  await page.getByRole('heading', { name: 'Bienvenue, camille' }).waitFor();

  await page.getByRole('button', { name: 'Créer un salon' }).first().click();
  const dialog = page.getByRole('dialog', { name: 'Créer un salon' });
  await dialog.getByLabel('Nom du salon').fill('équipe');
  await dialog.getByRole('button', { name: 'Créer le salon' }).click();
  await page.getByRole('heading', { level: 1, name: 'équipe' }).waitFor();

  await page.getByRole('button', { name: 'Rejoindre l’appel' }).click();
  const alert = page.getByRole('alert').filter({ hasText: 'L’accès à la caméra et au micro est refusé.' });
  await alert.waitFor();
  assert.match(await alert.innerText(), /Autorisez-le dans les paramètres du site/);

  // Without camera or microphone, joining still works (to listen).
  assert.equal(await page.getByLabel('Micro activé').isChecked(), false);
  assert.equal(await page.getByLabel('Caméra activée').isChecked(), false);
  await page.getByRole('button', { name: 'Rejoindre maintenant' }).click();
  await page.getByRole('group', { name: 'Commandes de l’appel' }).waitFor();
  await page.getByRole('figure', { name: 'camille (vous)' }).getByRole('img', { name: 'Micro coupé' }).waitFor();
  await page.getByRole('button', { name: 'Quitter l’appel' }).click();
  await page.getByRole('button', { name: 'Rejoindre l’appel' }).waitFor();
});
