// End to end: the real `isolab serve` binary, opened in headless Chromium.
//
// ISOLAB_BIN names the binary (./x test builds it); screenshots go to ISOLAB_ARTIFACTS.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, launchBrowser, artifactsDir } from './support.mjs';

let server;
let browser;

before(async () => {
  mkdirSync(artifactsDir, { recursive: true });
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('the token URL renders the app, connected to the backend', async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  await page.goto(server.url);
  const badge = page.getByRole('status');
  await badge.filter({ hasText: 'Connected' }).waitFor({ timeout: 15000 });
  const text = await page.locator('body').innerText();
  for (const label of ['isolab', 'Live', 'Simulator', 'Lessons', 'This host', 'Kernel']) {
    assert.ok(text.includes(label), `page shows "${label}":\n${text}`);
  }
  const version = await (await fetch(`${server.base}/api/v1/version`, {
    headers: { Authorization: `Bearer ${server.token}` },
  })).json();
  assert.ok(text.includes(version.kernel_release), 'the kernel release is shown');
  assert.ok(text.includes(version.cgroup_mode), 'the cgroup mode is shown');
  // The token leaves the address bar but stays for reloads.
  assert.ok(!page.url().includes('token='), `token removed from ${page.url()}`);
  await page.screenshot({ path: join(artifactsDir, 'e2e-live.png') });
  await page.reload();
  await badge.filter({ hasText: 'Connected' }).waitFor({ timeout: 15000 });
  // Navigation switches views.
  await page.getByRole('button', { name: 'Lessons' }).click();
  await page.getByRole('link', { name: 'PID namespaces: PID 1 inside, the host\'s view outside' }).waitFor({ timeout: 20000 });
  await page.screenshot({ path: join(artifactsDir, 'e2e-learn.png') });
  await context.close();
});

test('without a token the API says 401 and the page says how to get one', async () => {
  const response = await fetch(`${server.base}/api/v1/version`);
  assert.equal(response.status, 401);
  const body = await response.json();
  assert.equal(body.error.code, 'unauthorized');
  assert.match(body.error.message, /token/);

  const context = await browser.newContext({ viewport: { width: 1024, height: 768 } });
  const page = await context.newPage();
  await page.goto(server.base + '/');
  await page.getByRole('status').filter({ hasText: 'Token needed' }).waitFor({ timeout: 15000 });
  const text = await page.locator('body').innerText();
  assert.match(text, /A token is needed/);
  assert.match(text, /isolab serve/);
  await page.screenshot({ path: join(artifactsDir, 'e2e-token-needed.png') });
  await context.close();
});

test('a wrong token is refused with the same message', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${server.base}/?token=not-the-token`);
  await page.getByRole('status').filter({ hasText: 'Token needed' }).waitFor({ timeout: 15000 });
  assert.match(await page.locator('body').innerText(), /token is wrong/);
  await context.close();
});
