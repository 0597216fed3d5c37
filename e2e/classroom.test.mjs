// A class end to end, in Chromium against the real `isolab serve --classroom` as root:
// one teacher page and two student pages. Both students join through the join URL,
// each makes a container and types into its terminal; the teacher's roster shows both
// connected and the grid shows both terminals' output; a raised hand is seen and
// cleared; taking control is shown to the student; the teacher's broadcast is seen
// read-only; a removed student's page says so. Screenshots go to ISOLAB_ARTIFACTS.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, launchBrowser, artifactsDir } from './support.mjs';

const stateRoot = join(tmpdir(), `isolab-e2e-class-${process.pid}`);
const TEACHERS = `teacher-${process.pid}`;
let server;
let browser;
let joinUrl;

before(async () => {
  mkdirSync(artifactsDir, { recursive: true });
  server = await startServer({ env: { ISOLAB_CLASSROOM: 'true', ISOLAB_STATE_ROOT: stateRoot } });
  const deadline = Date.now() + 10000;
  while (!(joinUrl = server.output().match(/http:\/\/\S+\/join\/[A-Z0-9-]+/)?.[0])) {
    if (Date.now() > deadline) throw new Error(`no join URL printed:\n${server.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  // SIGINT: the server removes every container it made, students' and teacher's.
  await server?.stop();
  rmSync(stateRoot, { recursive: true, force: true });
});

/// A fresh page (its own sessionStorage) that reports script errors into `errors`.
async function newPage(errors) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.on('pageerror', (e) => errors.push(String(e)));
  return page;
}

/// Whether a row of the terminal in `scope` (a CSS selector) reads `text`.
function waitForRow(page, scope, text) {
  return page.waitForFunction(([s, t]) => [...document.querySelectorAll(`${s} .xterm-rows > div`)]
    .some((r) => r.textContent.trim() === t), [scope, text], { timeout: 15000 });
}

/// Joins as `name` through the join URL; resolves once the student's page is live.
async function joinAs(page, name) {
  await page.goto(joinUrl);
  await page.getByLabel('Your name, as the class knows you').fill(name);
  await page.getByRole('button', { name: 'Join' }).click();
  await page.locator('.class-bar', { hasText: `In class as ${name}` }).waitFor({ timeout: 15000 });
  await page.getByRole('status').filter({ hasText: 'events: live' }).waitFor({ timeout: 15000 });
}

/// Creates a container from the dialog, opens its terminal and runs `echo WORD`.
async function makeAndType(page, name, word) {
  const live = page.locator('.pane-live');
  await live.getByRole('button', { name: 'New container…' }).click();
  await live.locator('#create-name').fill(name);
  await live.getByRole('button', { name: 'Create and start' }).click();
  await live.locator('.container-row', { hasText: name }).locator('.status', { hasText: 'running' })
    .waitFor({ timeout: 20000 });
  await live.getByRole('button', { name: `terminal of ${name}` }).click();
  const body = live.locator('.term-body:not([hidden])');
  await body.locator('.terminal-status', { hasText: 'attached' }).waitFor({ timeout: 10000 });
  await body.locator('.xterm').click();
  await page.keyboard.type(`echo ${word}`);
  await page.keyboard.press('Enter');
  await waitForRow(page, '.pane-live .term-body:not([hidden])', word);
}

test('a class: join, roster, grid, hands, control, broadcast, removal', async () => {
  const errors = [];
  const teacher = await newPage(errors);
  await teacher.goto(server.url);
  await teacher.getByRole('status').filter({ hasText: 'events: live' }).waitFor({ timeout: 15000 });

  const ada = await newPage(errors);
  const bob = await newPage(errors);
  await joinAs(ada, 'Ada');
  await joinAs(bob, 'Bob');
  // A name taken (in any case) is refused with one line.
  const third = await newPage(errors);
  await third.goto(joinUrl);
  await third.getByLabel('Your name, as the class knows you').fill('ada');
  await third.getByRole('button', { name: 'Join' }).click();
  await third.getByRole('alert').filter({ hasText: 'taken' }).waitFor({ timeout: 10000 });
  await third.screenshot({ path: join(artifactsDir, 'class-join-refused.png') });
  await third.context().close();

  await makeAndType(ada, `ada-${process.pid}`, 'hello-from-ada');
  await makeAndType(bob, `bob-${process.pid}`, 'hello-from-bob');
  await ada.screenshot({ path: join(artifactsDir, 'class-student.png') });

  // The teacher's roster: both, connected; the grid: both terminals' output.
  await teacher.getByRole('button', { name: 'Classroom', exact: true }).click();
  const row = (name) => teacher.locator(`.roster tr[data-name="${name}"]`);
  for (const name of ['Ada', 'Bob']) {
    await row(name).locator('.connected', { hasText: /^connected$/ }).waitFor({ timeout: 10000 });
  }
  await waitForRow(teacher, '.terminal-grid .grid-tile', 'hello-from-ada');
  await waitForRow(teacher, '.terminal-grid .grid-tile', 'hello-from-bob');
  assert.equal(await teacher.locator('.terminal-grid .grid-tile').count(), 2);
  await teacher.screenshot({ path: join(artifactsDir, 'class-teacher-grid.png') });

  // A raised hand: the teacher sees it and lowers it; the student's button follows.
  await ada.getByRole('button', { name: '✋ Raise your hand' }).click();
  await row('Ada').and(teacher.locator('.hand-raised')).waitFor({ timeout: 10000 });
  await teacher.getByRole('button', { name: "lower Ada's hand" }).click();
  await teacher.locator('.roster tr.hand-raised').waitFor({ state: 'detached', timeout: 10000 });
  await ada.getByRole('button', { name: '✋ Raise your hand' }).waitFor({ timeout: 10000 });

  // Taking control of Bob's terminal: Bob's page says so; typing reaches the shell.
  await teacher.getByRole('button', { name: new RegExp(`^enlarge Bob`) }).click();
  const focus = teacher.locator('.grid-focus');
  await focus.locator('.terminal-status', { hasText: 'view only' }).waitFor({ timeout: 10000 });
  await focus.getByRole('button', { name: 'Take control' }).click();
  await focus.locator('.terminal-status', { hasText: 'attached' }).waitFor({ timeout: 10000 });
  await bob.locator('.taken-over').waitFor({ timeout: 10000 });
  await focus.locator('.xterm').click();
  await teacher.keyboard.type('echo teacher-$((2*3))');
  await teacher.keyboard.press('Enter');
  await waitForRow(bob, '.pane-live .term-body:not([hidden])', 'teacher-6');
  await bob.screenshot({ path: join(artifactsDir, 'class-student-taken-over.png') });
  await focus.getByRole('button', { name: 'Give back control' }).click();
  await bob.locator('.taken-over').waitFor({ state: 'detached', timeout: 10000 });
  await focus.getByRole('button', { name: 'Close' }).click();

  // The teacher's broadcast, seen read-only by a student.
  await teacher.getByRole('button', { name: 'Live', exact: true }).click();
  await makeAndType(teacher, TEACHERS, 'broadcast-42');
  await teacher.getByRole('button', { name: 'Classroom', exact: true }).click();
  await teacher.locator('#broadcast-pick').selectOption({ label: TEACHERS });
  await teacher.getByRole('button', { name: 'Broadcast', exact: true }).click();
  await ada.locator('.broadcast .terminal-status', { hasText: 'view only' }).waitFor({ timeout: 10000 });
  await waitForRow(ada, '.broadcast', 'broadcast-42');
  await ada.locator('.broadcast .xterm').click();
  await ada.keyboard.type('echo typed-by-ada');
  await ada.keyboard.press('Enter');
  await ada.screenshot({ path: join(artifactsDir, 'class-student-broadcast.png') });
  await ada.waitForTimeout(500);
  const teacherScreen = await teacher.evaluate(() => [...document.querySelectorAll('.pane-live .xterm-rows')]
    .map((r) => r.textContent).join('\n'));
  assert.ok(!teacherScreen.includes('typed-by-ada'), 'a student cannot type into the broadcast');
  await teacher.getByRole('button', { name: 'Stop broadcast' }).click();
  await ada.locator('.broadcast').waitFor({ state: 'detached', timeout: 10000 });

  // Removing Bob (confirmed): Bob's page says so.
  teacher.once('dialog', (d) => d.accept());
  await teacher.getByRole('button', { name: 'remove Bob' }).click();
  await row('Bob').waitFor({ state: 'detached', timeout: 10000 });
  await bob.getByRole('alert').filter({ hasText: 'You are no longer in this class' }).waitFor({ timeout: 10000 });
  await bob.screenshot({ path: join(artifactsDir, 'class-student-removed.png') });
  await teacher.screenshot({ path: join(artifactsDir, 'class-teacher.png') });
  assert.deepEqual(errors, []);
});
