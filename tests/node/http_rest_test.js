// ib-bridge-http REST: every route with curl against nats-server + backend (stand-in by default) +
// the real gateway binary; happy paths and bad input; responses checked against schemas/openapi.yaml.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync, spawnSync } = require('node:child_process');
const h = require('./http_harness');
const api = require('./http_openapi');

const READ = 'r-token-1';
const TRADE = 't-token-1';
let nats, gw, base, confFile;
const auth = (t) => ({ Authorization: `Bearer ${t}` });
const J = { 'Content-Type': 'application/json' };

test.before(async () => {
  nats = await h.startNats();
  await h.startBackend(nats.url);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ibb-http-'));
  confFile = path.join(dir, 'http.conf');
  fs.writeFileSync(confFile, `# test config
http = { port = 1; body_limit = 2048; };
nats = { request_timeout_ms = 1500; prefix = "ib"; };
auth = { read_tokens = ["${READ}"]; trade_tokens = ["${TRADE}"]; };
cors = { allow_origins = ["https://app.example"]; };
`);
  gw = await h.startGateway(nats.url, {}, ['--config', confFile]);   // HTTP_PORT=0 overrides port = 1
  base = gw.base;
});
test.after(async () => { await h.stopAll(); });

async function call(method, route, url, opts = {}) {
  const r = await h.curl(base + url, { method, ...opts });
  if (r.json !== undefined && opts.check !== false) api.check(route, method, r.status, r.json);
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
  assert.match(r.headers['content-type'], /application\/json/);
  r = await call('GET', '/candles/{symbol}', '/candles/AAPL?duration=2%20D&bar_size=1%20min', { headers: auth(READ) });
  assert.equal(r.status, 200, r.body);
  assert.equal(r.json.duration, '2 D');
  assert.equal(r.json.bar_size, '1 min');
  assert.ok(r.json.bars.length > 0);
  r = await call('POST', '/candles/{symbol}', '/candles/MSFT', { headers: { ...auth(READ), ...J }, body: '{"duration": "1 D", "bar_size": "5 mins"}' });
  assert.equal(r.status, 200, r.body);
  assert.equal(r.json.bar_size, '5 mins');
  r = await call('GET', '/contracts/{symbol}', '/contracts/MSFT', { headers: auth(TRADE) });
  assert.equal(r.status, 200, r.body);
  assert.equal(r.json.contracts[0].con_id, 272093);
  r = await call('GET', '/positions', '/positions', { headers: auth(READ) });
  assert.equal(r.status, 200, r.body);
  assert.ok(Array.isArray(r.json.positions));
  r = await call('GET', '/account', '/account', { headers: auth(READ) });
  assert.equal(r.status, 200, r.body);
  assert.equal(r.json.account, 'DU1234567');
});

test('orders: place (idempotent), list, modify, cancel; connect/disconnect', async () => {
  const body = JSON.stringify({ symbol: 'AAPL', action: 'buy', quantity: 5, order_type: 'LMT', limit_price: 101.5 });
  let r = await call('POST', '/orders', '/orders', { headers: { ...auth(TRADE), ...J, 'Idempotency-Key': 'key-1' }, body });
  assert.equal(r.status, 200, r.body);
  assert.equal(r.json.client_order_id, 'key-1');
  assert.equal(r.json.replayed, false);
  const id = r.json.order_id;
  r = await call('POST', '/orders', '/orders', { headers: { ...auth(TRADE), ...J, 'Idempotency-Key': 'key-1' }, body });
  assert.equal(r.status, 200, r.body);
  assert.equal(r.json.order_id, id, 'a retried request must not place a second order');
  assert.equal(r.json.replayed, true);
  r = await call('POST', '/orders', '/orders', { headers: { ...auth(TRADE), ...J }, body: JSON.stringify({ client_order_id: 'key-2', symbol: 'MSFT', action: 'SELL', quantity: 1 }) });
  assert.equal(r.status, 200, r.body);
  assert.equal(r.json.client_order_id, 'key-2');
  r = await call('POST', '/orders', '/orders', { headers: { ...auth(TRADE), ...J }, body: JSON.stringify({ symbol: 'MSFT', side: 'SELL', qty: 1 }) });
  assert.equal(r.status, 400, 'an order without client_order_id or Idempotency-Key is refused: ' + r.body);
  assert.match(r.json.error.message, /Idempotency-Key/);
  r = await call('GET', '/orders', '/orders', { headers: auth(TRADE) });
  assert.equal(r.status, 200, r.body);
  assert.equal(r.json.orders.length, 2);
  r = await call('PATCH', '/orders/{id}', `/orders/${id}`, { headers: { ...auth(TRADE), ...J }, body: '{"quantity": 7}' });
  assert.equal(r.status, 200, r.body);
  assert.equal(r.json.order_id, id);
  r = await call('PATCH', '/orders/{id}', '/orders/key-2', { headers: { ...auth(TRADE), ...J }, body: '{"limit_price": 300}' });
  assert.equal(r.status, 200, r.body);
  r = await call('DELETE', '/orders/{id}', `/orders/${id}`, { headers: auth(TRADE) });
  assert.equal(r.status, 200, r.body);
  assert.equal(r.json.status, 'cancelled');
  r = await call('DELETE', '/orders/{id}', `/orders/${id}`, { headers: auth(TRADE) });
  assert.equal(r.status, 409, r.body);
  assert.equal(r.json.error.code, 'conflict');
  r = await call('POST', '/connect', '/connect', { headers: auth(TRADE) });
  assert.equal(r.status, 200, r.body);
  r = await call('POST', '/disconnect', '/disconnect', { headers: auth(TRADE) });
  assert.equal(r.status, 200, r.body);
});

test('bus errors map to HTTP statuses with the bus error body', async () => {
  let r = await call('GET', '/quotes/{symbol}', '/quotes/ZZZZ', { headers: auth(READ) });
  assert.equal(r.status, 404, r.body);
  assert.equal(r.json.error.code, 'not_found');
  assert.match(r.json.error.message, /ZZZZ/);
  r = await call('GET', '/candles/{symbol}', '/candles/PACE', { headers: auth(READ) });
  assert.equal(r.status, 429, r.body);
  assert.equal(r.json.error.code, 'rate_limited');
  r = await call('POST', '/orders', '/orders', { headers: { ...auth(TRADE), ...J }, body: '{"client_order_id":"k-lmt","symbol":"AAPL","action":"BUY","quantity":1,"order_type":"LMT"}' });
  assert.equal(r.status, 422, r.body);
  r = await call('POST', '/orders', '/orders', { headers: { ...auth(TRADE), ...J, 'Idempotency-Key': 'key-1' }, body: '{"symbol":"AAPL","action":"SELL","quantity":9}' });
  assert.equal(r.status, 409, r.body);
  const t0 = Date.now();
  r = await call('GET', '/quotes/{symbol}', '/quotes/SLOW', { headers: auth(READ) });
  assert.equal(r.status, 504, r.body);
  assert.equal(r.json.error.code, 'timeout');
  assert.ok(Date.now() - t0 >= 1400 && Date.now() - t0 < 6000, `deadline respected (${Date.now() - t0} ms)`);
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
  r = await call('POST', '/candles/{symbol}', '/candles/AAPL', { headers: { ...auth(READ), ...J, Expect: '' }, body: '', bodyFile: f });
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
  assert.match(r.body, /ibb_http_bus_timeouts_total [1-9]/);
  assert.match(r.body, /ibb_http_ws_clients 0/);
  for (const line of r.body.split('\n').filter((l) => l && !l.startsWith('#')))
    assert.match(line, /^[a-z_]+(\{.*\})? [0-9.e+-]+$/, `metric line format: ${line}`);
});

test('no ib-bridge on the bus: /health 503 and routes 503 at once (no responders)', async () => {
  const g2 = await h.startGateway(nats.url, { IBB_PREFIX: 'nobody.here' });
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

test('SIGTERM: graceful exit 0', async () => {
  assert.equal(await h.stop(gw.proc), 0, `clean exit:\n${gw.proc.log.slice(-3000)}`);
});
