// The interface follows the browser's language, and the setting overrides it.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launchBrowser, openPage, startServer } from './harness.mjs';

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

test('a French browser gets the French interface', { timeout: 60_000 }, async () => {
  const page = await openPage(browser, { locale: 'fr-FR' });
  await page.goto(`${server.url}/login`);

  await page.getByRole('heading', { name: 'Connexion à Mesh' }).waitFor();
  await page.getByRole('button', { name: 'Se connecter' }).waitFor();
  await page.getByLabel('Nom d’utilisateur ou e-mail').waitFor();
  await page.getByLabel('Mot de passe').waitFor();
  assert.equal(await page.locator('html').getAttribute('lang'), 'fr');

  // Registering in French leads to a French home page.
  await page.getByRole('link', { name: 'Créer un compte' }).click();
  await page.getByLabel('Nom d’utilisateur').fill('camille');
  await page.getByLabel('E-mail').fill('camille@example.test');
  await page.getByLabel('Mot de passe').fill('correct horse battery');
  await page.getByRole('button', { name: 'Créer le compte' }).click();
  await page.getByRole('heading', { name: 'Bienvenue, camille' }).waitFor();
  await page.getByRole('button', { name: 'Créer un salon' }).waitFor();
  await page.getByRole('button', { name: 'Se déconnecter' }).waitFor();

  // The language setting overrides the browser and is remembered.
  await page.getByLabel('Langue').selectOption('en');
  await page.getByRole('button', { name: 'Create room' }).waitFor();
  assert.equal(await page.locator('html').getAttribute('lang'), 'en');
  await page.reload();
  await page.getByRole('button', { name: 'Log out' }).waitFor();
});
