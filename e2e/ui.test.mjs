// The UI against the real `isolab serve` as root: create a container from the dialog,
// see it in the list and on the map, run `hostname` in its terminal, reload and see the
// scrollback, remove it. A screenshot of each view goes to ISOLAB_ARTIFACTS.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, launchBrowser, artifactsDir } from './support.mjs';

const NAME = `ui-${process.pid}`;
const HOSTNAME = `uihost${process.pid}`;
let server;
let browser;

before(async () => {
  mkdirSync(artifactsDir, { recursive: true });
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  // Remove the container even when the test failed half-way.
  if (server) {
    const auth = { Authorization: `Bearer ${server.token}` };
    const list = await (await fetch(`${server.base}/api/v1/containers`, { headers: auth })).json().catch(() => []);
    for (const c of Array.isArray(list) ? list : []) {
      if (c.name === NAME) await fetch(`${server.base}/api/v1/containers/${c.id}`, { method: 'DELETE', headers: auth });
    }
    await server.stop();
  }
});

const live = (page) => page.locator('.pane-live');
const screen = (page) => live(page).locator('.term-body:not([hidden]) .xterm-rows');

test('create, map, terminal, reload, remove: the live UI end to end', async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  // Keep a handle on every WebSocket the page opens, to cut one and watch the reconnect.
  await context.addInitScript(() => {
    const Native = window.WebSocket;
    window.__sockets = [];
    window.WebSocket = class extends Native {
      constructor(...args) {
        super(...args);
        window.__sockets.push(this);
      }
    };
  });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  const t0 = Date.now();
  await page.goto(server.url);
  await page.getByRole('status').filter({ hasText: 'events: live' }).waitFor({ timeout: 15000 });
  console.log(`# connected, events socket open, in ${Date.now() - t0} ms`);

  // 1. Create from the dialog.
  await live(page).getByRole('button', { name: 'New container…' }).click();
  await live(page).locator('#create-name').fill(NAME);
  await live(page).locator('#create-hostname').fill(HOSTNAME);
  await page.screenshot({ path: join(artifactsDir, 'ui-live-create.png') });
  await live(page).getByRole('button', { name: 'Create and start' }).click();

  // 2. In the list, running, with its host PID 1.
  const row = live(page).locator('.container-row', { hasText: NAME });
  await row.locator('.status', { hasText: 'running' }).waitFor({ timeout: 15000 });
  const pid1 = (await row.locator('.pid1').innerText()).trim();
  assert.match(pid1, /^\d+$/, `PID 1 shown as a host PID: ${pid1}`);
  await page.screenshot({ path: join(artifactsDir, 'ui-live-dashboard.png') });

  // ...and on the map, as host PID → 1 in its own pid namespace.
  await live(page).getByRole('button', { name: 'Namespace map' }).click();
  const node = live(page).locator(`.ns-map .node[data-pid="${pid1}"]`);
  await node.waitFor({ timeout: 10000 });
  assert.equal((await node.locator('text').textContent()).trim(), `${pid1}→1`);
  await node.hover();
  await live(page).locator('.details h3', { hasText: `PID ${pid1}` }).waitFor();
  await page.screenshot({ path: join(artifactsDir, 'ui-live-map.png') });

  await live(page).getByRole('button', { name: 'Containers vs VMs' }).click();
  await live(page).locator('.stacks text', { hasText: NAME }).first().waitFor();
  await page.screenshot({ path: join(artifactsDir, 'ui-live-vms.png') });

  await live(page).getByRole('button', { name: 'Creation steps' }).click();
  await live(page).locator('.timeline .step').first().waitFor();
  await page.screenshot({ path: join(artifactsDir, 'ui-live-steps.png') });

  // 3. Its terminal: type hostname, read the answer.
  await live(page).getByRole('button', { name: 'Dashboard' }).click();
  await live(page).getByRole('button', { name: `terminal of ${NAME}` }).click();
  await live(page).locator('.terminal-status', { hasText: 'attached' }).waitFor({ timeout: 10000 });
  await live(page).locator('.term-body:not([hidden]) .xterm').click();
  await page.keyboard.type('hostname');
  await page.keyboard.press('Enter');
  await page.waitForFunction((h) => [...document.querySelectorAll('.pane-live .term-body:not([hidden]) .xterm-rows > div')]
    .some((r) => r.textContent.trim() === h), HOSTNAME, { timeout: 10000 });
  await page.screenshot({ path: join(artifactsDir, 'ui-live-terminal.png') });
  const before = await screen(page).innerText();

  // Connection drop: the terminal reconnects by itself from its byte offset, so
  // nothing is written twice and nothing is lost.
  await page.evaluate(() => window.__sockets
    .filter((s) => s.url.includes('/terminal') && s.readyState === WebSocket.OPEN)
    .forEach((s) => s.close()));
  const resumed = await (await page.waitForFunction(() => window.__sockets
    .find((s) => /\/terminal\?.*offset=\d+/.test(s.url) && s.readyState === WebSocket.OPEN)?.url,
  null, { timeout: 15000 })).jsonValue();
  assert.match(resumed, /offset=[1-9]\d*/, `reconnected with the byte offset: ${resumed}`);
  await live(page).locator('.terminal-status', { hasText: 'attached' }).waitFor({ timeout: 10000 });
  assert.equal(await screen(page).innerText(), before, 'nothing written twice on reconnect');

  // The event stream too: it resumes from the last sequence number it saw.
  await page.evaluate(() => window.__sockets
    .filter((s) => s.url.includes('/events') && s.readyState === WebSocket.OPEN)
    .forEach((s) => s.close()));
  const since = await (await page.waitForFunction(() => window.__sockets
    .find((s) => /\/events\?.*since=\d+/.test(s.url) && s.readyState === WebSocket.OPEN)?.url,
  null, { timeout: 15000 })).jsonValue();
  assert.match(since, /since=[1-9]\d*/, `resumed with since: ${since}`);
  await page.getByRole('status').filter({ hasText: 'events: live' }).waitFor({ timeout: 10000 });
  await live(page).getByRole('button', { name: 'Dashboard' }).click();
  await row.locator('.status', { hasText: 'running' }).waitFor();

  // 4. Reload: the terminal tab comes back and replays the scrollback once.
  await page.reload();
  await page.getByRole('status').filter({ hasText: 'events: live' }).waitFor({ timeout: 15000 });
  await live(page).getByRole('button', { name: /^Terminals \(1\)/ }).click();
  await live(page).locator('.terminal-status', { hasText: 'attached' }).waitFor({ timeout: 10000 });
  await page.waitForFunction((h) => [...document.querySelectorAll('.pane-live .term-body:not([hidden]) .xterm-rows > div')]
    .some((r) => r.textContent.trim() === h), HOSTNAME, { timeout: 10000 });
  const after = await screen(page).innerText();
  const count = (text) => text.split('\n').filter((l) => l.trim() === HOSTNAME).length;
  assert.equal(count(after), count(before), `scrollback replayed exactly once:\n${after}`);
  await page.screenshot({ path: join(artifactsDir, 'ui-live-terminal-reloaded.png') });

  // A second terminal: exec a shell, as a second tab; then view-only mode.
  await live(page).getByRole('button', { name: 'Dashboard' }).click();
  await live(page).getByRole('button', { name: `exec a shell in ${NAME}` }).click();
  await live(page).getByRole('button', { name: /^Terminals \(2\)/ }).waitFor();
  const exec = live(page).locator('.term-body:not([hidden])');
  await exec.locator('.terminal-status', { hasText: 'attached' }).waitFor({ timeout: 10000 });
  await exec.locator('.xterm').click();
  await page.keyboard.type('echo exec-$((6*7))');
  await page.keyboard.press('Enter');
  await exec.locator('.xterm-rows > div', { hasText: /^exec-42\s*$/ }).waitFor({ timeout: 10000 });
  await exec.getByLabel('view only (read-only)').check();
  await exec.locator('.terminal-status', { hasText: 'view only' }).waitFor({ timeout: 10000 });
  await exec.locator('.xterm').click();
  await page.keyboard.type('echo typed-in-view-mode');
  await page.keyboard.press('Enter');
  await page.waitForTimeout(500);
  assert.ok(!(await exec.locator('.xterm-rows').innerText()).includes('typed-in-view-mode'),
    'view mode sends no keystrokes');
  await page.screenshot({ path: join(artifactsDir, 'ui-live-terminal-tabs.png') });

  // 5. Remove it from the list.
  await live(page).getByRole('button', { name: 'Dashboard' }).click();
  await live(page).getByRole('button', { name: `Remove ${NAME}` }).click();
  await row.waitFor({ state: 'detached', timeout: 15000 });
  const list = await (await fetch(`${server.base}/api/v1/containers`, {
    headers: { Authorization: `Bearer ${server.token}` },
  })).json();
  assert.ok(!list.some((c) => c.name === NAME), 'the server no longer has it');
  assert.deepEqual(errors, []);
  await context.close();
});
