// Lessons end to end: the real `isolab serve` serves the page; a lesson runs on the
// simulator in the page. The "try" buttons turn steps green by themselves, a step URL
// survives a reload, a prediction shows the simulator's answer beside the kernel's, and
// the picture beside the terminals has the tabs the lesson names.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, launchBrowser, artifactsDir } from './support.mjs';
import { serveStatic } from './static-server.mjs';

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

const PID_TITLE = "PID namespaces: PID 1 inside, the host's view outside";

/// Clicks a button and resolves with the ms until step `n` is marked done in the list.
async function clickUntilDone(page, button, n) {
  const started = Date.now();
  await button.click();
  await page.locator(`.step-list li.done:nth-child(${n})`).waitFor({ timeout: 10000 });
  return Date.now() - started;
}

test('a lesson walks on the simulator: try buttons, green steps, step URLs, predictions', async () => {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(server.url);
  await page.getByRole('status').filter({ hasText: 'Connected' }).waitFor({ timeout: 15000 });
  await page.getByRole('button', { name: 'Lessons' }).click();
  assert.match(page.url(), /#\/lessons$/);
  await page.getByRole('link', { name: PID_TITLE }).click();
  assert.match(page.url(), /#\/lessons\/pid\/1$/);
  await page.getByRole('heading', { name: 'Step 1: Start a process inside' }).waitFor();
  // With a server, the lesson can run on live containers; it opens on the simulator.
  await page.getByRole('button', { name: 'Simulator', pressed: true }).waitFor();

  // Step 1 asks first: the try buttons wait for the answer.
  const tryBox = page.getByRole('button', { name: 'Try: type sleep 1000 & into the box terminal' });
  assert.ok(await tryBox.isDisabled(), 'try waits for the prediction');
  await page.getByRole('radio', { name: '/bin/sh' }).check();
  await page.getByRole('button', { name: 'Answer', exact: true }).click();
  await page.locator('.answers').waitFor();
  const ms = await clickUntilDone(page, tryBox, 1);
  console.log(`# step 1 turned green ${ms} ms after its try button`);
  assert.ok(ms < 3000, `green within a moment, not a poll (${ms} ms)`);
  await page.getByText('✓ Done: the machine shows it.').waitFor();
  // The command went through the box's terminal, as typed keys.
  await page.locator('.term-body:not([hidden]) .xterm-rows').filter({ hasText: 'sleep 1000 &' }).waitFor();
  // The prediction: the student's, the simulator's, the kernel's (asked when the lesson
  // runs on live containers: lessons-live.test.mjs).
  await page.locator('.sim-answer').filter({ hasText: 'isolab-init' }).waitFor();
  assert.match(await page.locator('.kernel-answer').innerText(), /live containers/);
  await page.getByText('your prediction differs from the simulator').waitFor();
  // A screen reader hears the step turn green.
  await page.locator('[aria-live="polite"]').filter({ hasText: 'Step 1 done' }).waitFor();
  await page.screenshot({ path: join(artifactsDir, 'lessons-step1.png') });

  await page.getByRole('link', { name: 'Next step →' }).click();
  assert.match(page.url(), /#\/lessons\/pid\/2$/);
  await page.getByRole('heading', { name: /^Step 2:/ }).waitFor();
  const step2 = await clickUntilDone(
    page, page.getByRole('button', { name: 'Try: type sleep 2000 & into the host terminal' }), 2);
  console.log(`# step 2 turned green ${step2} ms after its try button`);

  // A step URL survives a reload: same step, the earlier steps replayed and kept done.
  await page.goto(server.base + '/#/lessons/pid/3');
  await page.reload();
  await page.getByRole('heading', { name: 'Step 3: One process, two PIDs' }).waitFor({ timeout: 15000 });
  assert.equal(await page.locator('.step-list li.done').count(), 2, 'steps 1 and 2 stay done');
  assert.equal(await page.locator('.step-list [aria-current="step"]').innerText(), '○ 3. One process, two PIDs');
  await page.getByRole('button', { name: 'Show me' }).click();
  const typeIt = page.getByRole('button', { name: /^Type it: type kill \{pid:box:sleep 1000\}/ });
  await clickUntilDone(page, typeIt, 3);
  await page.locator('[aria-live="polite"]').filter({ hasText: 'The lesson is complete' }).waitFor();
  // The typed line carried the real host PID, not the placeholder.
  await page.locator('.term-body:not([hidden]) .xterm-rows').filter({ hasText: /kill \d+/ }).waitFor();
  await page.screenshot({ path: join(artifactsDir, 'lessons-step3.png') });

  // Reset goes back to where the step begins: open again, and green again by the solution.
  await page.getByRole('button', { name: 'Reset to the start of this step' }).click();
  await page.locator('.step-list li.done').nth(1).waitFor();
  await page.waitForFunction(() => document.querySelectorAll('.step-list li.done').length === 2);
  await clickUntilDone(page, typeIt, 3);

  // The list shows the progress.
  await page.getByRole('link', { name: '← All lessons' }).click();
  await page.locator('.lesson-item.complete .lesson-link', { hasText: PID_TITLE }).waitFor();
  assert.deepEqual(errors, []);
  await context.close();
});

test('with no server, lessons still run and the kernel column says so', async () => {
  const site = await serveStatic();
  try {
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const page = await context.newPage();
    await page.goto(site.base + '/#/lessons/pid/1');
    await page.getByRole('heading', { name: 'Step 1: Start a process inside' }).waitFor({ timeout: 15000 });
    await page.getByRole('radio', { name: 'isolab-init' }).check();
    await page.getByRole('button', { name: 'Answer', exact: true }).click();
    assert.equal(await page.locator('.kernel-answer').innerText(), 'no server');
    await clickUntilDone(page, page.getByRole('button', { name: 'Try: type sleep 1000 & into the box terminal' }), 1);
    await page.locator('.sim-answer').filter({ hasText: 'isolab-init' }).waitFor();
    await page.getByText('your prediction matches the simulator').waitFor();
    // A lesson names the tabs of its picture: the VMs lesson opens on the figures, the
    // box's setup time next to the published VM figures, and has no limits tab.
    await page.goto(site.base + '/#/lessons/vms/1');
    await page.getByRole('heading', { name: /^Step 1:/ }).waitFor({ timeout: 15000 });
    const machine = page.locator('.lesson-machine');
    await machine.getByRole('button', { name: 'Figures', pressed: true }).waitFor();
    const tabs = await machine.locator('nav.sub-tabs button').allInnerTexts();
    assert.deepEqual(tabs, ['Figures', 'Namespace map', 'Creation steps']);
    await machine.getByRole('heading', { name: /Virtual machines \(published references/ }).waitFor();
    await machine.locator('.figures tr', { hasText: 'box' }).locator('.figure').filter({ hasText: / ms$/ }).waitFor();
    await machine.getByText('simulated steps (model durations, not this host)').waitFor();
    // A lesson file with a mistake: its file, line and field are named.
    await page.goto(site.base + '/#/lessons');
    await page.locator('#lesson-file').setInputFiles({
      name: '99-bad.toml',
      mimeType: 'text/plain',
      buffer: Buffer.from('id = "bad"\ntitle = "t"\nsummary = "s"\nsources = ["sim"]\nexpect = 1\n'),
    });
    await page.getByText(/^99-bad\.toml:\d+: /).waitFor();
    await context.close();
  } finally {
    await site.close();
  }
});
