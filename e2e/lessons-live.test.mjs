// A lesson on live containers, end to end: the real `isolab serve` as root, headless
// Chromium. The page starts a lesson session (real setup containers), the "try"
// buttons type into their terminals and into the session's root shell on the host,
// the steps turn green by themselves, the picture beside the terminals (map, creation
// steps, limits) shows the session's containers as the events stream pushes them, the
// prediction shows the simulator's and the kernel's answers side by side, a reload on
// a step's URL reopens that step on live, and leaving the lesson removes its
// containers. In a class, a student's passed step reaches the teacher's roster, and a
// lesson that types into the host's root shell stays on the simulator for the student.
// A lesson whose student builds namespaces by hand in the host shell sees them drawn.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, launchBrowser, artifactsDir } from './support.mjs';

const root = process.getuid?.() === 0;
let server;
let browser;

before(async () => {
  if (!root) return;
  mkdirSync(artifactsDir, { recursive: true });
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

const PID_TITLE = "PID namespaces: PID 1 inside, the host's view outside";

/// The server's containers, as the admin's API lists them.
async function containers() {
  const response = await fetch(`${server.base}/api/v1/containers`, {
    headers: { authorization: `Bearer ${server.token}` },
  });
  assert.equal(response.status, 200);
  return response.json();
}

/// The inode of the host's `kind` namespace: this test's own, which the server it
/// started shares.
function hostNamespace(kind) {
  return readlinkSync(`/proc/self/ns/${kind}`).match(/\[(\d+)\]/)[1];
}

/// The map's group of the lesson's container `name` (named `NAME-SUFFIX` on the host)
/// in the lesson's picture.
function mapGroupOf(page, name) {
  const toggle = page.getByRole('button', { name: new RegExp(`^${name}-\\w+, \\d+ process(es)?: collapse$`) });
  return page.locator('.lesson-machine .ns-group', { has: toggle });
}

/// Leaves the lesson for the list, and waits for its session's containers to go.
async function leaveLesson(page) {
  await page.getByRole('link', { name: '← All lessons' }).click();
  const deadline = Date.now() + 10000;
  while ((await containers()).length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.deepEqual(await containers(), []);
}

/// Clicks a button and resolves with the ms until step `n` is marked done in the list.
async function clickUntilDone(page, button, n) {
  const started = Date.now();
  await button.click();
  await page.locator(`.step-list li.done:nth-child(${n})`).waitFor({ timeout: 15000 });
  return Date.now() - started;
}

test('a lesson walks on live containers: try buttons, green steps, the kernel answers', { skip: !root && 'live containers need root' }, async () => {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(server.url);
  await page.getByRole('status').filter({ hasText: 'Connected' }).waitFor({ timeout: 15000 });
  await page.getByRole('button', { name: 'Lessons' }).click();
  await page.getByRole('link', { name: PID_TITLE }).click();
  await page.getByRole('heading', { name: 'Step 1: Start a process inside' }).waitFor();
  assert.deepEqual(await containers(), []);

  await page.getByRole('button', { name: 'Live containers' }).click();
  await page.getByRole('button', { name: 'Live containers', pressed: true }).waitFor();
  // The session's setup container is a real one, and its terminal a tab.
  await page.getByRole('tab', { name: 'box' }).waitFor({ timeout: 15000 });
  await page.getByRole('tab', { name: 'host' }).waitFor();
  const made = await containers();
  assert.equal(made.length, 1, JSON.stringify(made));
  assert.match(page.url(), /#\/lessons\/pid\/1\/live$/);

  // Beside the terminals, the live picture of the session's containers, and of nothing
  // else on the host: the map puts the box's processes in a pid namespace of its own,
  // not the host's.
  const machine = page.locator('.lesson-machine');
  await machine.getByRole('button', { name: 'Namespace map', pressed: true }).waitFor();
  const box = mapGroupOf(page, 'box');
  await box.waitFor({ timeout: 10000 });
  assert.notEqual(await box.getAttribute('data-inode'), hostNamespace('pid'));
  assert.equal(await machine.locator('.ns-group').count(), 1, 'only the box is drawn');

  await page.getByRole('radio', { name: '/bin/sh' }).check();
  await page.getByRole('button', { name: 'Answer', exact: true }).click();
  const step1 = await clickUntilDone(
    page, page.getByRole('button', { name: 'Try: type sleep 1000 & into the box terminal' }), 1);
  console.log(`# live step 1 turned green ${step1} ms after its try button`);
  // The events stream brought the box's new process onto the map.
  await machine.getByRole('searchbox', { name: 'Find a process' }).fill('sleep 1000');
  await machine.locator('.match-count', { hasText: '1 match' }).waitFor({ timeout: 5000 });
  await box.locator('.node.match').waitFor();
  // The line went into the box's own terminal.
  await page.locator('.term-body:not([hidden]) .xterm-rows').filter({ hasText: 'sleep 1000 &' }).waitFor();
  // The kernel's answer and the simulator's, side by side: here they agree.
  await page.locator('.kernel-answer').filter({ hasText: 'isolab-init' }).waitFor({ timeout: 15000 });
  await page.locator('.sim-answer').filter({ hasText: 'isolab-init' }).waitFor();
  assert.equal(await page.locator('.finding').count(), 0);
  await page.screenshot({ path: join(artifactsDir, 'lessons-live-step1.png') });

  // The creation steps of the box, as the runtime recorded them, and its limits.
  await machine.getByRole('button', { name: 'Creation steps' }).click();
  assert.equal(await machine.getByRole('combobox', { name: 'container' }).inputValue(), made[0].id);
  await machine.locator('.timeline .step.phase-namespaces').first().waitFor({ timeout: 10000 });
  await machine.getByRole('button', { name: 'Containers and limits' }).click();
  await machine.locator('.container-row', { hasText: 'box' }).waitFor();
  await machine.getByRole('img', { name: /^tasks \d+ of \d+$/ }).waitFor({ timeout: 10000 });
  assert.equal(await machine.locator('.container-row').count(), 1);
  assert.equal(await machine.getByRole('button', { name: 'New container…' }).count(), 0,
    'a lesson on live makes no container of its own');

  await page.getByRole('link', { name: 'Next step →' }).click();
  await page.getByRole('heading', { name: /^Step 2:/ }).waitFor();
  const step2 = await clickUntilDone(
    page, page.getByRole('button', { name: 'Try: type sleep 2000 & into the host terminal' }), 2);
  console.log(`# live step 2 turned green ${step2} ms after its try button`);

  await page.getByRole('link', { name: 'Next step →' }).click();
  await page.getByRole('heading', { name: 'Step 3: One process, two PIDs' }).waitFor();
  assert.match(page.url(), /#\/lessons\/pid\/3\/live$/);

  // A reload on the step's URL reopens that step on live containers: the tab's session
  // is reset to where step 3 begins (the earlier solutions typed), not left running.
  await page.reload();
  await page.getByRole('heading', { name: 'Step 3: One process, two PIDs' }).waitFor({ timeout: 15000 });
  await page.getByRole('button', { name: 'Live containers', pressed: true }).waitFor();
  await page.getByRole('tab', { name: 'box' }).waitFor({ timeout: 15000 });
  await mapGroupOf(page, 'box').waitFor({ timeout: 10000 });
  assert.equal(await page.locator('.step-list li.done').count(), 2, 'steps 1 and 2 stay done');
  const afterReload = await containers();
  assert.equal(afterReload.length, 1, JSON.stringify(afterReload));
  assert.notEqual(afterReload[0].id, made[0].id, 'the reset made the box anew');

  await page.getByRole('button', { name: 'Show me' }).click();
  await clickUntilDone(
    page, page.getByRole('button', { name: /^Type it: type kill \{pid:box:sleep 1000\}/ }), 3);
  await page.locator('[aria-live="polite"]').filter({ hasText: 'The lesson is complete' }).waitFor();
  await page.screenshot({ path: join(artifactsDir, 'lessons-live-step3.png') });

  // Leaving the lesson ends its session: its container goes.
  await leaveLesson(page);
  assert.deepEqual(errors, []);
  await context.close();
});

test('a container by hand on live: the picture draws the namespaces the host shell made', { skip: !root && 'live containers need root' }, async () => {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${server.url}#/lessons/by-hand/1`);
  await page.getByRole('heading', { name: /^Step 1: unshare/ }).waitFor({ timeout: 15000 });
  await page.getByRole('button', { name: 'Live containers' }).click();
  await page.getByRole('tab', { name: 'host' }).waitFor({ timeout: 15000 });
  const machine = page.locator('.lesson-machine');
  const box = mapGroupOf(page, 'box');
  await box.waitFor({ timeout: 10000 });
  const boxInode = await box.getAttribute('data-inode');
  // Nothing typed yet: the host shell itself is not drawn, only the box.
  assert.equal(await machine.locator('.ns-group').count(), 1, 'only the box is drawn');

  await page.getByRole('button', { name: /^Try: type unshare -p -f/ }).click();
  // The shell unshare made is PID 1 of a pid namespace of its own: neither the host's
  // nor the box's, pushed onto the map by the host's process events.
  const made = machine.locator('.ns-group').filter({
    hasNot: page.getByRole('button', { name: /^box-\w+, / }),
  });
  const deadline = Date.now() + 15000;
  let inodes = [];
  while (Date.now() < deadline) {
    inodes = await made.evaluateAll((groups) => groups.map((g) => g.getAttribute('data-inode')));
    if (inodes.some((i) => i !== hostNamespace('pid') && i !== boxInode)) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.ok(inodes.some((i) => i !== hostNamespace('pid') && i !== boxInode),
    `a hand-made pid namespace on the map: ${JSON.stringify(inodes)}, box ${boxInode}`);
  await machine.screenshot({ path: join(artifactsDir, 'lessons-live-by-hand.png') });

  await leaveLesson(page);
  assert.deepEqual(errors, []);
  await context.close();
});

test('a student walks a lesson on live: the roster shows the step, host lessons stay on the simulator', { skip: !root && 'live containers need root' }, async () => {
  const stateRoot = join(tmpdir(), `isolab-e2e-lessons-class-${process.pid}`);
  const classServer = await startServer({ env: { ISOLAB_CLASSROOM: 'true', ISOLAB_STATE_ROOT: stateRoot } });
  try {
    let joinUrl;
    const deadline = Date.now() + 10000;
    while (!(joinUrl = classServer.output().match(/http:\/\/\S+\/join\/[A-Z0-9-]+/)?.[0])) {
      if (Date.now() > deadline) throw new Error(`no join URL printed:\n${classServer.output()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(joinUrl);
    await page.getByLabel('Your name, as the class knows you').fill('ada');
    await page.getByRole('button', { name: 'Join' }).click();
    await page.locator('.class-bar', { hasText: 'In class as ada' }).waitFor({ timeout: 15000 });
    await page.getByRole('status').filter({ hasText: 'events: live' }).waitFor({ timeout: 15000 });

    // The pid lesson types into the host: the student keeps the simulator, and is told why.
    await page.evaluate(() => { window.location.hash = '#/lessons/pid/1'; });
    await page.getByRole('heading', { name: 'Step 1: Start a process inside' }).waitFor({ timeout: 15000 });
    assert.ok(await page.getByRole('button', { name: 'Live containers' }).isDisabled());
    await page.getByText('only the teacher runs it on live').waitFor();

    // The limits lesson runs on live, in the student's own containers.
    await page.evaluate(() => { window.location.hash = '#/lessons/limits/1'; });
    await page.getByRole('heading', { name: /^Step 1: A fork bomb/ }).waitFor({ timeout: 15000 });
    await page.getByRole('button', { name: 'Live containers' }).click();
    await page.getByRole('tab', { name: 'bomb' }).waitFor({ timeout: 15000 });
    // The picture shows the student's own lesson containers.
    await mapGroupOf(page, 'bomb').waitFor({ timeout: 10000 });
    const ms = await clickUntilDone(page, page.getByRole('button', { name: /^Try: type sleep 100 & sleep 100/ }), 1);
    console.log(`# a student's live step 1 turned green ${ms} ms after its try button`);

    // The teacher's roster shows the passed step.
    let roster = [];
    const until = Date.now() + 10000;
    while (Date.now() < until) {
      const response = await fetch(`${classServer.base}/api/v1/classroom/students`, {
        headers: { authorization: `Bearer ${classServer.token}` },
      });
      roster = await response.json();
      if (roster[0]?.steps_passed >= 1) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(roster[0]?.name, 'ada');
    assert.equal(roster[0]?.steps_passed, 1, JSON.stringify(roster));
    assert.equal(roster[0]?.containers.length, 2, JSON.stringify(roster));
    assert.deepEqual(errors, []);
    await context.close();
  } finally {
    await classServer.stop();
    rmSync(stateRoot, { recursive: true, force: true });
  }
});
