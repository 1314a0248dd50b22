// ib-bridge-http WebSocket: real `ws` clients against the real stack — nats-server, ib-sim (seeded,
// fast ticks) and ib-bridge publishing MessagePack quotes, and the real gateway. Checks real quotes,
// the multi-symbol protocol, one shared lease per symbol (ib.rpc.status counts them), browser auth by
// Sec-WebSocket-Protocol, close codes, and that a slow client neither delays a fast one nor grows the
// gateway's memory (conflation).
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const npm = require('../node/npm');
const WebSocket = npm('ws');
const h = require('../node/http_harness');

const TOKEN = 'ws-read-token';
let nats, be, gw, wsBase;
const HZ = 50;   // ib-sim quote updates per second per instrument
const NSYM = 40; // the slow-client test follows SIM0001..SIM0040

test.before(async () => {
  nats = await h.startNats();
  be = await h.startBackend(nats.url, 'ib', { simArgs: ['--tick-rate', String(HZ), '--extra-stocks', String(NSYM)] });
  gw = await h.startGateway(nats.url, { HTTP_READ_TOKENS: TOKEN, HTTP_WS_LEASE_TTL_S: '2', HTTP_WS_MAX_MESSAGE: '1024', HTTP_CORS_ORIGINS: 'https://app.example' });
  wsBase = `ws://127.0.0.1:${gw.port}`;
});
test.after(async () => { await h.stopAll(); });

// A client that records messages; `closed` resolves with { code, reason }.
function client(path, opts = {}) {
  const headers = opts.noAuth || opts.protocols ? {} : { Authorization: `Bearer ${opts.token || TOKEN}` };
  if (opts.origin) headers.Origin = opts.origin;
  const ws = opts.protocols ? new WebSocket(wsBase + path, opts.protocols, { headers, perMessageDeflate: false })
    : new WebSocket(wsBase + path, { headers, perMessageDeflate: false });
  ws.msgs = [];
  ws.waiters = [];
  ws.on('message', (d) => {
    const m = JSON.parse(d.toString());
    ws.msgs.push(m);
    ws.waiters = ws.waiters.filter((w) => !(w.pred(m) && (w.resolve(m), true)));
  });
  ws.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  ws.opened = new Promise((resolve, reject) => { ws.on('open', resolve); ws.on('error', reject); });
  ws.next = (pred, ms = 5000) => {
    const hit = ws.msgs.find(pred);
    if (hit) return Promise.resolve(hit);
    return new Promise((resolve, reject) => {
      const w = { pred, resolve };
      ws.waiters.push(w);
      setTimeout(() => reject(new Error(`no matching message in ${ms} ms; got ${JSON.stringify(ws.msgs.slice(-3))}`)), ms);
    });
  };
  return ws;
}
const isQuote = (sym) => (m) => m.type === 'quote' && m.symbol === sym;

async function metric(name) {
  const r = await h.curl(`http://127.0.0.1:${gw.port}/metrics`);
  const m = r.body.match(new RegExp(`^${name} (\\S+)$`, 'm'));
  return m ? Number(m[1]) : NaN;
}
const leases = async () => (await be.status()).market_data.leases;

test('/ws/quotes/{symbol}: subscribed, then AAPL quotes converted from MessagePack', async () => {
  const ws = client('/ws/quotes/AAPL');
  await ws.opened;
  const sub = await ws.next((m) => m.type === 'subscribed');
  assert.equal(sub.symbol, 'AAPL');
  assert.equal(sub.contract.con_id, 265598);
  const q1 = await ws.next(isQuote('AAPL'));
  assert.equal(q1.data.contract.symbol, 'AAPL');
  assert.equal(typeof q1.data.bid, 'number');
  assert.equal(q1.data.market_data_type, 'realtime');
  await h.sleep(200);
  const qs = ws.msgs.filter(isQuote('AAPL'));
  assert.ok(qs.length >= 3, `several quotes (${qs.length})`);
  for (let i = 1; i < qs.length; i++) assert.ok(qs[i].data.seq > qs[i - 1].data.seq, 'seq increases');
  ws.close(1000);
  assert.equal((await ws.closed).code, 1000);
});

test('/ws/quotes: subscribe and unsubscribe many symbols; one lease per symbol shared by all clients', async () => {
  const clients = [];
  for (let i = 0; i < 5; i++) clients.push(client('/ws/quotes'));
  await Promise.all(clients.map((c) => c.opened));
  for (const c of clients) c.send(JSON.stringify({ action: 'subscribe', symbols: ['MSFT', 'SPY'] }));
  for (const c of clients) { await c.next(isQuote('MSFT')); await c.next(isQuote('SPY')); }
  assert.equal(await leases(), 2, 'five clients, one ib-bridge lease per symbol (MSFT, SPY)');
  const lines = (await be.simStats()).market_data_lines;
  assert.equal(await metric('ibb_http_ws_clients'), 5);
  await h.sleep(4500);   // lease ttl 2 s: without renewals ib-bridge would have ended both leases
  assert.equal(await leases(), 2, 'leases renewed before their ttl');
  assert.equal((await be.simStats()).market_data_lines, lines, 'no extra IB lines for the renewals');
  const before = clients[0].msgs.filter(isQuote('MSFT')).length;
  assert.ok(before > 20, `quotes kept flowing across the renewal (${before})`);
  clients[0].send(JSON.stringify({ action: 'unsubscribe', symbol: 'MSFT' }));
  await clients[0].next((m) => m.type === 'unsubscribed' && m.symbol === 'MSFT');
  await h.sleep(300);
  const n1 = clients[0].msgs.filter(isQuote('MSFT')).length;
  await h.sleep(300);
  assert.equal(clients[0].msgs.filter(isQuote('MSFT')).length, n1, 'no MSFT after unsubscribe');
  assert.ok(clients[0].msgs.filter(isQuote('SPY')).length > 0);
  for (const c of clients) c.close(1000);
  await Promise.all(clients.map((c) => c.closed));
  await h.sleep(300);
  assert.equal(await leases(), 0, 'leases released when the last client left');
  assert.equal((await be.simStats()).market_data_lines, 0, 'IB lines cancelled');
});

test('protocol errors: bad JSON, bad action, unknown symbol in /ws/quotes keep the connection', async () => {
  const ws = client('/ws/quotes');
  await ws.opened;
  ws.send('{nope');
  const e1 = await ws.next((m) => m.type === 'error');
  assert.equal(e1.error.code, 'bad_request');
  ws.send(JSON.stringify({ action: 'dance' }));
  await ws.next((m) => m.type === 'error' && /action/.test(m.error.message));
  ws.send(JSON.stringify({ action: 'subscribe', symbols: ['ZZZZ', 'IBM'] }));
  const e2 = await ws.next((m) => m.type === 'error' && m.symbol === 'ZZZZ');
  assert.equal(e2.error.code, 'unknown_symbol');
  await ws.next(isQuote('IBM'));
  ws.send(JSON.stringify({ action: 'subscribe', symbols: 'IBM' }));
  await ws.next((m) => m.type === 'error' && /symbols/.test(m.error.message));
  ws.close(1000);
  await ws.closed;
});

test('close codes: unknown symbol 4404, no token 4401, bad origin 4403, bad path 1008, binary 1003, too big 1009', async () => {
  let ws = client('/ws/quotes/ZZZZ');
  const err = await ws.next((m) => m.type === 'error');
  assert.equal(err.error.code, 'unknown_symbol');
  assert.equal((await ws.closed).code, 4404);
  ws = client('/ws/quotes/AAPL', { noAuth: true });
  assert.equal((await ws.closed).code, 4401);
  ws = client('/ws/quotes/AAPL', { token: 'wrong' });
  assert.equal((await ws.closed).code, 4401);
  ws = client('/ws/quotes/AAPL', { origin: 'https://evil.example' });
  assert.equal((await ws.closed).code, 4403);
  ws = client('/ws/quotes/AAPL', { origin: 'https://app.example' });
  await ws.next((m) => m.type === 'subscribed');
  ws.close(1000);
  ws = client('/ws/nothing');
  assert.equal((await ws.closed).code, 1008);
  ws = client('/ws/quotes');
  await ws.opened;
  ws.send(Buffer.from([1, 2, 3]), { binary: true });
  assert.equal((await ws.closed).code, 1003);
  ws = client('/ws/quotes');
  await ws.opened;
  ws.send(JSON.stringify({ action: 'subscribe', symbols: ['A'.repeat(2000)] }));
  assert.equal((await ws.closed).code, 1009);
  const r = await h.curl(`http://127.0.0.1:${gw.port}/health`);
  assert.equal(r.status, 200, 'gateway alive after bad clients');
});

test('browsers: the token in Sec-WebSocket-Protocol (bearer.<token> next to ib-bridge), never echoed', async () => {
  let ws = client('/ws/quotes/AAPL', { protocols: ['ib-bridge', `bearer.${TOKEN}`] });
  await ws.opened;
  assert.equal(ws.protocol, 'ib-bridge', 'the server selects ib-bridge, not the token');
  const q = await ws.next(isQuote('AAPL'));
  assert.equal(q.data.contract.con_id, 265598);
  ws.close(1000);
  await ws.closed;
  ws = client('/ws/quotes/AAPL', { protocols: ['ib-bridge', 'bearer.wrong'] });
  assert.equal((await ws.closed).code, 4401);
  ws = client('/ws/quotes/AAPL', { protocols: ['ib-bridge'] });
  assert.equal((await ws.closed).code, 4401);
  ws = client(`/ws/quotes/AAPL?access_token=${TOKEN}`, { protocols: ['ib-bridge'] });
  assert.equal((await ws.closed).code, 4400, 'a token in the query string is refused');
  assert.doesNotMatch(gw.proc.log, new RegExp(TOKEN), 'the token never reaches the log');
});

test('a slow client does not delay a fast one, and memory stays bounded (conflation)', async () => {
  const syms = Array.from({ length: NSYM }, (_, i) => `SIM${String(i + 1).padStart(4, '0')}`);
  const fast = client('/ws/quotes');
  const slow = client('/ws/quotes');
  await Promise.all([fast.opened, slow.opened]);
  fast.send(JSON.stringify({ action: 'subscribe', symbols: syms }));
  slow.send(JSON.stringify({ action: 'subscribe', symbols: syms }));
  for (const s of syms) { await fast.next(isQuote(s)); await slow.next(isQuote(s)); }
  slow._socket.pause();   // stops reading: its TCP buffers fill, then the gateway must conflate
  const rss0 = h.rssKb(gw.proc.pid);
  const start = fast.msgs.length;
  let last = Date.now();
  let maxGap = 0;
  const ages = [];
  fast.on('message', (d) => {
    const now = Date.now();
    maxGap = Math.max(maxGap, now - last);
    last = now;
    const m = JSON.parse(d.toString());
    if (m.type === 'quote') ages.push(now - m.data.recv_ts_ns / 1e6);
  });
  const secs = 6;
  await h.sleep(secs * 1000);
  const got = fast.msgs.length - start;
  // ib-bridge merges the ticks of one read into one event per instrument, so count loosely: at least
  // 5 quotes per symbol per second while the slow client is stuck
  assert.ok(got >= syms.length * 5 * secs, `fast client kept receiving (${got} in ${secs} s)`);
  assert.ok(maxGap < 1000, `fast client never stalled (max gap ${maxGap} ms)`);
  ages.sort((a, b) => a - b);
  const p95 = ages[Math.floor(ages.length * 0.95)];
  assert.ok(p95 < 500, `fast client's quotes are fresh (p95 age ${p95} ms)`);
  const rss1 = h.rssKb(gw.proc.pid);
  assert.ok(rss1 - rss0 < 24 * 1024, `gateway RSS bounded (${rss0} -> ${rss1} kB)`);
  const slowBefore = slow.msgs.length;
  slow._socket.resume();
  await h.sleep(2000);
  assert.ok(slow.msgs.length > slowBefore, 'slow client catches up');
  const lastSlow = slow.msgs.filter((m) => m.type === 'quote').pop();
  const age = Date.now() - lastSlow.data.recv_ts_ns / 1e6;
  assert.ok(age < 1000, `after catching up the slow client sees fresh quotes, not a backlog (age ${age} ms)`);
  assert.ok(slow.msgs.length < fast.msgs.length, `slow client got fewer (conflated) messages (${slow.msgs.length} < ${fast.msgs.length})`);
  assert.ok(await metric('ibb_http_ws_quotes_conflated_total') > 0);
  fast.close(1000);
  slow.close(1000);
  await Promise.all([fast.closed, slow.closed]);
});

test('SIGTERM closes WebSocket clients with 1001, releases leases and exits 0', async () => {
  const ws = client('/ws/quotes/AAPL');
  await ws.next(isQuote('AAPL'));
  const code = h.stop(gw.proc);
  assert.equal((await ws.closed).code, 1001);
  assert.equal(await code, 0, gw.proc.log.slice(-2000));
  await h.sleep(300);
  assert.equal(await leases(), 0, 'lease given back at shutdown');
});
