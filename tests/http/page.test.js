// The operator page (GET / of ib-bridge-http) in a real browser: Debian's chromium, headless, driven by
// puppeteer-core, against the real stack (nats-server, ib-sim, ib-bridge, the gateway with auth on).
// The page asks for the read token and never shows it, loads with no console error, shows the IB link
// up, a leased instrument's quote changes on screen, an order placed on the bus appears within a
// second, IB's 1100/1102 show the link degraded then up, an ib-sim `restart` shows it down then up,
// and a stopped NATS and a stopped gateway are said in words.
// Screenshots of each state go to IBB_SCREENSHOT_DIR (ctest: the build dir).
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const npm = require('../node/npm');
const puppeteer = npm('puppeteer-core');
const h = require('../node/http_harness');

const READ = 'page-read-token-s3cret';
const CHROMIUM = process.env.IBB_CHROMIUM || '/usr/bin/chromium';
const SHOTS = process.env.IBB_SCREENSHOT_DIR || path.join(h.ROOT, 'build/tests/http/screenshots');
let nats, be, gw, browser, page, profile;
const consoleErrors = [];

test.before(async () => {
  assert.ok(fs.existsSync(CHROMIUM), `chromium not found at ${CHROMIUM} (scripts/lib/deps.sh installs it)`);
  fs.mkdirSync(SHOTS, { recursive: true });
  nats = await h.startNats();
  be = await h.startBackend(nats.url, 'ib', { simArgs: ['--tick-rate', '10'] });
  gw = await h.startGateway(nats.url, { HTTP_READ_TOKENS: READ, HTTP_TRADE_TOKENS: 'page-trade-token' });
  profile = fs.mkdtempSync(path.join(os.tmpdir(), 'ibb-chromium-'));
  browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', `--user-data-dir=${profile}`],
    defaultViewport: { width: 1280, height: 860 },
  });
  page = await browser.newPage();
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  page.on('requestfailed', (r) => consoleErrors.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
});
test.after(async () => {
  if (browser) await browser.close();
  await h.stopAll();
  if (profile) fs.rmSync(profile, { recursive: true, force: true });
});

const shot = (name) => page.screenshot({ path: path.join(SHOTS, `page-${name}.png`) });
const text = (sel) => page.$eval(sel, (e) => e.textContent.trim()).catch(() => '');
async function waitText(sel, re, ms, what) {
  try {
    await page.waitForFunction((s, src) => { const e = document.querySelector(s); return e && new RegExp(src).test(e.textContent); },
      { timeout: ms, polling: 50 }, sel, re.source);
  } catch (e) {
    assert.fail(`${what}: ${sel} never matched ${re} in ${ms} ms; it says "${await text(sel)}"; banner "${await text('#banner')}"`);
  }
}

test('the page asks for the read token, never shows it, then shows the IB link up with no console error', async () => {
  const r = await h.curl(`${gw.base}/`);
  assert.equal(r.status, 200);
  assert.match(r.headers['content-type'], /^text\/html/);
  assert.doesNotMatch(r.body, /<script[^>]+src=|<link[^>]+stylesheet|https?:\/\/(?!www\.w3\.org)/, 'no external resource');

  await page.goto(`${gw.base}/#AAPL`, { waitUntil: 'load' });
  await waitText('#banner', /Read token needed/, 5000, 'auth on');
  assert.equal(await page.$eval('#tokenbox', (e) => getComputedStyle(e).display), 'block');
  await page.type('#token', 'wrong-token');
  await page.click('#tokenform button');
  await waitText('#tokenmsg', /refused/, 5000, 'a wrong token');
  await page.type('#token', READ);
  await page.click('#tokenform button');
  await waitText('#ib-link', /^UP$/, 8000, 'IB link');
  await waitText('#banner', /IB link up/, 2000, 'banner');
  const html = await page.content();
  assert.ok(!html.includes(READ), 'the token is never in the page');
  assert.equal(await page.$eval('#token', (e) => e.value), '');
  assert.match(await text('#ib-sv'), /^\d+$/);
  assert.match(await text('#gauges'), /Market-data lines/);
  assert.match(await text('#gauges'), /Historical window/);
  await waitText('#ha', /instance \S+, active, epoch 0, takeovers 0 \(HA off\)/, 2000, 'HA role of the instance');
  await waitText('#hatab tbody', /active/, 5000, 'the instance list ($SRV.PING answers)');
  assert.equal(await page.$$eval('#hatab tbody tr', (rows) => rows.length), 1, 'one instance (no HA)');
  assert.deepEqual(consoleErrors, []);
});

test('a leased instrument\'s quote changes on screen', async () => {
  await waitText('tr[data-sym="AAPL"] .q-n', /^[1-9]/, 8000, 'first AAPL quote');
  const first = await page.$eval('tr[data-sym="AAPL"]', (e) => [e.querySelector('.q-bid').textContent, e.querySelector('.q-ask').textContent,
    e.querySelector('.q-last').textContent, Number(e.querySelector('.q-n').textContent)]);
  await page.waitForFunction((f) => {
    const e = document.querySelector('tr[data-sym="AAPL"]');
    const now = [e.querySelector('.q-bid').textContent, e.querySelector('.q-ask').textContent, e.querySelector('.q-last').textContent];
    return Number(e.querySelector('.q-n').textContent) > f[3] && now.join() !== f.slice(0, 3).join();
  }, { timeout: 8000, polling: 50 }, first);
  assert.ok(await page.$('tr[data-sym="AAPL"] svg.spark polyline'), 'a sparkline is drawn');
  // the lease is counted by ib-bridge and shown
  await waitText('#lease-n', /^[1-9]/, 4000, 'leases');
  await waitText('#leasetab tr[data-lease="AAPL"]', /stream\s*AAPL\s*1\s*\d+ s/, 4000, 'the AAPL lease listed with its TTL');
  await shot('up');
  assert.deepEqual(consoleErrors, []);
});

test('an order placed on the bus appears in the order list within a second', async () => {
  const t0 = Date.now();
  const placed = await h.busRequest(nats.url, 'ib.rpc.order.place',
    { client_order_id: 'page-1', symbol: 'AAPL', side: 'BUY', qty: 7, type: 'LMT', limit_price: 1 });
  assert.ok(placed.order_id > 0, JSON.stringify(placed));
  await page.waitForSelector(`#orderrows tr[data-order="${placed.order_id}"]`, { timeout: Math.max(50, 1000 - (Date.now() - t0)) });
  const dt = Date.now() - t0;
  assert.ok(dt <= 1000, `order shown after ${dt} ms`);
  const row = await text(`#orderrows tr[data-order="${placed.order_id}"]`);
  assert.match(row, /AAPL/);
  assert.match(row, /BUY/);
  await shot('order');
  assert.deepEqual(consoleErrors, []);
});

test('IB notices: 1100 shows the link degraded in words, 1102 brings it back, both listed', async () => {
  assert.match(await be.control('reset 1102 2'), /^ok/);
  await waitText('#banner', /IB degraded/, 5000, 'degraded after 1100');
  await waitText('#ib-link', /^DEGRADED$/, 2000, 'link degraded');
  await waitText('#connlog', /connectivity_lost/, 2000, '1100 listed');
  await waitText('#connlog', /farm_down/, 2000, 'farm status listed');
  await shot('ib-degraded');
  await waitText('#banner', /IB link up/, 8000, 'up after 1102');
  await waitText('#connlog', /connectivity_restored/, 2000, '1102 listed');
  assert.deepEqual(consoleErrors, []);
});

test('after ib-sim restart the link shows down, then up again, with the transitions listed', async () => {
  assert.match(await be.control('restart 2'), /^ok restart/);
  await waitText('#ib-link', /^DOWN$/, 5000, 'link down after restart');
  await waitText('#banner', /IB down/, 2000, 'banner in words');
  await shot('ib-down');
  await waitText('#ib-link', /^UP$/, 20000, 'link back up');
  await waitText('#connlog', /down/, 2000, 'a down transition listed');
  await waitText('#connlog', /ready/, 2000, 'a ready transition listed');
  await shot('recovered');
  assert.deepEqual(consoleErrors, []);
});

test('NATS stopped: the page says the bus is down, in words', async () => {
  await h.stop(nats.proc);
  await waitText('#banner', /Bus down/, 10000, 'bus down');
  await shot('bus-down');
  assert.deepEqual(consoleErrors, []);
});

test('the gateway stopped: the page says so in words instead of freezing', async () => {
  assert.equal(await h.stop(gw.proc), 0, `clean exit (no sanitizer report):\n${gw.proc.log.slice(-3000)}`);
  await waitText('#banner', /Gateway unreachable/, 5000, 'gateway gone');
  await shot('gateway-down');
});
