// ib-bridge-http REST: every route with curl against the real stack (nats-server + ib-sim + ib-bridge +
// the real gateway binary); happy paths and bad input; responses checked against schemas/openapi.yaml.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync, spawnSync } = require('node:child_process');
const h = require('../node/http_harness');
const api = require('../node/http_openapi');

const READ = 'r-token-1';
const TRADE = 't-token-1';
let nats, be, gw, base, confFile;
const auth = (t) => ({ Authorization: `Bearer ${t}` });
const J = { 'Content-Type': 'application/json' };

test.before(async () => {
  nats = await h.startNats();
  be = await h.startBackend(nats.url);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ibb-http-'));
  confFile = path.join(dir, 'http.conf');
  fs.writeFileSync(confFile, `# test config
http = { port = 1; body_limit = 2048; };
nats = { request_timeout_ms = 8000; subject_prefix = "ib"; };
auth = { read_tokens = ["${READ}"]; trade_tokens = ["${TRADE}"]; };
cors = { allow_origins = ["https://app.example"]; };
`);
  gw = await h.startGateway(nats.url, {}, ['--config', confFile]);   // HTTP_PORT=0 overrides port = 1
  base = gw.base;
});
test.after(async () => { await h.stopAll(); });

async function call(method, route, url, opts = {}) {
  const r = await h.curl(base + url, { method, ...opts });
  if (r.json !== undefined && opts.check !== false) api.check(route, method, r.status, r.json, r.headers);
  return r;
}

test('GET /health is 200 with the status reply, no token needed', async () => {
  const r = await call('GET', '/health', '/health');
  assert.equal(r.status, 200, r.body);
  assert.equal(r.json.status, 'ok');
  assert.equal(r.json.nats, 'connected');
  assert.equal(typeof r.json.ib, 'object');
});

test('read routes: quotes, candles (GET and POST), contracts, positions, account', async () => {
  let r = await call('GET', '/quotes/{symbol}', '/quotes/AAPL', { headers: auth(READ) });
  assert.equal(r.status, 200, r.body);
  assert.equal(r.json.contract.symbol, 'AAPL');
  assert.equal(r.json.contract.con_id, 265598);
  assert.equal(typeof r.json.bid, 'number');
  assert.match(r.headers['content-type'], /application\/json/);
  await h.sleep(300);
  assert.equal((await be.status()).market_data.leases, 1, 'a GET /quotes holds a stream lease, so polls are served from the book');
  r = await call('GET', '/candles/{symbol}', '/candles/AAPL?duration=2%20D&bar_size=1%20min', { headers: auth(READ) });
  assert.equal(r.status, 200, r.body);
  assert.equal(r.json.duration, '2 D');
  assert.equal(r.json.bar_size, '1 min');
  assert.ok(r.json.bars.length > 0);
  for (const k of ['t', 'o', 'h', 'l', 'c', 'v', 'wap', 'count']) assert.equal(typeof r.json.bars[0][k], 'number', `bar.${k}`);
  r = await call('POST', '/candles/{symbol}', '/candles/MSFT', { headers: { ...auth(READ), ...J }, body: '{"duration": "1 D", "bar_size": "5 mins"}' });
  assert.equal(r.status, 200, r.body);
  assert.equal(r.json.bar_size, '5 mins');
  r = await call('GET', '/contracts/{symbol}', '/contracts/MSFT', { headers: auth(TRADE) });
  assert.equal(r.status, 200, r.body);
  assert.equal(r.json.contracts[0].contract.con_id, 272093);
  assert.equal(r.json.contracts[0].key, 'MSFT');
  r = await call('GET', '/positions', '/positions', { headers: auth(READ) });
  assert.equal(r.status, 200, r.body);
  assert.ok(Array.isArray(r.json.positions));
  r = await call('GET', '/account', '/account', { headers: auth(READ) });
  assert.equal(r.status, 200, r.body);
  assert.equal(r.json.accounts[0].account, 'DU1234567');
  r = await call('GET', '/pnl', '/pnl', { headers: auth(READ) });
  assert.equal(r.status, 200, r.body);
  assert.equal(r.json.accounts[0].account, 'DU1234567');
  assert.equal(typeof r.json.accounts[0].daily_pnl, 'number', r.body);
  r = await call('GET', '/pnl', '/pnl?account=DU1234567', { headers: auth(READ) });
  assert.equal(r.status, 200, r.body);
  assert.equal(r.json.accounts.length, 1);
  r = await call('GET', '/pnl', '/pnl?account=DU999', { headers: auth(READ) });
  assert.equal(r.status, 400, r.body);
  assert.match(r.json.error.message, /DU1234567/);
  r = await call('GET', '/positions', '/positions?account=DU1234567', { headers: auth(READ) });
  assert.equal(r.status, 200, r.body);
});

test('orders: place (idempotent), list, modify, cancel', async () => {
  const body = JSON.stringify({ symbol: 'AAPL', action: 'buy', quantity: 5, order_type: 'LMT', limit_price: 101.5 });
  let r = await call('POST', '/orders', '/orders', { headers: { ...auth(TRADE), ...J, 'Idempotency-Key': 'key-1' }, body });
  assert.equal(r.status, 200, r.body);
  assert.equal(r.json.client_order_id, 'key-1');
  assert.equal(r.json.duplicate, false);
  const id = r.json.order_id;
  assert.ok(Number.isInteger(id) && id > 0);
  r = await call('POST', '/orders', '/orders', { headers: { ...auth(TRADE), ...J, 'Idempotency-Key': 'key-1' }, body });
  assert.equal(r.status, 200, r.body);
  assert.equal(r.json.order_id, id, 'a retried request must not place a second order');
  assert.equal(r.json.duplicate, true);
  r = await call('POST', '/orders', '/orders', { headers: { ...auth(TRADE), ...J, 'Idempotency-Key': 'key-1' }, body: '{"symbol":"AAPL","side":"SELL","qty":9}' });
  assert.equal(r.status, 200, r.body);
  assert.equal(r.json.order_id, id, 'the same key never places a second order, whatever the body');
  assert.equal(r.json.duplicate, true);
  r = await call('POST', '/orders', '/orders', { headers: { ...auth(TRADE), ...J }, body: JSON.stringify({ client_order_id: 'key-2', symbol: 'MSFT', side: 'SELL', qty: 1, type: 'LMT', limit_price: 900, tif: 'GTC' }) });
  assert.equal(r.status, 200, r.body);
  assert.equal(r.json.client_order_id, 'key-2');
  const id2 = r.json.order_id;
  r = await call('POST', '/orders', '/orders', { headers: { ...auth(TRADE), ...J }, body: JSON.stringify({ symbol: 'MSFT', side: 'SELL', qty: 1 }) });
  assert.equal(r.status, 400, 'an order without client_order_id or Idempotency-Key is refused: ' + r.body);
  assert.match(r.json.error.message, /Idempotency-Key/);
  r = await call('GET', '/orders', '/orders', { headers: auth(TRADE) });
  assert.equal(r.status, 200, r.body);
  const listed = r.json.orders.map((o) => o.order_id);
  assert.ok(listed.includes(id) && listed.includes(id2), `both orders listed: ${listed}`);
  r = await call('PATCH', '/orders/{id}', `/orders/${id}`, { headers: { ...auth(TRADE), ...J }, body: '{"quantity": 7}' });
  assert.equal(r.status, 200, r.body);
  assert.equal(r.json.order_id, id);
  assert.equal(r.json.qty, 7);
  r = await call('PATCH', '/orders/{id}', `/orders/${id2}`, { headers: { ...auth(TRADE), ...J }, body: '{"limit_price": 950}' });
  assert.equal(r.status, 200, r.body);
  assert.equal(r.json.limit_price, 950);
  r = await call('PATCH', '/orders/{id}', '/orders/key-2', { headers: { ...auth(TRADE), ...J }, body: '{"limit_price": 300}' });
  assert.equal(r.status, 400, 'modify names orders by order_id: ' + r.body);
  r = await call('PATCH', '/orders/{id}', '/orders/999999', { headers: { ...auth(TRADE), ...J }, body: '{"limit_price": 300}' });
  assert.equal(r.status, 404, r.body);
  r = await call('DELETE', '/orders/{id}', `/orders/${id}`, { headers: auth(TRADE) });
  assert.equal(r.status, 200, r.body);
  assert.equal(r.json.status, 'Cancelled');
  r = await call('DELETE', '/orders/{id}', `/orders/${id}`, { headers: auth(TRADE) });
  assert.equal(r.status, 409, r.body);
  assert.equal(r.json.error.code, 'conflict');
  r = await call('DELETE', '/orders/{id}', '/orders/key-2', { headers: auth(TRADE) });
  assert.equal(r.status, 200, 'cancel by client_order_id: ' + r.body);
  assert.equal(r.json.order_id, id2);
});

test('issue 16 routes: preview (trade token), completed, executions, symbol search, scanner', async () => {
  const order = JSON.stringify({ symbol: 'AAPL', side: 'BUY', qty: 10, type: 'LMT', limit_price: 150 });
  let r = await call('POST', '/orders/preview', '/orders/preview', { headers: { ...auth(TRADE), ...J }, body: order });
  assert.equal(r.status, 200, r.body);
  assert.ok(r.json.init_margin_change > 0, r.body);
  r = await call('POST', '/orders/preview', '/orders/preview', { headers: { ...auth(READ), ...J }, body: order });
  assert.equal(r.status, 403, 'a read token cannot preview');
  r = await call('POST', '/orders/preview', '/orders/preview', { headers: { ...auth(TRADE), ...J }, body: '{"symbol":"AAPL","side":"BUY","qty":-1}' });
  assert.equal(r.status, 400, r.body);
  assert.match(r.json.error.message, /qty/);
  r = await call('GET', '/orders/completed', '/orders/completed?api_only=true', { headers: auth(TRADE) });
  assert.equal(r.status, 200, r.body);
  assert.equal(r.json.api_only, true);
  r = await call('GET', '/orders/completed', '/orders/completed', { headers: auth(READ) });
  assert.equal(r.status, 403, 'completed orders need the trade token');
  r = await call('GET', '/executions', '/executions?side=BUY', { headers: auth(READ) });
  assert.equal(r.status, 200, r.body);
  assert.ok(Array.isArray(r.json.executions));
  r = await call('GET', '/contracts/search', '/contracts/search?q=app', { headers: auth(READ) });
  assert.equal(r.status, 200, r.body);
  assert.ok(r.json.matches.some((x) => x.key === 'AAPL'), r.body);
  r = await call('GET', '/contracts/search', '/contracts/search?q=A', { headers: auth(READ) });
  assert.equal(r.status, 400, r.body);
  assert.match(r.json.error.message, /pattern/);
  r = await call('GET', '/contracts/{symbol}', '/contracts/MSFT', { headers: auth(READ) });
  assert.equal(r.status, 200, 'GET /contracts/{symbol} still works');
  r = await call('GET', '/scanner/params', '/scanner/params', { headers: auth(READ) });
  assert.equal(r.status, 200, r.body);
  r = await call('GET', '/scanner', '/scanner?scan_code=TOP_PERC_GAIN&instrument=STK&location=STK.US.MAJOR&rows=5', { headers: auth(READ) });
  assert.equal(r.status, 200, r.body);
  assert.equal(r.json.count, 5);
  r = await call('POST', '/scanner', '/scanner', { headers: { ...auth(READ), ...J }, body: JSON.stringify({ scan_code: 'MOST_ACTIVE', instrument: 'STK', location: 'STK.US.MAJOR', filters: { priceAbove: 100 }, rows: 3 }) });
  assert.equal(r.status, 200, r.body);
  r = await call('GET', '/scanner', '/scanner?scan_code=NOPE&instrument=STK&location=STK.US.MAJOR', { headers: auth(READ) });
  assert.equal(r.status, 400, r.body);
  assert.match(r.json.error.message, /scan_code/);
});

test('options: GET /options/{symbol}/chain and /options/{symbol}/quotes (query as the body), bad input', async () => {
  let r = await call('GET', '/options/{symbol}/chain', '/options/AAPL/chain', { headers: auth(READ) });
  assert.equal(r.status, 200, r.body);
  assert.equal(r.json.underlying, 'AAPL');
  const smart = r.json.chains.find((c) => c.exchange === 'SMART');
  assert.ok(smart.expirations.length > 0 && smart.strikes.length > 0, r.body);
  r = await call('GET', '/options/{symbol}/chain', '/options/AAPL/chain?exchange=CBOE', { headers: auth(READ) });
  assert.deepEqual(r.json.chains.map((c) => c.exchange), ['CBOE']);
  const exp = smart.expirations[0], ks = smart.strikes.slice(24, 26);
  r = await call('GET', '/options/{symbol}/quotes', `/options/AAPL/quotes?expiration=${exp}&right=C&strikes=${ks.join(',')}`, { headers: auth(READ) });
  assert.equal(r.status, 200, r.body);
  assert.deepEqual(r.json.options.map((o) => o.strike), ks);
  for (const o of r.json.options) assert.equal(typeof o.quote.greeks.model.delta, 'number', JSON.stringify(o));
  r = await call('GET', '/options/{symbol}/quotes', `/options/AAPL/quotes?expiration=${exp}&window=1&right=P`, { headers: auth(READ) });
  assert.equal(r.status, 200, r.body);
  assert.equal(r.json.count, 3);
  r = await call('GET', '/options/{symbol}/quotes', '/options/AAPL/quotes?expiration=2026', { headers: auth(READ) });
  assert.equal(r.status, 400, r.body);
  assert.match(r.json.error.message, /expiration/);
  r = await call('GET', '/options/{symbol}/quotes', `/options/AAPL/quotes?expiration=${exp}&strikes=1,x`, { headers: auth(READ) });
  assert.equal(r.status, 400, r.body);
  assert.match(r.json.error.message, /strikes/);
  r = await call('GET', '/options/{symbol}/chain', '/options/ZZZZ/chain', { headers: auth(READ) });
  assert.equal(r.status, 404, r.body);
  r = await h.curl(base + '/options/AAPL/greeks', { headers: auth(READ) });
  assert.equal(r.status, 404, 'no such route');
  r = await h.curl(base + '/options/AAPL/chain', {});
  assert.equal(r.status, 401, 'a read token is needed');
});

test('bus errors map to HTTP statuses with the bus error body', async () => {
  let r = await call('GET', '/quotes/{symbol}', '/quotes/ZZZZ', { headers: auth(READ) });
  assert.equal(r.status, 404, r.body);
  assert.equal(r.json.error.code, 'unknown_symbol');
  assert.equal(r.json.error.ib_code, 200);
  r = await call('GET', '/contracts/{symbol}', '/contracts/ZZZZ', { headers: auth(READ) });
  assert.equal(r.status, 404, r.body);
  r = await call('GET', '/quotes/{symbol}', '/quotes/STK:AAPL:SMART:USD:~ZZ', { headers: auth(READ) });
  assert.equal(r.status, 400, 'a malformed instrument key is ib-bridge\'s 400: ' + r.body);
  assert.equal(r.json.error.code, 'bad_request');
  r = await call('POST', '/orders', '/orders', { headers: { ...auth(TRADE), ...J }, body: '{"client_order_id":"k-lmt","symbol":"AAPL","action":"BUY","quantity":1,"order_type":"LMT"}' });
  assert.equal(r.status, 400, r.body);
  assert.match(r.json.error.message, /limit_price/);
  r = await call('POST', '/orders', '/orders', { headers: { ...auth(TRADE), ...J }, body: '{"client_order_id":"k-unk","symbol":"ZZZZ","side":"BUY","qty":1}' });
  assert.equal(r.status, 404, r.body);
});

test('pacing: a burst of candles gets 429 with Retry-After from retry_after_ms, never a 162 at IB', async () => {
  const shapes = [];
  for (const d of ['1 D', '2 D', '3 D', '4 D', '5 D']) for (const b of ['1 min', '5 mins', '15 mins', '1 hour']) shapes.push({ d, b });
  const rs = await Promise.all(shapes.map(({ d, b }) => call('GET', '/candles/{symbol}', `/candles/IBM?duration=${encodeURIComponent(d)}&bar_size=${encodeURIComponent(b)}`, { headers: auth(READ) })));
  const paced = rs.filter((r) => r.status === 429);
  for (const r of rs) assert.ok(r.status === 200 || r.status === 429, `${r.status} ${r.body}`);
  assert.ok(paced.length > 0, `some of ${rs.length} requests were paced (${rs.map((r) => r.status)})`);
  for (const r of paced) {
    assert.equal(r.json.error.code, 'pacing');
    assert.ok(r.json.error.retry_after_ms > 0);
    assert.equal(Number(r.headers['retry-after']), Math.ceil(r.json.error.retry_after_ms / 1000), r.headers['retry-after']);
  }
  const s = await be.simStats();
  assert.equal((s.errors || {})['162'], undefined, `no pacing violation reached ib-sim: ${JSON.stringify(s.errors)}`);
});

test('IB down: /health 503 with the status reply, routes 503 at once; connect brings it back', async () => {
  let r = await call('POST', '/disconnect', '/disconnect', { headers: auth(TRADE) });
  assert.equal(r.status, 200, r.body);
  r = await call('GET', '/health', '/health');
  assert.equal(r.status, 503, r.body);
  assert.equal(r.json.status, 'unavailable');
  assert.equal(r.json.ib.connected, false);
  // KO has no stream lease (AAPL does: GET /quotes holds one, and ib-bridge answers those from its book)
  r = await call('GET', '/quotes/{symbol}', '/quotes/KO', { headers: auth(READ) });
  assert.equal(r.status, 503, r.body);
  assert.equal(r.json.error.code, 'ib_unavailable');
  assert.ok(Number(r.headers['retry-after']) >= 0 || r.headers['retry-after'] === undefined);
  r = await call('POST', '/connect', '/connect', { headers: auth(TRADE) });
  assert.equal(r.status, 200, r.body);
  const until = Date.now() + 20000;
  do { await h.sleep(200); r = await call('GET', '/health', '/health'); } while (r.status !== 200 && Date.now() < until);
  assert.equal(r.status, 200, r.body);
  assert.equal(r.json.ib.connected, true);
});

test('deadline: a stalled gateway gives 504 at the HTTP deadline', async () => {
  const g2 = await h.startGateway(nats.url, { HTTP_REQUEST_TIMEOUT_MS: '400' });
  await be.control('stall 2');
  const t0 = Date.now();
  const r = await h.curl(`${g2.base}/quotes/GE`);
  const ms = Date.now() - t0;
  assert.equal(r.status, 504, r.body);
  api.check('/quotes/{symbol}', 'GET', 504, r.json);
  assert.equal(r.json.error.code, 'timeout');
  assert.ok(ms >= 350 && ms < 1900, `deadline respected (${ms} ms)`);
  const m = await h.curl(`${g2.base}/metrics`);
  assert.match(m.body, /ibb_http_bus_timeouts_total [1-9]/);
  assert.equal(await h.stop(g2.proc), 0, `clean exit:\n${g2.proc.log}`);
  await h.sleep(2200);   // the stall ends
});

test('bad input: malformed JSON, wrong types, missing fields, bad symbols, bad routes', async () => {
  const H = { ...auth(TRADE), ...J };
  let r = await call('POST', '/orders', '/orders', { headers: H, body: '{"symbol": "AAPL", ' });
  assert.equal(r.status, 400, r.body);
  assert.match(r.json.error.message, /malformed JSON/);
  r = await call('POST', '/orders', '/orders', { headers: H, body: '{"client_order_id":"k-ten","symbol":"AAPL","action":"BUY","quantity":"ten"}' });
  assert.equal(r.status, 400, r.body);
  assert.match(r.json.error.message, /quantity/);
  r = await call('POST', '/orders', '/orders', { headers: H, body: '{"client_order_id":"k-hold","symbol":"AAPL","action":"HOLD","quantity":1}' });
  assert.equal(r.status, 400, r.body);
  assert.match(r.json.error.message, /BUY or SELL/);
  r = await call('POST', '/orders', '/orders', { headers: H, body: '{"client_order_id":"k-noside","symbol":"AAPL","quantity":1}' });
  assert.equal(r.status, 400, r.body);
  assert.match(r.json.error.message, /side/);
  r = await call('POST', '/orders', '/orders', { headers: H, body: '[1,2]' });
  assert.equal(r.status, 400, r.body);
  r = await call('POST', '/orders', '/orders', { headers: H });
  assert.equal(r.status, 400, r.body);
  r = await call('POST', '/orders', '/orders', { headers: { ...H, 'Idempotency-Key': 'a' }, body: '{"client_order_id":"b","symbol":"AAPL","action":"BUY","quantity":1}' });
  assert.equal(r.status, 400, r.body);
  r = await call('POST', '/candles/{symbol}', '/candles/AAPL', { headers: H, body: '{"duration": 5}' });
  assert.equal(r.status, 400, r.body);
  r = await call('PATCH', '/orders/{id}', '/orders/1001', { headers: H, body: '{"limit_price": "x"}' });
  assert.equal(r.status, 400, r.body);
  r = await call('GET', '/quotes/{symbol}', '/quotes/A%2AB', { headers: auth(READ) });
  assert.equal(r.status, 400, r.body);
  r = await call('GET', '/quotes/{symbol}', `/quotes/${'X'.repeat(80)}`, { headers: auth(READ) });
  assert.equal(r.status, 400, r.body);
  r = await h.curl(`${base}/nope`);
  assert.equal(r.status, 404);
  assert.equal(r.json.error.code, 'not_found');
  r = await h.curl(`${base}/orders`, { method: 'PUT', headers: auth(TRADE) });
  assert.equal(r.status, 405);
  assert.match(r.headers.allow, /GET/);
  assert.match(r.headers.allow, /POST/);
  r = await h.curl(`${base}/quotes/AAPL/extra`, { headers: auth(READ) });
  assert.equal(r.status, 404);
});

test('auth: missing, unknown, read-only and query-string tokens', async () => {
  let r = await call('GET', '/quotes/{symbol}', '/quotes/AAPL');
  assert.equal(r.status, 401, r.body);
  assert.match(r.headers['www-authenticate'], /Bearer/);
  r = await call('GET', '/quotes/{symbol}', '/quotes/AAPL', { headers: auth('nope') });
  assert.equal(r.status, 401, r.body);
  r = await call('GET', '/quotes/{symbol}', '/quotes/AAPL', { headers: { Authorization: `Basic ${READ}` } });
  assert.equal(r.status, 401, r.body);
  r = await call('POST', '/orders', '/orders', { headers: { ...auth(READ), ...J }, body: '{"symbol":"AAPL","action":"BUY","quantity":1}' });
  assert.equal(r.status, 403, r.body);
  r = await call('GET', '/orders', '/orders', { headers: auth(READ) });
  assert.equal(r.status, 403, r.body);
  r = await call('POST', '/connect', '/connect', { headers: auth(READ) });
  assert.equal(r.status, 403, r.body);
  r = await call('GET', '/quotes/{symbol}', `/quotes/AAPL?access_token=${READ}`);
  assert.equal(r.status, 400, r.body);
  assert.match(r.json.error.message, /query string/);
  r = await call('GET', '/quotes/{symbol}', `/quotes/AAPL?token=${READ}`, { headers: auth(READ) });
  assert.equal(r.status, 400, r.body);
});

test('body limit: 413 for a declared or an actual oversized body', async () => {
  const big = JSON.stringify({ symbol: 'AAPL', action: 'BUY', quantity: 1, pad: 'x'.repeat(5000) });
  let r = await call('POST', '/orders', '/orders', { headers: { ...auth(TRADE), ...J }, body: big });
  assert.equal(r.status, 413, r.body);
  assert.equal(r.json.error.code, 'payload_too_large');
  const f = path.join(os.tmpdir(), `ibb-http-big-${process.pid}.json`);
  fs.writeFileSync(f, 'x'.repeat(3 << 20));
  // Expect: 100-continue: the gateway answers 413 from the declared length before any body is sent
  // (without it, a client still sending 3 MiB may see the early close as a broken pipe).
  r = await call('POST', '/candles/{symbol}', '/candles/AAPL', { headers: { ...auth(READ), ...J, Expect: '100-continue' }, body: '', bodyFile: f });
  fs.unlinkSync(f);
  assert.equal(r.status, 413, r.body);
  r = await call('GET', '/health', '/health');
  assert.equal(r.status, 200, 'the gateway still serves after oversized bodies');
});

test('CORS allow-list and preflight', async () => {
  let r = await h.curl(`${base}/quotes/AAPL`, { headers: { ...auth(READ), Origin: 'https://app.example' } });
  assert.equal(r.status, 200);
  assert.equal(r.headers['access-control-allow-origin'], 'https://app.example');
  r = await h.curl(`${base}/quotes/AAPL`, { headers: { ...auth(READ), Origin: 'https://evil.example' } });
  assert.equal(r.status, 403);
  assert.equal(r.headers['access-control-allow-origin'], undefined);
  r = await h.curl(`${base}/orders`, { method: 'OPTIONS', headers: { Origin: 'https://app.example', 'Access-Control-Request-Method': 'POST' } });
  assert.equal(r.status, 204);
  assert.match(r.headers['access-control-allow-methods'], /POST/);
  assert.match(r.headers['access-control-allow-headers'], /Authorization/);
  r = await h.curl(`${base}/orders`, { method: 'OPTIONS', headers: { Origin: 'https://evil.example' } });
  assert.equal(r.status, 403);
});

test('GET /metrics: Prometheus text with routes, statuses, latency and bus rtt', async () => {
  const r = await h.curl(`${base}/metrics`);
  assert.equal(r.status, 200);
  assert.match(r.headers['content-type'], /text\/plain/);
  assert.match(r.body, /ibb_http_requests_total\{route="\/quotes\/\{symbol\}",status="200"\} [1-9]/);
  assert.match(r.body, /ibb_http_requests_total\{route="\/quotes\/\{symbol\}",status="404"\} [1-9]/);
  assert.match(r.body, /ibb_http_requests_total\{route="\/orders",status="413"\} [1-9]/);
  assert.match(r.body, /ibb_http_request_duration_seconds_bucket\{le="\+Inf"\} [1-9]/);
  assert.match(r.body, /ibb_http_bus_rtt_seconds_count [1-9]/);
  assert.match(r.body, /ibb_http_bus_errors_total [1-9]/);
  assert.match(r.body, /ibb_http_ws_clients 0/);
  for (const line of r.body.split('\n').filter((l) => l && !l.startsWith('#')))
    assert.match(line, /^[a-z_]+(\{.*\})? [0-9.e+-]+$/, `metric line format: ${line}`);
});

test('no ib-bridge on the bus: /health 503 and routes 503 at once (no responders)', async () => {
  const g2 = await h.startGateway(nats.url, { IBB_SUBJECT_PREFIX: 'nobody.here' });
  const t0 = Date.now();
  let r = await h.curl(`${g2.base}/health`);
  assert.equal(r.status, 503, r.body);
  api.check('/health', 'GET', 503, r.json);
  assert.equal(r.json.status, 'unavailable');
  r = await h.curl(`${g2.base}/quotes/AAPL`);
  assert.equal(r.status, 503, r.body);
  assert.equal(r.json.error.code, 'unavailable');
  assert.ok(Date.now() - t0 < 3000, 'no responders answers without waiting for the deadline');
  assert.equal(await h.stop(g2.proc), 0, `clean exit:\n${g2.proc.log}`);
});

test('command line: --help, --version, bad config', () => {
  const bin = h.gatewayBin();
  const help = execFileSync(bin, ['--help'], { encoding: 'utf8' });
  assert.match(help, /NATS_URL/);
  assert.match(help, /HTTP_PORT/);
  assert.match(execFileSync(bin, ['--version'], { encoding: 'utf8' }), /^ib-bridge-http \d/);
  const bad = path.join(path.dirname(confFile), 'bad.conf');
  fs.writeFileSync(bad, 'http = { port = "x"; };\n');
  let p = spawnSync(bin, ['--config', bad], { encoding: 'utf8', env: { ...process.env, HTTP_PORT: '' } });
  assert.equal(p.status, 2);
  assert.match(p.stderr, /http\.port/);
  fs.writeFileSync(bad, 'http = { port = ; };\n');
  p = spawnSync(bin, ['--config', bad], { encoding: 'utf8' });
  assert.equal(p.status, 2);
  assert.match(p.stderr, /bad\.conf:1/);
  p = spawnSync(bin, ['--bogus'], { encoding: 'utf8' });
  assert.equal(p.status, 2);
  p = spawnSync(bin, [], { encoding: 'utf8', env: { ...process.env, HTTP_PORT: '99999' } });
  assert.equal(p.status, 2);
});

test('--probe (the compose health check of ib-bridge): 0 when ib-bridge answers, 1 when none does', async () => {
  const bin = h.gatewayBin();
  let p = spawnSync(bin, ['--probe'], { encoding: 'utf8', env: { ...process.env, NATS_URL: nats.url }, timeout: 15000 });
  assert.equal(p.status, 0, p.stderr);
  assert.equal(JSON.parse(p.stdout).connected, true);
  const t0 = Date.now();
  p = spawnSync(bin, ['--probe'], { encoding: 'utf8', env: { ...process.env, NATS_URL: nats.url, IBB_SUBJECT_PREFIX: 'nobody' }, timeout: 15000 });
  assert.equal(p.status, 1, p.stdout);
  assert.match(p.stderr, /no ib-bridge/);
  assert.ok(Date.now() - t0 < 5000);
  p = spawnSync(bin, ['--probe'], { encoding: 'utf8', env: { ...process.env, NATS_URL: 'nats://127.0.0.1:1' }, timeout: 20000 });
  assert.equal(p.status, 1, p.stdout);
  assert.match(p.stderr, /not connected to NATS/);
});

test('SIGTERM: graceful exit 0', async () => {
  assert.equal(await h.stop(gw.proc), 0, `clean exit:\n${gw.proc.log.slice(-3000)}`);
});
