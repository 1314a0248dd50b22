// recovery.test.js — crashes and link drops: ib-bridge SIGKILLed after IB accepted an order
// but before the reply (the retry after restart returns that order, ib-sim holds one), SIGKILLed
// after recording but before sending (the record ends Unacknowledged, reported), and ib-sim
// dropping the link in the middle of a partial fill (every fill in the stream exactly once).
'use strict';
const bus = require('../node/bus_lib');
const { startStack } = require('../node/stack');
const { streamEvents, waitFor, waitOrderEvents, validators, simOrders, numbers } = require('../node/orders_lib');

const t = bus.runner('orders.recovery');
const V = validators();
const { assert, eq } = bus;
const BASE = { IB_CLIENT_ID: '33', IBB_MAX_ORDER_QTY: '100000', IBB_MAX_ORDER_NOTIONAL: '100000000' };

async function waitExit(bridge, ms = 10000) {
  if (bridge.proc.exitCode !== null || bridge.proc.signalCode) return bridge.proc.signalCode || bridge.proc.exitCode;
  return new Promise((resolve, reject) => {
    const tm = setTimeout(() => reject(new Error('ib-bridge did not die')), ms);
    bridge.proc.once('exit', (c, s) => { clearTimeout(tm); resolve(s || c); });
  });
}

async function kvRecord(nc, cid) {
  const js = nc.jetstream();
  const kv = await js.views.kv('ib_orders_idem');
  const e = await kv.get(cid);
  return e ? JSON.parse(bus.td.decode(e.value)) : null;
}

(async () => {
  const st = await startStack({ bridgeEnv: { ...BASE, IBB_TEST_ORDER_KILL: 'after_ack' }, simArgs: ['--tick-rate', '20'] });
  st.allowBridgeExit = true;
  try {
    await t.step('SIGKILL after IB accepted the order, before the reply: the retry returns the same order', async () => {
      const body = { client_order_id: 'crash-lmt-1', symbol: 'AAPL', side: 'BUY', qty: 5, type: 'LMT', limit_price: 1.05 };
      let r;
      try { r = await st.request('ib.rpc.order.place', body, { timeout: 3000 }); } catch (e) { r = { failed: String(e) }; }
      assert(!r.data || r.data.error, 'no success reply went out: ' + JSON.stringify(r.data));
      eq(await waitExit(st.bridge), 'SIGKILL', 'killed itself by the test hook');
      const s1 = await simOrders(st);
      eq(s1.orders, 1, 'IB holds the order');
      eq((await kvRecord(st.nc, 'crash-lmt-1')).state, 'sending', 'the record was left "sending" (it went to the socket)');
      await st.restartBridge(BASE);
      await st.waitReady(20000);
      const again = await st.request('ib.rpc.order.place', body);
      assert(!again.error, JSON.stringify(again.data));
      V.check('order_place_reply', again.data);
      eq(again.data.order_id, 1, 'the order IB holds');
      eq(again.data.duplicate, true, 'a repeat');
      const s2 = await simOrders(st);
      eq([s2.orders, s2.placed - s1.placed], [1, 0], 'still one order, no new placeOrder');
      const rec = await waitFor('record settled', async () => { const x = await kvRecord(st.nc, 'crash-lmt-1'); return x.state === 'acked' && x; });
      eq(rec.order_id, 1, 'record order id');
      const evs = await waitOrderEvents(st.nc, 1, (e) => e.some((x) => x.data.type === 'submitted'));
      eq(evs.filter((e) => e.data.type === 'submitted').length, 1, 'submitted once in the stream across the restart');
      const l = await st.request('ib.rpc.order.list', { client_order_id: 'crash-lmt-1' });
      V.check('order_list_reply', l.data);
      eq(l.data.count, 1, 'listed after the restart (adopted by orderRef)');
      const c = await st.request('ib.rpc.order.cancel', { order_id: 1 });
      assert(!c.error, 'the adopted order can be cancelled: ' + JSON.stringify(c.data));
    });

    await t.step('SIGKILL after the record, before sending: Unacknowledged after restart, reported once', async () => {
      await st.bridge.stop();
      await st.restartBridge({ ...BASE, IBB_TEST_ORDER_KILL: 'before_send' });
      await st.waitReady(20000);
      const before = await simOrders(st);
      const body = { client_order_id: 'crash-unsent-1', symbol: 'AAPL', side: 'BUY', qty: 5, type: 'LMT', limit_price: 1.05 };
      try { await st.request('ib.rpc.order.place', body, { timeout: 3000 }); } catch (_) { /* no reply */ }
      eq(await waitExit(st.bridge), 'SIGKILL', 'killed itself');
      const rec = await kvRecord(st.nc, 'crash-unsent-1');
      eq(rec.state, 'pending', 'record pending');
      await st.restartBridge(BASE);
      await st.waitReady(20000);
      const settled = await waitFor('record resolved', async () => { const x = await kvRecord(st.nc, 'crash-unsent-1'); return x.state !== 'pending' && x; });
      eq(settled.state, 'unacknowledged', 'definite state');
      const evs = await waitOrderEvents(st.nc, rec.order_id, (e) => e.some((x) => x.data.status === 'Unacknowledged'));
      for (const e of evs) V.check('order_event', e.data);
      eq(evs.filter((e) => e.data.type === 'rejected').length, 1, 'reported once');
      const again = await st.request('ib.rpc.order.place', body);
      V.check('order_place_reply', again.data);
      eq([again.data.status, again.data.duplicate], ['Unacknowledged', true], 'the retry learns it was never placed');
      const after = await simOrders(st);
      eq(after.placed, before.placed, 'never reached ib-sim');
    });

    await t.step('link dropped in the middle of a partial fill: every fill in the stream exactly once', async () => {
      const ref = await st.request('ib.rpc.order.place', { client_order_id: 'pf-ref', symbol: 'SPY', side: 'BUY', qty: 1 });
      assert(!ref.error, JSON.stringify(ref.data));
      const refEvs = await waitOrderEvents(st.nc, ref.data.order_id, (e) => e.some((x) => x.data.type === 'fill'));
      const px = refEvs.find((e) => e.data.type === 'fill').data.fill.price;
      const limit = Math.round((px + 0.02) * 100) / 100;
      const big = await st.request('ib.rpc.order.place', { client_order_id: 'pf-big', symbol: 'SPY', side: 'BUY', qty: 20000, type: 'LMT', limit_price: limit });
      assert(!big.error, JSON.stringify(big.data));
      const id = big.data.order_id;
      await waitOrderEvents(st.nc, id, (e) => e.some((x) => x.data.type === 'fill'), 20000);
      const l = await st.request('ib.rpc.order.list', { client_order_id: 'pf-big' });
      assert(l.data.orders[0].filled < 20000, 'partially filled when the link drops');
      await st.simControl('drop');
      await bus.sleep(1500);
      await st.waitReady(20000);
      await bus.sleep(1500);
      const c = await st.request('ib.rpc.order.cancel', { order_id: id });
      assert(!c.error || c.error.code === 'conflict', JSON.stringify(c.data));
      await bus.sleep(1000);
      const s = await simOrders(st);
      const evs = await waitFor('all fills in the stream', async () => {
        const all = await streamEvents(st.nc);
        return all.filter((e) => e.data.type === 'fill').length >= s.fills ? all : null;
      }, 20000);
      for (const e of evs) V.check('order_event', e.data);
      const fills = evs.filter((e) => e.data.type === 'fill');
      const ids = fills.map((e) => e.data.fill.exec_id);
      eq(new Set(ids).size, ids.length, 'no fill twice');
      eq(fills.length, s.fills, 'every ib-sim execution is in the stream');
      const comms = evs.filter((e) => e.data.type === 'commission').map((e) => e.data.commission.exec_id);
      eq(new Set(comms).size, comms.length, 'no commission twice');
      eq(comms.length, s.fills, 'a commission per execution');
      const bigFills = fills.filter((e) => e.data.order_id === id);
      assert(bigFills.some((e) => e.data.reconciled), 'some fills were learned by the reconciliation after the drop');
      const lastCum = Math.max(...bigFills.map((e) => e.data.fill.cum_qty));
      const total = bigFills.reduce((a, e) => a + e.data.fill.qty, 0);
      eq(total, lastCum, 'fills add up to the cumulative quantity');
      const final = numbers((await st.request('ib.rpc.order.list', { client_order_id: 'pf-big', status: 'all' })).data);
      eq(final.orders[0].filled, lastCum, 'ledger filled = executions');
    });
  } finally {
    await st.stop().catch((e) => t.step('clean stop', () => { throw e; }));
  }
  t.done();
})().catch((e) => { console.error(e); console.log('orders.recovery: 0 passed, 1 failed'); process.exit(1); });
