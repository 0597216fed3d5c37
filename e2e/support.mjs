// Shared pieces of the end-to-end tests: start the real server, launch Debian's Chromium.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';

export const isolabBin = process.env.ISOLAB_BIN ?? resolve('target/release/isolab');
export const artifactsDir = process.env.ISOLAB_ARTIFACTS ?? resolve('artifacts');

// Flags for Chromium as root on a machine with no outside network: no sandbox (root),
// and no background connections, which the closed network would refuse at every start.
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--no-first-run',
];

/// Launches headless Chromium. Playwright gives each launch a fresh, temporary
/// profile (--user-data-dir) and removes it on close.
export async function launchBrowser() {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
  });
}

/// Starts `isolab serve --port 0` and resolves once it printed its URL. `prefix` runs
/// it through another command (setpriv); `bin: null` means the prefix names the binary.
/// Unless `env` names one, the server gets a state root of its own, removed when it
/// exits, so its containers, database and recordings never land in the host's.
export function startServer({ prefix = [], bin = isolabBin, env = {} } = {}) {
  const argv = [...prefix, ...(bin ? [bin] : []), 'serve', '--port', '0'];
  const ownRoot = env.ISOLAB_STATE_ROOT ? null : mkdtempSync(join(tmpdir(), 'isolab-e2e-'));
  const child = spawn(argv[0], argv.slice(1), {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...(ownRoot ? { ISOLAB_STATE_ROOT: ownRoot } : {}), ...env },
  });
  let output = '';
  const exited = new Promise((resolveExit) => {
    child.on('exit', (code, signal) => {
      if (ownRoot) rmSync(ownRoot, { recursive: true, force: true });
      resolveExit({ code, signal });
    });
  });
  return new Promise((resolveStart, rejectStart) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      rejectStart(new Error(`isolab serve printed no URL within 20 s:\n${output}`));
    }, 20000);
    const onData = (chunk) => {
      output += chunk.toString();
      const m = output.match(/(http:\/\/[^\s/]+)\/\?token=([0-9a-f]+)/);
      if (!m) return;
      clearTimeout(timer);
      resolveStart({
        url: m[0],
        base: m[1],
        token: m[2],
        output: () => output,
        exited,
        // SIGINT, as Ctrl-C sends; resolves with the exit status.
        async stop(signal = 'SIGINT') {
          if (child.exitCode === null && child.signalCode === null) child.kill(signal);
          return exited;
        },
      });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', (e) => {
      clearTimeout(timer);
      rejectStart(e);
    });
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      rejectStart(new Error(`isolab serve exited early (code ${code}, signal ${signal}):\n${output}`));
    });
  });
}
