// ib-bridge-http and the streams beyond level 1, against the real stack (nats-server, ib-sim, ib-bridge,
// the gateway): GET /depth/{symbol} (the book; ib.rpc.depth takes a short lease when nobody streams it),
// WebSocket /ws/depth/{symbol} (books), /ws/ticks/{symbol} (every tick-by-tick event, seq without gaps:
// never conflated) and /ws/bars/{symbol} (5-second bars); one lease per (kind, symbol) shared by clients.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const fs = require('node:fs');
const npm = require('../node/npm');
const WebSocket = npm('ws');
const h = require('../node/http_harness');
const { schemas } = require('../node/quotes_lib');

const TOKEN = 'streams-read-token';
const check = schemas();
let nats, be, gw, wsBase;

test.before(async () => {
  nats = await h.startNats();
  be = await h.startBackend(nats.url, 'ib', { simArgs: ['--tick-rate', '200'] });
  gw = await h.startGateway(nats.url, { HTTP_READ_TOKENS: TOKEN, HTTP_WS_LEASE_TTL_S: '4' });
  wsBase = `ws://127.0.0.1:${gw.port}`;
});
test.after(async () => { await h.stopAll(); });

function client(p) {
  const ws = new WebSocket(wsBase + p, { headers: { Authorization: `Bearer ${TOKEN}` }, perMessageDeflate: false });
  ws.msgs = [];
  ws.on('message', (d) => ws.msgs.push(JSON.parse(d.toString())));
  ws.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  ws.opened = new Promise((resolve, reject) => { ws.on('open', resolve); ws.on('error', reject); });
  ws.until = async (pred, ms = 8000) => {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      if (pred(ws.msgs)) return;
      await h.sleep(50);
    }
    throw new Error(`timeout on ${p}; got ${JSON.stringify(ws.msgs.slice(-2)).slice(0, 400)}`);
  };
  return ws;
}

test('GET /depth/{symbol}: the book, from a lease ib.rpc.depth takes itself', async () => {
  const r = await h.curl(`${gw.base}/depth/AAPL`, { headers: { Authorization: `Bearer ${TOKEN}` } });
  assert.equal(r.status, 200, r.body);
  check('depth_event.json', r.json, 'GET /depth/AAPL');
  assert.equal(r.json.key, 'AAPL');
  assert.equal(r.json.rows, 10);
  assert.equal(r.json.bids.length, 10);
  assert.ok(r.json.bids[0].price < r.json.asks[0].price);
  const bad = await h.curl(`${gw.base}/depth/NOSUCHSYM`, { headers: { Authorization: `Bearer ${TOKEN}` } });
  assert.equal(bad.status, 404, bad.body);
  const spec = fs.readFileSync(path.join(h.ROOT, 'schemas/openapi.yaml'), 'utf8');
  for (const p of ['/depth/{symbol}:', '/ws/depth/{symbol}:', '/ws/ticks/{symbol}:', '/ws/bars/{symbol}:']) {
    assert.ok(spec.includes(`  ${p}`), `openapi.yaml documents ${p}`);
  }
});

test('/ws/depth, /ws/ticks, /ws/bars: one lease per stream for two clients; ticks never conflated', async () => {
  const ws = ['/ws/depth/MSFT', '/ws/depth/MSFT', '/ws/ticks/MSFT', '/ws/ticks/MSFT', '/ws/bars/MSFT'].map(client);
  await Promise.all(ws.map((w) => w.opened));
  for (const [i, kind] of [[0, 'depth'], [2, 'ticks'], [4, 'bars']]) {
    await ws[i].until((m) => m.some((x) => x.type === 'subscribed' && x.kind === kind && x.symbol === 'MSFT'));
  }
  await ws[0].until((m) => m.filter((x) => x.type === 'depth').length >= 3);
  await ws[1].until((m) => m.filter((x) => x.type === 'depth').length >= 3);
  for (const x of ws[0].msgs.filter((y) => y.type === 'depth')) check('depth_event.json', x.data, 'ws depth frame');
  await ws[2].until((m) => m.filter((x) => x.type === 'tick').length >= 50);
  await ws[3].until((m) => m.filter((x) => x.type === 'tick').length >= 50);
  for (const w of [ws[2], ws[3]]) {
    const t = w.msgs.filter((x) => x.type === 'tick');
    for (const x of t) check('ticks_event.json', x.data, 'ws tick frame');
    for (let i = 1; i < t.length; i++) assert.equal(t[i].data.seq, t[i - 1].data.seq + 1, 'no tick dropped');
  }
  await ws[4].until((m) => m.some((x) => x.type === 'bar'), 9000);
  check('bar_event.json', ws[4].msgs.find((x) => x.type === 'bar').data, 'ws bar frame');
  const st = await h.busRequest(nats.url, 'ib.rpc.status', {});
  const kinds = st.market_data.lease_list.map((l) => l.keys[0]).filter((k) => /MSFT$/.test(k)).sort();
  assert.deepEqual(kinds, ['bars/TRADES/MSFT', 'depth/10/MSFT', 'ticks/last/MSFT'], JSON.stringify(kinds));
  const simStats = await be.simStats();
  assert.equal(simStats.requests.reqTickByTickData, 1);
  // /metrics renders ib.rpc.status's market_data.streams (refreshed every second)
  const end = Date.now() + 5000;
  let text = '';
  while (Date.now() < end && !/^ibb_tick_by_tick_used 1$/m.test(text)) {
    text = (await h.curl(`${gw.base}/metrics`)).body;
    await h.sleep(200);
  }
  assert.match(text, /^ibb_tick_by_tick_used 1$/m);
  assert.match(text, /^ibb_tick_by_tick_budget 3$/m);
  assert.match(text, /^ibb_depth_budget 3$/m);
  assert.match(text, /^ibb_bars_used 1$/m);
  assert.match(text, /^ibb_depth_events_total [1-9]\d*$/m);
  for (const w of ws) w.close(1000);
  await Promise.all(ws.map((w) => w.closed));
});

test('an unknown stream path is closed with 1008', async () => {
  const w = client('/ws/level3/AAPL');
  const c = await w.closed;
  assert.equal(c.code, 1008);
  assert.match(c.reason, /ws\/\{depth\|ticks\|bars\}/);
});
