// The UI of a server without root: it says why live containers are off and offers the
// simulator, which then works.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { artifactsDir, isolabBin, launchBrowser, startServer } from './support.mjs';

test('not root: the page says why live mode is off and offers the simulator', async (t) => {
  if (process.getuid() !== 0) {
    t.skip('needs root to drop to an unprivileged user');
    return;
  }
  mkdirSync(artifactsDir, { recursive: true });
  // The build tree may not be readable by nobody; run a copy from a world-readable dir.
  const dir = mkdtempSync(join(tmpdir(), 'isolab-ui-nonroot-'));
  chmodSync(dir, 0o755);
  const bin = join(dir, 'isolab');
  copyFileSync(isolabBin, bin);
  chmodSync(bin, 0o755);
  let server;
  let browser;
  try {
    server = await startServer({
      prefix: ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all', bin],
      bin: null,
    });
    browser = await launchBrowser();
    const page = await browser.newPage({ viewport: { width: 1024, height: 768 } });
    await page.goto(server.url);
    const off = page.locator('.live-off');
    await off.waitFor({ timeout: 15000 });
    assert.match(await off.innerText(), /root/i, 'the reason names root');
    await page.getByRole('status').filter({ hasText: 'live mode off' }).waitFor();
    await page.screenshot({ path: join(artifactsDir, 'ui-nonroot.png') });
    await off.getByRole('button', { name: 'Open the simulator' }).click();
    await page.locator('.pane-sim .container-row').first().waitFor();
  } finally {
    await browser?.close();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
