// ib-bridge-http safe by default (issue 14), against real processes: nats-server, ib-sim + ib-bridge
// (paper), a second ib-bridge in live mode (its IB link down: the mode is what matters), and the real
// gateway binary. Default listen address, refusal on a non-loopback address without authentication,
// auth.allow_anonymous, and order routes under a live ib-bridge.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const { spawnSync } = require('node:child_process');
const h = require('../node/http_harness');

const J = { 'Content-Type': 'application/json' };
let seq = 0;
const order = () => JSON.stringify({ client_order_id: `safety-${process.pid}-${++seq}`, symbol: 'AAPL', side: 'BUY', qty: 1, type: 'LMT', limit_price: 1 });
let nats, paper, live;

test.before(async () => {
  nats = await h.startNats();
  paper = await h.startBackend(nats.url, 'ib');
  // live mode needs a live port and no simulator; nothing listens there, and ib.rpc.status still answers
  const bridge = await h.start('ib-bridge (live)', process.env.IB_BRIDGE_BIN, [], {
    NATS_URL: nats.url, IB_HOST: '127.0.0.1', IB_PORT: '7496', IB_TRADING_MODE: 'live', IB_SIMULATOR: 'false',
    IBB_SUBJECT_PREFIX: 'live', IB_CLIENT_ID: '77',
  }, null);
  live = { proc: bridge.proc };
  const until = Date.now() + 15000;
  for (;;) {
    try {
      const st = await h.busRequest(nats.url, 'live.rpc.status', {});
      assert.equal(st.ib.trading_mode, 'live');
      break;
    } catch (e) {
      if (Date.now() > until) throw new Error(`live ib-bridge never answered: ${e.message}\n${live.proc.log}`);
      await h.sleep(100);
    }
  }
});
test.after(async () => { await h.stopAll(); });

// The local address the process with `pid` listens on at `port`, from /proc/net/tcp ("0100007F" = 127.0.0.1).
function listenAddr(port) {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const rows = fs.readFileSync('/proc/net/tcp', 'utf8').trim().split('\n').slice(1).map((l) => l.trim().split(/\s+/));
  const row = rows.find((r) => r[3] === '0A' && r[1].endsWith(':' + hexPort));   // 0A = LISTEN
  assert.ok(row, `nothing listens on port ${port}`);
  const a = row[1].split(':')[0];
  return [3, 2, 1, 0].map((i) => parseInt(a.slice(i * 2, i * 2 + 2), 16)).join('.');
}

test('defaults: listens on 127.0.0.1 only', async () => {
  const gw = await h.startGateway(nats.url, { HTTP_LISTEN: undefined });
  assert.equal(listenAddr(gw.port), '127.0.0.1');
  assert.match(gw.proc.log, /http\.listening port=\d+ listen=127\.0\.0\.1 /);
  const r = await h.curl(`${gw.base}/health`);
  assert.equal(r.status, 200, r.body);
  await h.stop(gw.proc);
});

test('a non-loopback address without tokens is refused, naming auth.allow_anonymous', () => {
  const dir = fs.mkdtempSync(require('node:path').join(require('node:os').tmpdir(), 'ibb-safety-'));
  const allIfaces = require('node:path').join(dir, 'all.conf');
  fs.writeFileSync(allIfaces, 'http = { listen = ""; };\n');   // "" = every interface
  for (const [args, env] of [[[], { HTTP_LISTEN: '0.0.0.0' }], [['--config', allIfaces], {}]]) {
    const p = spawnSync(h.gatewayBin(), args, {
      encoding: 'utf8', timeout: 15000,
      env: { ...process.env, NATS_URL: nats.url, HTTP_PORT: '0', ...env },
    });
    assert.equal(p.status, 2, `${JSON.stringify(args)} ${JSON.stringify(env)}: ${p.stderr}`);
    assert.match(p.stderr, /auth\.allow_anonymous/);
    assert.match(p.stderr, /not loopback/);
    assert.doesNotMatch(p.stderr, /http\.listening/);
  }
});

test('auth.allow_anonymous = true starts on 0.0.0.0 with a warning naming the risk', async () => {
  const gw = await h.startGateway(nats.url, { HTTP_LISTEN: '0.0.0.0', HTTP_ALLOW_ANONYMOUS: 'true' });
  assert.equal(listenAddr(gw.port), '0.0.0.0');
  assert.match(gw.proc.log, /WARN +http\.anonymous_exposed .*risk="no authentication on a non-loopback address[^"]*places orders[^"]*" key=auth\.allow_anonymous/);
  await h.stop(gw.proc);
});

test('tokens make a non-loopback address acceptable without allow_anonymous', async () => {
  const gw = await h.startGateway(nats.url, { HTTP_LISTEN: '0.0.0.0', HTTP_READ_TOKENS: 'r1', HTTP_TRADE_TOKENS: 't1' });
  assert.equal(listenAddr(gw.port), '0.0.0.0');
  assert.doesNotMatch(gw.proc.log, /anonymous_exposed/);
  const r = await h.curl(`${gw.base}/positions`);
  assert.equal(r.status, 401, r.body);
  await h.stop(gw.proc);
});

test('auth off, paper ib-bridge: order routes are open', async () => {
  const gw = await h.startGateway(nats.url, { IBB_SUBJECT_PREFIX: 'ib' });
  // at once: a request that comes before the mode is known waits for ib.rpc.status
  let r = await h.curl(`${gw.base}/orders`, { method: 'POST', headers: J, body: order() });
  assert.equal(r.status, 200, r.body);
  assert.ok(Number.isInteger(r.json.order_id));
  r = await h.curl(`${gw.base}/orders`);
  assert.equal(r.status, 200, r.body);
  assert.match(gw.proc.log, /http\.trading_mode mode=paper order_routes=open/);
  await h.stop(gw.proc);
});

test('auth off, live ib-bridge: order and admin routes are 403, read routes stay open', async () => {
  const gw = await h.startGateway(nats.url, { IBB_SUBJECT_PREFIX: 'live' });
  for (const [method, url, body] of [['POST', '/orders', order()], ['GET', '/orders'], ['DELETE', '/orders/5'],
    ['PATCH', '/orders/5', '{"qty":2}'], ['POST', '/connect']]) {
    const r = await h.curl(`${gw.base}${url}`, { method, headers: body ? J : {}, body });
    assert.equal(r.status, 403, `${method} ${url}: ${r.body}`);
    assert.equal(r.json.error.code, 'forbidden');
    assert.match(r.json.error.message, /trades live.*auth\.trade_tokens/);
  }
  assert.match(gw.proc.log, /http\.trading_mode mode=live order_routes=refused/);
  assert.equal(live.proc.exitCode_, undefined, 'the live ib-bridge is still running');
  await h.stop(gw.proc);
});

test('tokens, live ib-bridge: an order route needs the trade token and then reaches ib-bridge', async () => {
  const gw = await h.startGateway(nats.url, { IBB_SUBJECT_PREFIX: 'live', HTTP_READ_TOKENS: 'r1', HTTP_TRADE_TOKENS: 't1' });
  let r = await h.curl(`${gw.base}/orders`, { method: 'POST', headers: J, body: order() });
  assert.equal(r.status, 401, r.body);
  r = await h.curl(`${gw.base}/orders`, { method: 'POST', headers: { ...J, Authorization: 'Bearer r1' }, body: order() });
  assert.equal(r.status, 403, r.body);
  r = await h.curl(`${gw.base}/orders`, { method: 'POST', headers: { ...J, Authorization: 'Bearer t1' }, body: order() });
  // past the gateway: the live ib-bridge itself answers (its IB link is down, so: unavailable)
  assert.equal(r.status, 503, r.body);
  assert.match(r.json.error.code, /unavailable/);
  await h.stop(gw.proc);
});

test('nats/nats-dev.conf (no auth) listens on loopback only, and scripts/run keeps it there', async () => {
  const conf = require('node:path').join(h.ROOT, 'nats/nats-dev.conf');
  assert.match(fs.readFileSync(conf, 'utf8'), /^host: 127\.0\.0\.1$/m);
  assert.match(fs.readFileSync(conf, 'utf8'), /LOOPBACK ONLY/);
  const port = await h.freePort();
  const dir = fs.mkdtempSync(require('node:path').join(require('node:os').tmpdir(), 'ibb-natsdev-'));
  const { proc } = await h.start('nats-server (dev conf)', 'nats-server', ['-c', conf, '-p', String(port), '-sd', dir], {},
    /Server is ready/);
  assert.equal(listenAddr(port), '127.0.0.1');
  await h.stop(proc);
  const run = fs.readFileSync(require('node:path').join(h.ROOT, 'scripts/run'), 'utf8');
  assert.match(run, /nats-dev\.conf" -a 127\.0\.0\.1 /);
  assert.doesNotMatch(run, /0\.0\.0\.0/);
});
