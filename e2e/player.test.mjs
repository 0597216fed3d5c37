// The recording player against the real `isolab serve` as root: a container prints two
// lines a second apart and has its limits changed; its row's Recording button opens
// the player (fetched on demand), which plays its recording; scrubbing to the end shows
// both lines and the new limits, scrubbing back to the start shows neither, a marker
// jumps, and space plays.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, launchBrowser, artifactsDir } from './support.mjs';

const NAME = `player-${process.pid}`;
let server;
let browser;
let containerId;

const api = (path, init = {}) =>
  fetch(`${server.base}/api/v1${path}`, {
    ...init,
    headers: { Authorization: `Bearer ${server.token}`, 'Content-Type': 'application/json', ...(init.headers ?? {}) },
  });

before(async () => {
  mkdirSync(artifactsDir, { recursive: true });
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  if (server) {
    if (containerId) await api(`/containers/${containerId}`, { method: 'DELETE' }).catch(() => {});
    await server.stop();
  }
});

test('a container recording plays, scrubs, jumps to markers and shows the limits of the moment', async () => {
  const created = await api('/containers', {
    method: 'POST',
    body: JSON.stringify({
      name: NAME,
      tty: true,
      command: ['/bin/sh', '-c', 'echo first-line; sleep 1; echo second-line; sleep 3; echo last-line; sleep 60'],
    }),
  });
  assert.equal(created.status, 201, await created.clone().text());
  containerId = (await created.json()).id;
  // The limits change comes a second after second-line and two before last-line, so
  // a busy machine does not reorder them.
  await new Promise((r) => setTimeout(r, 2000));
  const patched = await api(`/containers/${containerId}/limits`, {
    method: 'PATCH',
    body: JSON.stringify({ pids: 77, memory_bytes: null, cpus: null }),
  });
  assert.equal(patched.status, 200, await patched.text());
  await new Promise((r) => setTimeout(r, 3000));

  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(server.url);
  await page.getByRole('status').filter({ hasText: 'events: live' }).waitFor({ timeout: 15000 });
  const live = page.locator('.pane-live');
  await live.getByRole('button', { name: `recordings of ${NAME}` }).click();

  // The newest recording of the container plays at once.
  const player = live.getByRole('region', { name: `recording player: ${NAME}` });
  await player.waitFor({ timeout: 15000 });
  const rows = player.locator('.xterm-rows');
  const timeline = player.getByRole('slider', { name: 'position in the recording' });
  const max = Number(await timeline.getAttribute('max'));
  assert.ok(max >= 2, `the recording lasts ${max} s`);

  // To the end: all lines, and the limits as changed.
  await timeline.fill(String(max));
  await rows.filter({ hasText: 'last-line' }).waitFor({ timeout: 5000 }).catch(async (e) => {
    // What the player showed instead, for the failure's report.
    await page.screenshot({ path: join(artifactsDir, 'player-failed.png') });
    console.log(`# at ${await timeline.inputValue()} s the player showed:`, JSON.stringify(await player.innerText()));
    throw e;
  });
  assert.match(await rows.innerText(), /first-line[\s\S]*second-line/);
  assert.equal(await player.locator('.player-limit-pids').innerText(), '77');
  await page.screenshot({ path: join(artifactsDir, 'player-end.png') });

  // Back to the start: the terminal starts over, and the limits are the first ones.
  await timeline.fill('0');
  await page.waitForFunction(
    () => !document.querySelector('.player .xterm-rows')?.textContent.includes('first-line'),
    null,
    { timeout: 5000 },
  );
  assert.doesNotMatch(await player.locator('.player-limit-pids').innerText().catch(() => ''), /^77$/);

  // A marker jumps there: the limits change brings pids 77 back.
  await player.getByRole('button', { name: /jump to .*limits changed/ }).click();
  await page.waitForFunction(
    () => document.querySelector('.player .player-limit-pids')?.textContent === '77',
    null,
    { timeout: 5000 },
  );
  // The terminal is written again from the start: wait for it to be drawn.
  await rows.filter({ hasText: 'second-line' }).waitFor({ timeout: 5000 });
  assert.doesNotMatch(await rows.innerText(), /last-line/);

  // Space plays from the player; it goes on to the end.
  await timeline.fill('0');
  await player.focus();
  await page.keyboard.press('ArrowRight');
  assert.notEqual(await timeline.inputValue(), '0', 'the right arrow seeks');
  await page.keyboard.press('Home');
  await page.keyboard.press('Space');
  const play = player.locator('.player-play');
  assert.equal(await play.getAttribute('aria-pressed'), 'true');
  await rows.filter({ hasText: 'last-line' }).waitFor({ timeout: 15000 });

  // The download link holds the same recording.
  const href = await player.getByRole('link', { name: 'Download .cast' }).getAttribute('href');
  assert.match(href, /^blob:/);
  const text = await page.evaluate(async (url) => (await fetch(url)).text(), href);
  assert.match(text.split('\n')[0], /"version":2/);
  assert.equal(errors.length, 0, errors.join('\n'));
  await page.close();
});
