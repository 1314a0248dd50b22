// preview_completed.test.js — issue 16: ib.rpc.order.preview and ib.rpc.order.completed on the real stack
// (nats-server with JetStream + ib-sim + ib-bridge over TCP).
//   1 a preview answers IB's margins (never the unset sentinel), and creates no order at ib-sim (its
//     placeOrder count grows by one what-if, its order count does not) and no idempotency record;
//   2 a preview body is validated as a placement: the same field errors, nothing reaches ib-sim;
//   3 after a buy, a preview of the sell shows the initial margin going down (ib-sim's margin model);
//   4 completed orders include an order filled before ib-bridge restarted, with its client_order_id,
//     final status and fill; `since` in the future lists nothing; a bad `since` is a bad_request.
'use strict';
const bus = require('../node/bus_lib');
const { startStack } = require('../node/stack');
const { waitFor } = require('../node/orders_lib');
const { schemas } = require('../node/queries_lib');

const t = bus.runner('orders.preview_completed');
const { assert, eq } = bus;
const S = schemas();
const ENV = { IB_CLIENT_ID: '43', IBB_MAX_ORDER_QTY: '100000', IBB_MAX_ORDER_NOTIONAL: '100000000' };

async function kvRecord(nc, cid) {
  const kv = await nc.jetstream().views.kv('ib_orders_idem');
  const e = await kv.get(cid);
  return e && e.operation === 'PUT' ? e : null;
}

(async () => {
  const st = await startStack({ bridgeEnv: ENV });
  try {
    await t.step('1 a preview answers IB\'s margins and creates no order and no record', async () => {
      const before = await st.simStats();
      const body = { client_order_id: 'pv-1', symbol: 'AAPL', side: 'BUY', qty: 100, type: 'LMT', limit_price: 180 };
      for (const msgpack of [false, true]) {
        const r = await st.request('ib.rpc.order.preview', body, { msgpack });
        assert(!r.error, JSON.stringify(r.data));
        S.check('order_preview_reply.json', r.data, `preview reply (${msgpack ? 'msgpack' : 'json'})`);
        assert(r.data.init_margin_change > 0, `a buy uses margin: ${JSON.stringify(r.data)}`);
        eq(r.data.init_margin_change, Math.round(100 * 180 * 0.30 * 100) / 100, 'ib-sim\'s 30 % of 18000');
        assert(r.data.min_commission > 0 && r.data.max_commission >= r.data.min_commission, 'commission range');
        for (const v of Object.values(r.data)) assert(!(typeof v === 'number' && v > 1e300), 'no unset sentinel');
        eq(r.data.key, 'AAPL', 'key');
      }
      const after = await st.simStats();
      eq(after.orders, before.orders, 'no order at ib-sim');
      eq(after.previews - (before.previews || 0), 2, 'two what-ifs answered by ib-sim');
      eq((after.requests.placeOrder || 0) - ((before.requests && before.requests.placeOrder) || 0), 2, 'two placeOrder (whatIf)');
      eq(await kvRecord(st.nc, 'pv-1'), null, 'no idempotency record');
      const l = await st.request('ib.rpc.order.list', { client_order_id: 'pv-1' });
      assert(!l.error && l.data.orders.length === 0, `the ledger does not know pv-1: ${JSON.stringify(l.data)}`);
    });

    await t.step('2 a preview body is validated exactly as a placement', async () => {
      const before = await st.simStats();
      const cases = [
        [{ client_order_id: 'pv-2', symbol: 'AAPL', side: 'BUY', qty: -1 }, 'qty'],
        [{ client_order_id: 'pv-2', symbol: 'AAPL', side: 'HOLD', qty: 1 }, 'side'],
        [{ client_order_id: 'pv-2', symbol: 'AAPL', side: 'BUY', qty: 1, type: 'LMT' }, 'limit_price'],
        [{ symbol: 'AAPL', side: 'BUY', qty: 1 }, 'client_order_id'],
      ];
      for (const [body, field] of cases) {
        const p = await st.request('ib.rpc.order.preview', body);
        const q = await st.request('ib.rpc.order.place', body);
        assert(p.error && p.error.code === 'bad_request', `preview ${JSON.stringify(body)}: ${JSON.stringify(p.data)}`);
        assert(p.error.message.includes(field), `the error names '${field}': ${p.error.message}`);
        eq(p.error, q.error, 'the same error as the placement');
        S.check('error.json', p.data);
      }
      const u = await st.request('ib.rpc.order.preview', { client_order_id: 'pv-3', symbol: 'NOSUCH', side: 'BUY', qty: 1 });
      eq(u.error && u.error.code, 'unknown_symbol', 'unknown symbol');
      const after = await st.simStats();
      eq(after.requests.placeOrder, before.requests.placeOrder, 'nothing reached ib-sim');
    });

    await t.step('3 after a buy, a preview of the sell frees margin', async () => {
      const r = await st.request('ib.rpc.order.place', { client_order_id: 'pc-buy', symbol: 'MSFT', side: 'BUY', qty: 10 });
      assert(!r.error, JSON.stringify(r.data));
      await waitFor('pc-buy filled', async () => {
        const l = await st.request('ib.rpc.order.list', { client_order_id: 'pc-buy', status: 'all' });
        return l.data.orders[0] && l.data.orders[0].status === 'Filled';
      });
      const p = await st.request('ib.rpc.order.preview', { client_order_id: 'pv-sell', symbol: 'MSFT', side: 'SELL', qty: 10 });
      assert(!p.error, JSON.stringify(p.data));
      assert(p.data.init_margin_before > 0, `a position holds margin: ${JSON.stringify(p.data)}`);
      assert(p.data.init_margin_change < 0, `selling it frees margin: ${JSON.stringify(p.data)}`);
    });

    await t.step('4 completed orders include one filled before an ib-bridge restart', async () => {
      await st.bridge.stop();
      await st.restartBridge(ENV);
      await st.waitReady(30000);
      const r = await st.request('ib.rpc.order.completed', {});
      assert(!r.error, JSON.stringify(r.data));
      S.check('order_completed_reply.json', r.data);
      const o = r.data.orders.find((x) => x.client_order_id === 'pc-buy');
      assert(o, `pc-buy listed: ${JSON.stringify(r.data).slice(0, 800)}`);
      eq(o.status, 'Filled', 'final status');
      eq(o.filled, 10, 'filled');
      eq(o.remaining, 0, 'remaining');
      eq([o.key, o.contract.symbol, o.contract.con_id, o.side, o.qty, o.order_type], ['MSFT', 'MSFT', 272093, 'BUY', 10, 'MKT'], 'the order');
      eq(r.data.source, 'ib', 'source');
      assert(o.completed_ns > 0, 'completion time read');
      assert(Math.abs(Number(o.completed_ns) / 1e6 - Date.now()) < 600000, `completed within 10 minutes: ${o.completed_time}`);
      assert(!r.data.orders.some((x) => x.client_order_id && x.client_order_id.startsWith('pv-')), 'no preview is an order');
      const m = await st.request('ib.rpc.order.completed', { api_only: true }, { msgpack: true });
      assert(!m.error && m.data.api_only === true && m.data.orders.some((x) => x.client_order_id === 'pc-buy'), 'api_only');
      const f = await st.request('ib.rpc.order.completed', { since: new Date(Date.now() + 3600e3).toISOString() });
      eq(f.data.count, 0, 'nothing completed in the future');
      const p = await st.request('ib.rpc.order.completed', { since: new Date(Date.now() - 3600e3).toISOString() });
      assert(p.data.orders.some((x) => x.client_order_id === 'pc-buy'), 'since an hour ago includes it');
      const bad = await st.request('ib.rpc.order.completed', { since: 'yesterday' });
      eq(bad.error && bad.error.code, 'bad_request', 'bad since');
      assert(bad.error.message.includes('since'), bad.error.message);
      const many = await Promise.all(Array.from({ length: 5 }, () => st.request('ib.rpc.order.completed', {})));
      for (const x of many) assert(!x.error && x.data.orders.some((y) => y.client_order_id === 'pc-buy'), 'concurrent requests all answered in full');
    });
  } finally {
    await st.stop().catch((e) => { console.log(`FAIL stop: ${e.stack}`); process.exitCode = 1; });
  }
  t.done();
})();
