// Without root there are no live containers, but the UI is served, the API says
// why live mode is off, and Ctrl-C ends the server with exit code 0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isolabBin, startServer } from './support.mjs';

test('as an unprivileged user: UI served, live mode off with a reason, exit 0 on Ctrl-C', async (t) => {
  if (process.getuid() !== 0) {
    t.skip('needs root to drop to an unprivileged user');
    return;
  }
  // The build tree may not be readable by nobody; run a copy from a world-readable dir.
  const dir = mkdtempSync(join(tmpdir(), 'isolab-nonroot-'));
  chmodSync(dir, 0o755);
  const bin = join(dir, 'isolab');
  copyFileSync(isolabBin, bin);
  chmodSync(bin, 0o755);
  let server;
  try {
    server = await startServer({
      prefix: ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all', bin],
      bin: null,
    });
    const page = await fetch(`${server.base}/`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /isolab/);
    const version = await (await fetch(`${server.base}/api/v1/version`, {
      headers: { Authorization: `Bearer ${server.token}` },
    })).json();
    assert.equal(version.live.available, false);
    assert.match(version.live.reason, /root/);
    const { code, signal } = await server.stop('SIGINT');
    assert.equal(signal, null);
    assert.equal(code, 0, server.output());
  } finally {
    await server?.stop('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

test('as root, Ctrl-C ends the server with exit code 0', async () => {
  const server = await startServer();
  const { code, signal } = await server.stop('SIGINT');
  assert.equal(signal, null);
  assert.equal(code, 0, server.output());
});
