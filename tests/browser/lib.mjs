// The console's end-to-end tests: helpers. A real server (the binary under
// test, `safeguard demo` on a free loopback port, started from a scratch
// directory) and Debian's Chromium driven by playwright-core.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(new URL('../../web/package.json', import.meta.url));
export const { chromium } = require('playwright-core');

export function assert(cond, msg) {
  if (!cond) throw new Error(`assertion failed: ${msg}`);
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
    s.on('error', reject);
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// `safeguard demo` from a scratch directory: the console must come from the
// binary itself, wherever it is started. Returns {base, users, stop()}.
export async function startDemo(bin) {
  const dir = mkdtempSync(join(tmpdir(), 'sg-browser-'));
  const cwd = join(dir, 'elsewhere');
  mkdirSync(cwd);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const child = spawn(bin, ['demo', '--data-dir', join(dir, 'data'), '--listen', `127.0.0.1:${port}`],
                      { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SAFEGUARD_LOG_LEVEL: 'warn' } });
  let out = '', err = '';
  child.stdout.on('data', (b) => { out += b; });
  child.stderr.on('data', (b) => { err += b; });
  const users = {};
  for (let i = 0; i < 300; i++) {
    for (const m of out.matchAll(/^\s+(\S+)\s+(admin|security_manager|duty_officer|viewer|liaison|person)\s+.*\s(\S+)$/gm)) users[m[1]] = m[3];
    if (users['engineer.wei']) {
      try { if ((await fetch(`${base}/readyz`)).ok) break; } catch { /* not yet */ }
    }
    if (child.exitCode !== null) throw new Error(`demo exited: ${err}`);
    await sleep(100);
  }
  assert(users['company.admin'], `demo logins printed (stdout: ${out.slice(0, 500)}; stderr: ${err.slice(0, 500)})`);
  return {
    base, users, dir, cwd, stderr: () => err,
    async stop() {
      child.kill('SIGTERM');
      for (let i = 0; i < 300 && child.exitCode === null && child.signalCode === null; i++) await sleep(100);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        err += '\nERROR: the server did not stop within 30 s of SIGTERM';
      } else if (child.exitCode !== 0) {
        err += `\nERROR: the server exited with ${child.exitCode ?? child.signalCode}`;
      }
      await sleep(100); // the last of stderr
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// The API from the test's side (Bearer session tokens).
export async function login(srv, username, password) {
  const res = await fetch(`${srv.base}/api/v1/session`, { method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username, password: password || srv.users[username] }) });
  assert(res.status === 201 || res.status === 200, `login ${username}: ${res.status}`);
  const body = await res.json();
  return { token: body.token, user: body.user };
}

export async function call(srv, who, method, path, body) {
  const res = await fetch(`${srv.base}${path}`, { method,
    headers: { Authorization: `Bearer ${who.token}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined });
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = text; }
  return { status: res.status, data };
}

// A Traccar Client (OsmAnd protocol) report, as the app sends it: a GET
// with the device key as `id` (tests/api carry the captured requests).
export async function osmand(srv, key, lat, lon, when = Date.now()) {
  const q = new URLSearchParams({ id: key, lat: String(lat), lon: String(lon), timestamp: String(Math.floor(when / 1000)),
                                  speed: '0.0', bearing: '0.0', altitude: '10.0', accuracy: '5.0', batt: '80.0' });
  const res = await fetch(`${srv.base}/ingest/osmand?${q}`);
  assert(res.status === 200, `osmand report: ${res.status}`);
}

export async function newPage(browser, srv, opts = {}) {
  const context = await browser.newContext({ viewport: opts.viewport || { width: 1366, height: 768 } });
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(String(e)));
  // what the CSP blocked is a defect too (an inline style or script)
  page.on('console', (m) => { if (m.type() === 'error' && /Content Security Policy/.test(m.text())) page.errors.push(m.text()); });
  page.on('dialog', (d) => d.accept());
  await page.goto(`${srv.base}/`);
  return page;
}

export async function consoleLogin(page, srv, username) {
  await page.fill('#login input[name=username]', username);
  await page.fill('#login input[name=password]', srv.users[username] || username);
  await page.click('#login button[type=submit]');
  await page.waitForSelector('#nav a[data-screen=map]');
}
