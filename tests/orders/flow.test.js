// flow.test.js — ib.rpc.order.* against ib-sim over a real nats-server (JetStream):
// fills and commissions in the stream once, idempotent repeats (sequential and concurrent),
// limit order modified then cancelled, every error case without IB order traffic, read-only and
// rate limits, IB link down. Every payload is validated against schemas/ in both encodings.
'use strict';
const bus = require('../node/bus_lib');
const { startStack } = require('../node/stack');
const { streamEvents, waitFor, waitOrderEvents, validators, simOrders } = require('../node/orders_lib');
const sim = require('../node/sim_lib');
const npm = require('../node/npm');
const { EventName } = npm('@stoqey/ib');

const t = bus.runner('orders.flow');
const V = validators();
const { assert, eq } = bus;

const ENV = { IB_CLIENT_ID: '21', IBB_MAX_ORDER_QTY: '500', IBB_MAX_ORDER_NOTIONAL: '50000',
  IBB_ALLOWED_SYMBOLS: 'AAPL,MSFT,SPY,ZZZQX' };

function placeBody(cid, extra = {}) { return { client_order_id: cid, symbol: 'AAPL', side: 'BUY', qty: 10, type: 'MKT', ...extra }; }

async function expectError(st, subject, body, slug, re, opts = {}) {
  const r = await st.request(subject, body, opts);
  assert(r.error, `${subject} ${JSON.stringify(body)}: expected error ${slug}, got ${JSON.stringify(r.data)}`);
  V.check('error', r.data);
  eq(r.error.code, slug, `error slug for ${JSON.stringify(body)} (${r.error.message})`);
  assert(r.status >= 400, 'Nats-Service-Error-Code header set');
  if (re) assert(re.test(r.error.message), `message "${r.error.message}" should match ${re}`);
  return r;
}

(async () => {
  const st = await startStack({ bridgeEnv: ENV, simArgs: ['--tick-rate', '10'] });
  const mirror = [];
  const sub = st.nc.subscribe('ib.json.evt.order.>', { callback: (err, m) => { if (!err) mirror.push(JSON.parse(bus.td.decode(m.data))); } });
  let mktId;
  try {
    await t.step('market order: submitted, filled, one fill and one commission in the stream', async () => {
      const r = await st.request('ib.rpc.order.place', placeBody('flow-mkt-1'));
      assert(!r.error, JSON.stringify(r.data));
      V.check('order_place_reply', r.data);
      eq(r.data.duplicate, false, 'first request');
      mktId = r.data.order_id;
      const evs = await waitOrderEvents(st.nc, mktId, (e) => e.some((x) => x.data.type === 'commission') &&
        e.some((x) => x.data.type === 'filled'));
      for (const e of evs) V.check('order_event', e.data);
      const ids = evs.map((e) => e.id);
      eq(new Set(ids).size, ids.length, 'each event once');
      const types = evs.map((e) => e.data.type);
      eq(types.filter((x) => x === 'submitted').length, 1, 'one submitted');
      eq(types.filter((x) => x === 'filled').length, 1, 'one filled');
      const fills = evs.filter((e) => e.data.type === 'fill');
      const comms = evs.filter((e) => e.data.type === 'commission');
      assert(fills.length >= 1, 'a fill');
      eq(comms.length, fills.length, 'a commission per fill');
      eq(fills.reduce((a, e) => a + e.data.fill.qty, 0), 10, 'fills add up to the order');
      assert(types.indexOf('submitted') < types.indexOf('fill'), 'submitted before the fill');
      for (const e of evs) eq(e.subject, `ib.evt.order.${mktId}`, 'subject');
      eq(fills[0].data.contract.con_id, 265598, 'full contract with conId');
      const s = await simOrders(st);
      eq(s.fills, fills.length, 'ib-sim executions = fill events');
      await waitFor('JSON mirror', () => mirror.filter((m) => m.order_id === mktId).length >= evs.length, 5000);
      for (const m of mirror) V.check('order_event', m);
    });

    await t.step('MessagePack request gets a MessagePack reply (schema valid)', async () => {
      const r = await st.request('ib.rpc.order.place', placeBody('flow-mp-1', { qty: 1 }), { msgpack: true });
      assert(r.raw[0] >= 0x80, 'MessagePack reply');
      assert(!r.error, JSON.stringify(r.data));
      V.check('order_place_reply', r.data);
      const e = await st.request('ib.rpc.order.place', { client_order_id: 'x y' }, { msgpack: true });
      assert(e.raw[0] >= 0x80, 'MessagePack error');
      V.check('error', e.data);
    });

    await t.step('same client_order_id 100 times in a row: one order at ib-sim', async () => {
      const before = await simOrders(st);
      const ids = new Set();
      let dups = 0;
      for (let i = 0; i < 100; i++) {
        const r = await st.request('ib.rpc.order.place', placeBody('flow-seq-1', { qty: 2 }), { msgpack: i % 2 === 1 });
        assert(!r.error, JSON.stringify(r.data));
        V.check('order_place_reply', r.data);
        ids.add(r.data.order_id);
        if (r.data.duplicate) dups++;
      }
      eq(ids.size, 1, 'one order id');
      eq(dups, 99, '99 duplicates');
      const after = await simOrders(st);
      eq(after.placed - before.placed, 1, 'one placeOrder');
      eq(after.orders - before.orders, 1, 'one order');
    });

    await t.step('same client_order_id 100 times at once: one order at ib-sim', async () => {
      const before = await simOrders(st);
      const rs = await Promise.all(Array.from({ length: 100 }, (_, i) =>
        st.request('ib.rpc.order.place', placeBody('flow-conc-1', { qty: 3 }), { msgpack: i % 2 === 0, timeout: 15000 })));
      const ids = new Set(rs.map((r) => { assert(!r.error, JSON.stringify(r.data)); V.check('order_place_reply', r.data); return r.data.order_id; }));
      eq(ids.size, 1, 'one order id');
      const after = await simOrders(st);
      eq(after.placed - before.placed, 1, 'one placeOrder');
      eq(after.orders - before.orders, 1, 'one order');
    });

    await t.step('limit order resting, modified, then cancelled: events in order', async () => {
      const r = await st.request('ib.rpc.order.place', placeBody('flow-lmt-1', { type: 'LMT', limit_price: 1.25, tif: 'GTC' }));
      assert(!r.error, JSON.stringify(r.data));
      const id = r.data.order_id;
      await waitOrderEvents(st.nc, id, (e) => e.some((x) => x.data.status === 'Submitted'));
      let l = await st.request('ib.rpc.order.list', { client_order_id: 'flow-lmt-1' });
      V.check('order_list_reply', l.data);
      eq(l.data.count, 1, 'listed');
      eq(l.data.orders[0].status, 'Submitted', 'resting');
      const m = await st.request('ib.rpc.order.modify', { order_id: id, limit_price: 1.5, qty: 20 });
      assert(!m.error, JSON.stringify(m.data));
      V.check('order_modify_reply', m.data);
      eq([m.data.limit_price, m.data.qty], [1.5, 20], 'new values');
      const m2 = await st.request('ib.rpc.order.modify', { client_order_id: 'flow-lmt-1', limit_price: 1.4 });
      assert(!m2.error, 'modify by client_order_id: ' + JSON.stringify(m2.data));
      eq([m2.data.order_id, m2.data.limit_price], [id, 1.4], 'the same order, modified by its client_order_id');
      const c = await st.request('ib.rpc.order.cancel', { client_order_id: 'flow-lmt-1' }, { msgpack: true });
      assert(!c.error, JSON.stringify(c.data));
      V.check('order_cancel_reply', c.data);
      eq(c.data.status, 'Cancelled', 'cancelled');
      const evs = await waitOrderEvents(st.nc, id, (e) => e.some((x) => x.data.type === 'cancelled'));
      for (const e of evs) V.check('order_event', e.data);
      const types = evs.map((e) => e.data.type);
      const iSub = types.indexOf('submitted'), iMod = types.indexOf('modified'), iCan = types.indexOf('cancelled');
      assert(iSub >= 0 && iMod > iSub && iCan > iMod, `order of events: ${types.join(',')}`);
      eq(types.filter((x) => x === 'cancelled').length, 1, 'one cancelled');
      eq(evs[iMod].data.limit_price, 1.5, 'modified event carries the new price');
      eq(evs.filter((x) => x.data.type === 'modified').map((x) => x.data.limit_price), [1.5, 1.4], 'both modifications, in order');
      await expectError(st, 'ib.rpc.order.cancel', { order_id: id }, 'conflict', /already Cancelled/);
      await expectError(st, 'ib.rpc.order.modify', { order_id: id, qty: 5 }, 'conflict');
      l = await st.request('ib.rpc.order.list', { status: 'all', symbol: 'AAPL' }, { msgpack: true });
      V.check('order_list_reply', l.data);
      assert(l.data.orders.some((o) => o.order_id === id && o.status === 'Cancelled'), 'all lists the cancelled one');
      l = await st.request('ib.rpc.order.list', {});
      assert(!l.data.orders.some((o) => o.order_id === id), 'open list drops it');
    });

    await t.step('a modify keeps outside_rth: IB still holds the order as placed (seen by another client)', async () => {
      const r = await st.request('ib.rpc.order.place', placeBody('flow-rth-1', { type: 'LMT', limit_price: 1.25, tif: 'GTC', outside_rth: true }));
      assert(!r.error, JSON.stringify(r.data));
      const id = r.data.order_id;
      await waitOrderEvents(st.nc, id, (e) => e.some((x) => x.data.status === 'Submitted'));
      const m = await st.request('ib.rpc.order.modify', { order_id: id, limit_price: 1.3 });
      assert(!m.error, JSON.stringify(m.data));
      const ib = await sim.connectClient(st.sim.port, 77);
      try {
        const seen = sim.waitFor(ib.ib, EventName.openOrder, (oid, c, o) => oid === id && Math.abs(o.lmtPrice - 1.3) < 1e-9);
        ib.ib.reqAllOpenOrders();
        const [, , order] = await seen;
        eq(order.outsideRth, true, 'outside_rth after the modify');
      } finally {
        ib.ib.disconnect();
      }
      const c = await st.request('ib.rpc.order.cancel', { order_id: id });
      assert(!c.error, JSON.stringify(c.data));
    });

    await t.step('bad requests, risk limits, unknown symbol: clear errors and no order at IB', async () => {
      const before = await simOrders(st);
      const P = 'ib.rpc.order.place';
      await expectError(st, P, { symbol: 'AAPL', side: 'BUY', qty: 1 }, 'bad_request', /client_order_id/);
      await expectError(st, P, placeBody('bad id!'), 'bad_request', /client_order_id/);
      await expectError(st, P, placeBody('x'.repeat(65)), 'bad_request', /client_order_id/);
      await expectError(st, P, placeBody('e1', { side: 'HOLD' }), 'bad_request', /side/);
      await expectError(st, P, placeBody('e2', { qty: -5 }), 'bad_request', /qty/);
      await expectError(st, P, placeBody('e3', { qty: 'ten' }), 'bad_request', /qty/);
      await expectError(st, P, placeBody('e4', { type: 'LMT' }), 'bad_request', /limit_price/);
      await expectError(st, P, placeBody('e5', { type: 'STP_LMT', limit_price: 10 }), 'bad_request', /stop_price/);
      await expectError(st, P, placeBody('e6', { limit_price: 10 }), 'bad_request', /limit_price/);
      await expectError(st, P, placeBody('e7', { tif: 'FOK' }), 'bad_request', /tif/);
      await expectError(st, P, { client_order_id: 'e8', side: 'BUY', qty: 1 }, 'bad_request', /symbol/);
      await expectError(st, P, placeBody('e9', { symbol: 'A B' }), 'bad_request', /symbol/);
      await expectError(st, P, placeBody('e10', { qty: 501 }), 'risk_limit', /max_order_qty/);
      await expectError(st, P, placeBody('e11', { type: 'LMT', limit_price: 450, qty: 500 }), 'risk_limit', /max_order_notional/);
      await expectError(st, P, placeBody('e12', { symbol: 'NVDA' }), 'risk_limit', /allowed_symbols/);
      await expectError(st, P, placeBody('e15', { symbol: 'ZZZQX' }), 'unknown_symbol');
      await expectError(st, P, placeBody('e13', { symbol: 'AAPL', qty: 400, type: 'MKT' }), 'risk_limit', /max_order_notional/);
      await expectError(st, P, placeBody('e14', { symbol: 'MSFT', contract: undefined, account: 'DU999' }), 'bad_request', /'DU999'.*DU1234567/);
      await expectError(st, 'ib.rpc.order.cancel', {}, 'bad_request', /order_id/);
      await expectError(st, 'ib.rpc.order.cancel', { order_id: 999999 }, 'not_found');
      await expectError(st, 'ib.rpc.order.modify', { order_id: mktId }, 'bad_request', /at least one/);
      await expectError(st, 'ib.rpc.order.list', { status: 'closed' }, 'bad_request', /status/);
      await expectError(st, P, '{"client_order_id":', 'bad_request', null, { raw: Buffer.from('{"client_order_id":') });
      const after = await simOrders(st);
      eq(after.orders - before.orders, 0, 'no order reached ib-sim');
      // an account the login does not manage is refused before IB, every time (issue 16)
      const placed = (await simOrders(st)).placed;
      await expectError(st, P, placeBody('e14', { symbol: 'MSFT', account: 'DU999' }), 'bad_request', /managed accounts: DU1234567/);
      eq((await simOrders(st)).placed, placed, 'the repeat does not reach IB');
    });

    await t.step('IB link down: immediate ib_unavailable, nothing queued', async () => {
      const before = await simOrders(st);
      await st.simControl('restart 3');
      await waitFor('link down', async () => !(await st.request('ib.rpc.status', {})).data.connected, 5000, 100);
      const t0 = Date.now();
      await expectError(st, 'ib.rpc.order.place', placeBody('flow-down-1'), 'ib_unavailable');
      assert(Date.now() - t0 < 2000, 'immediate');
      const l = await st.request('ib.rpc.order.list', { status: 'all' });
      V.check('order_list_reply', l.data);
      eq(l.data.source, 'cache', 'list answers from the ledger while IB is down');
      await st.waitReady(20000);
      await bus.sleep(1000);
      const after = await simOrders(st);
      eq(after.placed, before.placed, 'nothing was sent later');
      const r = await st.request('ib.rpc.order.place', placeBody('flow-down-1', { qty: 1 }));
      assert(!r.error, 'after the reconnect the same id places: ' + JSON.stringify(r.data));
      eq(r.data.duplicate, false, 'first real placement');
    });

    await t.step('the stream holds each fill and commission exactly once', async () => {
      const evs = await streamEvents(st.nc);
      const fills = evs.filter((e) => e.data.type === 'fill').map((e) => e.data.fill.exec_id);
      eq(new Set(fills).size, fills.length, 'fills unique');
      const comms = evs.filter((e) => e.data.type === 'commission').map((e) => e.data.commission.exec_id);
      eq(new Set(comms).size, comms.length, 'commissions unique');
      const s = await simOrders(st);
      eq(fills.length, s.fills, 'every ib-sim execution is in the stream');
    });
  } finally {
    sub.unsubscribe();
    await st.stop().catch((e) => t.step('clean stop', () => { throw e; }));
  }

  const ro = await startStack({ bridgeEnv: { ...ENV, IBB_READ_ONLY: 'true' } });
  try {
    await t.step('read_only: every order request refused, list still answers', async () => {
      const before = await simOrders(ro);
      await expectError(ro, 'ib.rpc.order.place', placeBody('ro-1'), 'read_only', /read_only/);
      await expectError(ro, 'ib.rpc.order.place', placeBody('ro-1'), 'read_only', /read_only/, { msgpack: true });
      await expectError(ro, 'ib.rpc.order.cancel', { order_id: 1 }, 'read_only');
      await expectError(ro, 'ib.rpc.order.modify', { order_id: 1, qty: 1 }, 'read_only');
      const l = await ro.request('ib.rpc.order.list', {});
      V.check('order_list_reply', l.data);
      const after = await simOrders(ro);
      eq(after.placed, before.placed, 'no placeOrder');
    });
  } finally {
    await ro.stop().catch((e) => t.step('clean stop (read_only)', () => { throw e; }));
  }

  const rl = await startStack({ bridgeEnv: { ...ENV, IBB_MAX_ORDERS_PER_MINUTE: '2' } });
  try {
    await t.step('max_orders_per_minute: the third order is refused and names the limit', async () => {
      for (const cid of ['rl-1', 'rl-2']) {
        const r = await rl.request('ib.rpc.order.place', placeBody(cid, { type: 'LMT', limit_price: 1.1 }));
        assert(!r.error, JSON.stringify(r.data));
      }
      const again = await rl.request('ib.rpc.order.place', placeBody('rl-1', { type: 'LMT', limit_price: 1.1 }));
      assert(!again.error && again.data.duplicate, 'a repeat is not a new order for the rate limit');
      await expectError(rl, 'ib.rpc.order.place', placeBody('rl-3', { type: 'LMT', limit_price: 1.1 }), 'risk_limit',
        /max_orders_per_minute/);
      eq((await simOrders(rl)).orders, 2, 'two orders at ib-sim');
    });
  } finally {
    await rl.stop().catch((e) => t.step('clean stop (rate)', () => { throw e; }));
  }
  t.done();
})().catch((e) => { console.error(e); console.log('orders.flow: 0 passed, 1 failed'); process.exit(1); });
