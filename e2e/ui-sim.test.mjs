// The Simulator with no isolab server at all (a static copy of frontend/dist): the
// same views, fed by the model kernel in the page; its terminal runs the simulated shell.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { launchBrowser, artifactsDir } from './support.mjs';
import { serveStatic } from './static-server.mjs';

let site;
let browser;

before(async () => {
  mkdirSync(artifactsDir, { recursive: true });
  site = await serveStatic();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await site?.close();
});

/// Types a line into the visible xterm.js terminal and waits for `expect` on screen.
async function typeLine(page, line, expect) {
  const term = page.locator('.term-body:not([hidden]) .xterm');
  await term.click();
  await page.keyboard.type(line);
  await page.keyboard.press('Enter');
  if (expect) {
    await page.locator('.term-body:not([hidden]) .xterm-rows').filter({ hasText: expect }).waitFor({ timeout: 10000 });
  }
  return page.locator('.term-body:not([hidden]) .xterm-rows').innerText();
}

test('without a server the page offers the simulator, and the simulator works', async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: site.base });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(site.base + '/');
  // First render: from navigation start to the app's frame in the document (polled per frame).
  const firstRender = await (await page.waitForFunction(
    () => document.querySelector('.frame') && performance.now(), null, { polling: 'raf', timeout: 15000 },
  )).jsonValue();
  await page.getByText('No isolab server').waitFor({ timeout: 15000 });
  const dist = 'frontend/dist';
  const wasm = readdirSync(dist).find((f) => f.endsWith('.wasm'));
  const release = statSync(join(dist, wasm)).size < 3_000_000;
  console.log(`# first render ${firstRender.toFixed(0)} ms (${release ? 'release' : 'debug'} build)`);
  if (release) assert.ok(firstRender < 1000, `first render ${firstRender} ms`);
  await page.getByRole('button', { name: 'Open the simulator' }).click();

  // Dashboard: the two-containers scenario.
  await page.locator('.simulator .container-row').first().waitFor();
  const rows = await page.locator('.simulator .container-row .cname').allInnerTexts();
  assert.deepEqual(rows.sort(), ['db', 'web']);
  await page.screenshot({ path: join(artifactsDir, 'ui-sim-dashboard.png') });

  // Create a container from the dialog.
  await page.locator('.simulator').getByRole('button', { name: 'New container…' }).click();
  await page.locator('.simulator #create-name').fill('lab');
  await page.locator('.simulator #create-hostname').fill('labhost');
  await page.locator('.simulator').getByRole('button', { name: 'Create and start' }).click();
  await page.locator('.simulator .container-row .cname', { hasText: 'lab' }).waitFor();

  // Namespace map: nested numbering visible for the pid kind.
  await page.locator('.simulator').getByRole('button', { name: 'Namespace map' }).click();
  await page.locator('.simulator .ns-map .node').first().waitFor();
  const labels = await page.locator('.simulator .ns-map .node text').allTextContents();
  assert.ok(labels.some((l) => /→1$/.test(l)), `a container PID 1 is labelled host→1: ${labels.join(' ')}`);
  await page.locator('.simulator .ns-map .node').last().hover();
  await page.locator('.simulator .details h3').waitFor();
  await page.screenshot({ path: join(artifactsDir, 'ui-sim-map.png') });
  await page.locator('.simulator').getByRole('button', { name: 'net', exact: true }).click();
  await page.screenshot({ path: join(artifactsDir, 'ui-sim-map-net.png') });

  await page.locator('.simulator').getByRole('button', { name: 'Containers vs VMs' }).click();
  await page.getByText('ONE host kernel').first().waitFor();
  await page.screenshot({ path: join(artifactsDir, 'ui-sim-vms.png') });

  await page.locator('.simulator').getByRole('button', { name: 'Creation steps' }).click();
  await page.locator('.simulator .timeline .step').first().waitFor();
  await page.screenshot({ path: join(artifactsDir, 'ui-sim-steps.png') });

  // The simulated shell through xterm.js: line editing, history, Ctrl-C.
  await page.locator('.simulator').getByRole('button', { name: /^Terminals/ }).click();
  await page.locator('.simulator .term-body:not([hidden]) .xterm').waitFor();
  let screen = await typeLine(page, 'hostname', 'isolab-host');
  await page.keyboard.type('echo nope');
  await page.keyboard.press('Control+C');
  await page.locator('.term-body:not([hidden]) .xterm-rows').filter({ hasText: '^C' }).waitFor();
  await page.keyboard.press('ArrowUp');
  await page.keyboard.press('Enter');
  // The re-run's output is drawn on a later frame: wait for its second hostname line.
  await page.waitForFunction(() => {
    const rows = document.querySelector('.term-body:not([hidden]) .xterm-rows');
    return rows && rows.innerText.split('isolab-host').length >= 3;
  }, null, { timeout: 10000 }).catch(() => {});
  screen = await page.locator('.term-body:not([hidden]) .xterm-rows').innerText();
  assert.ok(screen.split('isolab-host').length >= 3, `history re-ran hostname:\n${screen}`);
  // Paste (Ctrl+Shift+V) goes through the line editor; copy (Ctrl+Shift+C) takes the selection.
  await page.evaluate(() => navigator.clipboard.writeText('echo pasted-ok'));
  await page.keyboard.press('Control+Shift+V');
  await page.keyboard.press('Enter');
  await page.locator('.term-body:not([hidden]) .xterm-rows > div', { hasText: /^pasted-ok\s*$/ }).waitFor({ timeout: 10000 });
  const box = await page.locator('.term-body:not([hidden]) .xterm-rows > div', { hasText: /^pasted-ok\s*$/ }).boundingBox();
  await page.mouse.dblclick(box.x + 12, box.y + box.height / 2);
  await page.keyboard.press('Control+Shift+C');
  await page.waitForFunction(async () => /pasted/.test(await navigator.clipboard.readText()), null, { timeout: 5000 });
  await typeLine(page, 'unshare -p -f --mount-proc sh', null);
  screen = await typeLine(page, 'ps', 'PID');
  await page.screenshot({ path: join(artifactsDir, 'ui-sim-terminal.png') });

  // Exec from the dashboard opens a shell in the container, in the same terminal.
  await page.locator('.simulator').getByRole('button', { name: 'Dashboard' }).click();
  await page.locator('.simulator').getByRole('button', { name: 'exec a shell in lab' }).click();
  screen = await typeLine(page, 'hostname', 'labhost');

  // Reset to the empty scenario: no containers, a fresh shell.
  await page.locator('.simulator #scenario').selectOption('empty');
  await page.locator('.simulator').getByRole('button', { name: 'Reset to scenario' }).click();
  await page.locator('.simulator').getByText('No containers yet').waitFor();
  await page.locator('.simulator').getByRole('button', { name: /^Terminals/ }).click();
  // xterm draws its rows on the next animation frame, and redraws them all when the
  // terminal, opened while hidden, is shown and fitted: read the text that matched,
  // in the same frame.
  screen = await (await page.waitForFunction(() => {
    const text = document.querySelector('.term-body:not([hidden]) .xterm-rows')?.innerText ?? '';
    return /scenario empty/.test(text) && text;
  }, null, { polling: 'raf', timeout: 10000 })).jsonValue();
  assert.match(screen, /scenario empty/);
  assert.ok(!screen.includes('labhost'), 'the terminal starts over');

  // Reset to the nested pid namespace: the map shows three NSpid levels.
  await page.locator('.simulator #scenario').selectOption('nested-pid');
  await page.locator('.simulator').getByRole('button', { name: 'Reset to scenario' }).click();
  await page.locator('.simulator').getByRole('button', { name: 'Namespace map' }).click();
  await page.waitForFunction(() => [...document.querySelectorAll('.simulator .ns-map .node text')]
    .some((t) => /^\d+→\d+→\d+$/.test(t.textContent)), null, { timeout: 10000 });
  await page.locator('.simulator .ns-map .group-title', { hasText: 'nested inside outer' }).waitFor();
  await page.screenshot({ path: join(artifactsDir, 'ui-sim-nested-pid.png') });
  assert.deepEqual(errors, []);
  await context.close();
});
