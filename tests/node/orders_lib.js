// orders_lib.js — helpers for the order tests: read the order event stream (JetStream) in full,
// wait for conditions, schema validators for every order payload.
'use strict';
const bus = require('./bus_lib');

const STREAM = 'IB_ORDERS';

// BigInt (MessagePack int64 above 2^53, e.g. ts_ns) -> Number, so JSON Schema sees an integer.
function numbers(v) {
  if (typeof v === 'bigint') return Number(v);
  if (Array.isArray(v)) return v.map(numbers);
  if (v && typeof v === 'object' && !Buffer.isBuffer(v)) {
    for (const k of Object.keys(v)) v[k] = numbers(v[k]);
  }
  return v;
}
const J = (o) => JSON.stringify(o, (k, v) => (typeof v === 'bigint' ? Number(v) : v));

// Every message of the stream, decoded: { seq, subject, id (Nats-Msg-Id), data }.
async function streamEvents(nc, stream = STREAM) {
  const jsm = await nc.jetstreamManager();
  let info;
  try { info = await jsm.streams.info(stream); } catch (_) { return []; }
  const out = [];
  if (!info.state.messages) return out;
  for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
    let m;
    try { m = await jsm.streams.getMessage(stream, { seq }); } catch (_) { continue; }
    out.push({ seq, subject: m.subject, id: m.header ? m.header.get('Nats-Msg-Id') : '',
      data: numbers(bus.plain(bus.mpDecode(Buffer.from(m.data)))) });
  }
  return out;
}

async function waitFor(what, fn, ms = 15000, every = 200) {
  const until = Date.now() + ms;
  let last;
  while (Date.now() < until) {
    last = await fn();
    if (last) return last;
    await bus.sleep(every);
  }
  throw new Error(`timed out waiting for ${what}`);
}

// Waits until the stream holds events for order_id matching pred(events of that order).
async function waitOrderEvents(nc, orderId, pred, ms = 15000) {
  let evs = [];
  try {
    return await waitFor(`events of order ${orderId}`, async () => {
      evs = (await streamEvents(nc)).filter((e) => e.data.order_id === orderId);
      return pred(evs) ? evs : null;
    }, ms);
  } catch (e) {
    throw new Error(`${e.message}; have: ${evs.map((x) => x.id).join(', ')}`);
  }
}

function validators() {
  const load = bus.validator();
  load('contract.json');
  const v = { list: load('order_list_reply.json') };
  for (const n of ['order_place_request', 'order_place_reply', 'order_cancel_request', 'order_cancel_reply',
    'order_modify_request', 'order_modify_reply', 'order_list_request', 'order_event', 'error', 'status_reply'])
    v[n] = load(`${n}.json`);
  v.check = (name, obj) => {
    const f = name === 'order_list_reply' ? v.list : v[name];
    obj = numbers(obj);
    if (!f(obj)) throw new Error(`${name} schema: ${J(f.errors)} in ${J(obj)}`);
  };
  return v;
}

// Counts placeOrder requests ib-sim received and orders it holds.
async function simOrders(st) {
  const s = await st.simStats();
  return { placed: (s.requests && s.requests.placeOrder) || 0, orders: s.orders, fills: s.fills, working: s.working_orders };
}

module.exports = { numbers, STREAM, streamEvents, waitFor, waitOrderEvents, validators, simOrders };
