#!/usr/bin/env node
// STAND-IN for ib-bridge — NOT the adapter. It answers the documented bus subjects (BRIEF.md "The bus
// contract", schemas/*.json) with the documented shapes so ib-bridge-http can be tested before the
// real adapter is wired to the bus. Swap it for the real adapter + ib-sim with IBB_HTTP_BACKEND=real
// (see http_harness.js). Deterministic data; a few symbols have special behaviour for error tests:
//   ZZZZ   unknown symbol      -> error not_found (404)
//   SLOW   never answered      -> the gateway times out (504)
//   PACE   pacing              -> error rate_limited (429)
//   T0..T99 extra known stocks (fan-out tests)
// Quotes for leased symbols are published as MessagePack on <prefix>.quote.<KEY> at STANDIN_QUOTE_HZ.
// Extra subject <prefix>.standin.stats answers with lease bookkeeping, for test assertions.
'use strict';
const { connect, headers, JSONCodec } = require('nats');

const url = process.env.NATS_URL || 'nats://127.0.0.1:4222';
const prefix = process.env.IBB_PREFIX || 'ib';
const hz = Number(process.env.STANDIN_QUOTE_HZ || 10);
const jc = JSONCodec();

// ---- a small MessagePack encoder (maps, arrays, strings, numbers, booleans, null) ----
function mpEncode(v) {
  const out = [];
  const u8 = (b) => out.push(b & 0xff);
  const be = (n, bytes) => { for (let i = bytes - 1; i >= 0; i--) u8(Number((BigInt(n) >> BigInt(8 * i)) & 0xffn)); };
  const enc = (x) => {
    if (x === null || x === undefined) u8(0xc0);
    else if (x === true) u8(0xc3);
    else if (x === false) u8(0xc2);
    else if (typeof x === 'number' && Number.isInteger(x) && Math.abs(x) < 2 ** 53) {
      if (x >= 0 && x < 128) u8(x);
      else if (x >= 0) { u8(0xcf); be(x, 8); }
      else if (x >= -32) u8(0xe0 | (x + 32));
      else { u8(0xd3); be(BigInt.asUintN(64, BigInt(x)), 8); }
    } else if (typeof x === 'number') {
      const b = Buffer.alloc(8); b.writeDoubleBE(x); u8(0xcb); for (const c of b) u8(c);
    } else if (typeof x === 'string') {
      const b = Buffer.from(x, 'utf8');
      if (b.length < 32) u8(0xa0 | b.length); else if (b.length < 256) { u8(0xd9); u8(b.length); } else { u8(0xda); be(b.length, 2); }
      for (const c of b) u8(c);
    } else if (Array.isArray(x)) {
      if (x.length < 16) u8(0x90 | x.length); else { u8(0xdc); be(x.length, 2); }
      x.forEach(enc);
    } else {
      const ks = Object.keys(x).filter((k) => x[k] !== undefined);
      if (ks.length < 16) u8(0x80 | ks.length); else { u8(0xde); be(ks.length, 2); }
      for (const k of ks) { enc(k); enc(x[k]); }
    }
  };
  enc(v);
  return Uint8Array.from(out);
}

// ---- data ----
const KNOWN = { AAPL: 265598, MSFT: 272093, SPY: 756733, TSLA: 76792991, IBM: 8314, SLOW: 1, PACE: 2 };
// T0 .. T99: extra test stocks so fan-out tests can follow many symbols
for (let i = 0; i < 100; i++) KNOWN[`T${i}`] = 900000 + i;
const contract = (sym) => ({ con_id: KNOWN[sym], symbol: sym, sec_type: 'STK', exchange: 'SMART',
  primary_exchange: 'NASDAQ', currency: 'USD', local_symbol: sym, trading_class: 'NMS' });
const seqs = {};
function quote(sym) {
  seqs[sym] = (seqs[sym] || 0) + 1;
  const base = 100 + (KNOWN[sym] % 97);
  const wob = (seqs[sym] % 10) / 100;
  return { key: sym, seq: seqs[sym], contract: contract(sym), bid: base + wob, ask: base + wob + 0.02,
    last: base + wob + 0.01, bid_size: 100, ask_size: 200, last_size: 10, volume: 1000 + seqs[sym],
    market_data_type: 'realtime', recv_ts_ns: Date.now() * 1e6 };
}
const accountId = 'DU1234567';
const orders = new Map();       // order_id -> order
const byClientId = new Map();   // client_order_id -> order_id
let nextOrderId = 1001;
const leases = new Map();       // lease_id -> { symbols, expires }
let leaseSeq = 0;
const stats = { subscribe: {}, renew: {}, unsubscribe: 0 };

function err(msg, status, slug, message) {
  const h = headers();
  h.set('Nats-Service-Error-Code', String(status));
  h.set('Nats-Service-Error', message);
  msg.respond(jc.encode({ error: { code: slug, message } }), { headers: h });
}
const ok = (msg, body) => msg.respond(jc.encode(body));
function body(msg) {
  if (!msg.data || msg.data.length === 0) return {};
  try { return jc.decode(msg.data); } catch { return null; }
}
function needSymbol(msg, b) {
  if (!b || typeof b.symbol !== 'string') { err(msg, 400, 'bad_request', 'symbol (string) is required'); return null; }
  if (b.symbol === 'SLOW') return null;
  if (b.symbol === 'PACE') { err(msg, 429, 'rate_limited', 'historical data pacing: retry in 15 s'); return null; }
  if (!(b.symbol in KNOWN)) { err(msg, 404, 'not_found', `unknown symbol ${b.symbol}: no security definition`); return null; }
  return b.symbol;
}

const handlers = {
  status: (m) => ok(m, { connected: true, state: 'connected', server_version: 176, accounts: [accountId],
    lines_used: leases.size, lines_max: 100, pacing_queue: 0, ts: new Date().toISOString() }),
  quote: (m, b) => { const s = needSymbol(m, b); if (s) ok(m, quote(s)); },
  contract: (m, b) => { const s = needSymbol(m, b); if (s) ok(m, { key: s, contracts: [contract(s)] }); },
  candles: (m, b) => {
    const s = needSymbol(m, b); if (!s) return;
    const bars = [];
    for (let i = 0; i < 3; i++) bars.push({ time: 1700000000 + 300 * i, open: 100 + i, high: 101 + i, low: 99 + i, close: 100.5 + i, volume: 1000 * (i + 1), wap: 100.2 + i, count: 10 });
    ok(m, { key: s, contract: contract(s), duration: b.duration || '1 D', bar_size: b.bar_size || '5 mins', bars });
  },
  positions: (m) => ok(m, { positions: [{ account: accountId, contract: contract('AAPL'), position: 10, avg_cost: 150.25 }] }),
  account: (m) => ok(m, { account: accountId, currency: 'USD', values: { NetLiquidation: 100000.5, BuyingPower: 400000, AvailableFunds: 99000 } }),
  'order.place': (m, b) => {
    if (!b || typeof b.client_order_id !== 'string') return err(m, 400, 'bad_request', 'client_order_id is required');
    if (b.symbol && !(b.symbol in KNOWN)) return err(m, 404, 'not_found', `unknown symbol ${b.symbol}`);
    if (b.type === 'LMT' && typeof b.limit_price !== 'number') return err(m, 422, 'unprocessable', 'LMT orders need limit_price');
    if (byClientId.has(b.client_order_id)) {
      const o = orders.get(byClientId.get(b.client_order_id));
      if (o.symbol !== b.symbol || o.qty !== b.qty || o.side !== b.side) return err(m, 409, 'conflict', 'client_order_id reused with a different order');
      return ok(m, { ...o, replayed: true });
    }
    const o = { order_id: nextOrderId++, client_order_id: b.client_order_id, symbol: b.symbol, side: b.side,
      qty: b.qty, type: b.type || 'MKT', limit_price: b.limit_price, status: 'submitted', replayed: false };
    orders.set(o.order_id, o); byClientId.set(o.client_order_id, o.order_id);
    ok(m, o);
  },
  'order.modify': (m, b) => {
    const id = b && (b.order_id ?? byClientId.get(b.client_order_id));
    const o = orders.get(id);
    if (!o) return err(m, 404, 'not_found', 'no such order');
    for (const k of ['qty', 'limit_price', 'type', 'tif']) if (b[k] !== undefined) o[k] = b[k];
    ok(m, { ...o, replayed: false });
  },
  'order.cancel': (m, b) => {
    const id = b && (b.order_id ?? byClientId.get(b.client_order_id));
    const o = orders.get(id);
    if (!o) return err(m, 404, 'not_found', 'no such order');
    if (o.status === 'cancelled') return err(m, 409, 'conflict', 'order already cancelled');
    o.status = 'cancelled';
    ok(m, { ...o, replayed: false });
  },
  'order.list': (m) => ok(m, { orders: [...orders.values()].map((o) => ({ ...o, replayed: false })) }),
  'admin.connect': (m) => ok(m, { state: 'connecting' }),
  'admin.disconnect': (m) => ok(m, { state: 'disconnected' }),
  subscribe: (m, b) => {
    if (!b) return err(m, 400, 'bad_request', 'malformed body');
    const ttl = b.ttl_s || 60;
    let id = b.lease_id;
    if (id && !leases.has(id)) return err(m, 404, 'not_found', `no lease ${id}`);
    const syms = b.symbols || (id ? leases.get(id).symbols : []);
    for (const s of syms) {
      if (s === 'SLOW') return;
      if (!(s in KNOWN)) return err(m, 404, 'not_found', `unknown symbol ${s}`);
    }
    if (id) { stats.renew[syms[0]] = (stats.renew[syms[0]] || 0) + 1; } else {
      id = `L${++leaseSeq}`;
      for (const s of syms) stats.subscribe[s] = (stats.subscribe[s] || 0) + 1;
    }
    const expires = Date.now() + ttl * 1000;
    leases.set(id, { symbols: syms, expires });
    ok(m, { lease_id: id, expires_at: new Date(expires).toISOString(),
      instruments: syms.map((s) => ({ key: s, subject: `${prefix}.quote.${s}`, contract: contract(s) })) });
  },
  unsubscribe: (m, b) => {
    if (!b || !leases.has(b.lease_id)) return err(m, 404, 'not_found', 'no such lease');
    leases.delete(b.lease_id); stats.unsubscribe++;
    ok(m, { lease_id: b.lease_id, released: true });
  },
  'standin.stats': (m) => {
    const active = {};
    for (const l of leases.values()) for (const s of l.symbols) active[s] = (active[s] || 0) + 1;
    ok(m, { ...stats, active });
  },
};

(async () => {
  const nc = await connect({ servers: url, name: 'ib-bridge-standin' });
  for (const [name, fn] of Object.entries(handlers)) {
    const subj = name === 'standin.stats' ? `${prefix}.standin.stats` : `${prefix}.rpc.${name}`;
    nc.subscribe(subj, { callback: (e, m) => { if (!e) fn(m, body(m)); } });
  }
  let due = 0;
  let lastTick = Date.now();
  setInterval(() => {   // publishes hz quotes per second per leased symbol, in 10 ms batches
    const now = Date.now();
    due += ((now - lastTick) * hz) / 1000;
    lastTick = now;
    const n = Math.floor(due);
    due -= n;
    const live = new Set();
    for (const [id, l] of leases) { if (l.expires < now) leases.delete(id); else l.symbols.forEach((s) => live.add(s)); }
    for (let i = 0; i < n; i++) for (const s of live) nc.publish(`${prefix}.quote.${s}`, mpEncode(quote(s)));
  }, 10);
  await nc.flush();
  process.stdout.write('standin: ready\n');
  const stop = async () => { await nc.drain().catch(() => {}); process.exit(0); };
  process.on('SIGTERM', stop); process.on('SIGINT', stop);
})().catch((e) => { console.error('standin:', e.message); process.exit(1); });
