// bench/console.sh's browser half: opens a page in Debian's Chromium and
// measures its frame times (requestAnimationFrame deltas) and long tasks
// while the simulator drives the devices, counting the position events the
// page received. Usage: node bench/console.mjs BASE USER PASSWORD SECONDS
import { createRequire } from 'node:module';

const require = createRequire(new URL('../web/package.json', import.meta.url));
const { chromium } = require('playwright-core');
const [base, user, password, seconds] = process.argv.slice(2);
const dur = Number(seconds || 20) * 1000;

const counter = () => {
  // counts the position events a page's EventSource listeners receive
  window.__events = 0;
  const add = EventSource.prototype.addEventListener;
  EventSource.prototype.addEventListener = function (type, fn, o) {
    return add.call(this, type, type === 'position' ? (e) => { window.__events++; fn(e); } : fn, o);
  };
  window.__longtasks = [];
  new PerformanceObserver((l) => { for (const e of l.getEntries()) window.__longtasks.push(e.duration); })
    .observe({ type: 'longtask', buffered: true });
};

const sample = (ms) => new Promise((resolve) => {
  const d = [];
  let last = performance.now();
  const t0 = last, ev0 = window.__events, lt0 = window.__longtasks.length;
  const f = (now) => {
    d.push(now - last);
    last = now;
    if (now - t0 < ms) requestAnimationFrame(f);
    else resolve({ d, events: window.__events - ev0, long: window.__longtasks.slice(lt0), s: (now - t0) / 1000 });
  };
  requestAnimationFrame(f);
});

const pct = (a, p) => a[Math.min(a.length - 1, Math.floor(a.length * p))];

async function measure(browser, label, open) {
  const context = await browser.newContext({ viewport: { width: 1366, height: 768 } });
  await context.addInitScript(counter);
  const page = await context.newPage();
  await open(page, context);
  await page.waitForTimeout(5000); // the first load settles
  const r = await page.evaluate(sample, dur);
  const d = r.d.slice(1).sort((a, b) => a - b);
  const longSum = r.long.reduce((a, b) => a + b, 0);
  console.log(`RESULT ${label} events_per_s=${(r.events / r.s).toFixed(0)} frames=${d.length} fps=${(d.length / r.s).toFixed(1)} ` +
    `p50_ms=${pct(d, 0.5).toFixed(1)} p95_ms=${pct(d, 0.95).toFixed(1)} p99_ms=${pct(d, 0.99).toFixed(1)} max_ms=${d[d.length - 1].toFixed(0)} ` +
    `over50_ms=${d.filter((x) => x > 50).length} longtasks=${r.long.length} longtask_ms=${longSum.toFixed(0)}`);
  await context.close();
}

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-dev-shm-usage'] });
await measure(browser, 'peer', async (page, context) => {
  await context.request.post(`${base}/api/v1/session`, { data: { username: user, password } });
  await page.goto(`${base}/peer.html`);
  await page.waitForSelector('#map[data-ready]', { timeout: 120000 });
});
await measure(browser, 'safeguard', async (page) => {
  await page.goto(`${base}/`);
  await page.fill('#login input[name=username]', user);
  await page.fill('#login input[name=password]', password);
  await page.click('#login button[type=submit]');
  await page.waitForSelector('#live.on', { timeout: 120000 });
});
await browser.close();
