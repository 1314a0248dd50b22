// account.test.js — ib.rpc.positions and ib.rpc.account kept live from IB's streams: both encodings
// validated against the schemas, a fill made at ib-sim (by another API client) shows up without any new IB
// request from the bridge, account filters and bad input, and resubscription after the IB link drops.
'use strict';
const bus = require('../node/bus_lib');
const sim = require('../node/sim_lib');
const { startStack } = require('../node/stack');
const Q = require('../node/queries_lib');
const { assert, eq } = bus;

const AAPL = { symbol: 'AAPL', secType: 'STK', exchange: 'SMART', currency: 'USD' };
const subs = (s) => ['reqPositions', 'reqAccountSummary', 'reqAccountUpdates'].map((k) => (s.requests || {})[k] || 0);

(async () => {
  const T = bus.runner('queries.account');
  const S = Q.schemas();
  const st = await startStack({ simArgs: ['--accounts', 'DU111,DU222'] });
  let client;
  try {
    await T.step('positions and account in both encodings match their schemas (flat start)', async () => {
      const [p] = await Q.both(st, S, 'ib.rpc.positions', {}, 'positions_reply.json');
      eq([p.data.live, p.data.count, p.data.portfolio_account], [true, 0, 'DU111']);
      const [a] = await Q.both(st, S, 'ib.rpc.account', {}, 'account_reply.json');
      eq(a.data.accounts.map((x) => x.account).sort(), ['DU111', 'DU222']);
      for (const acc of a.data.accounts) {
        for (const tag of ['NetLiquidation', 'TotalCashValue', 'BuyingPower', 'AvailableFunds', 'ExcessLiquidity', 'GrossPositionValue'])
          assert(acc.values[tag] && typeof acc.values[tag].value === 'number', `${acc.account} ${tag}`);
        eq(acc.currency, 'USD');
      }
      const du111 = a.data.accounts.find((x) => x.account === 'DU111');
      assert(du111.portfolio && du111.values.RealizedPnL && du111.values.UnrealizedPnL, 'P&L of the updates account');
      assert(Number(a.data.summary_ns) > 0 && Number(a.data.as_of_ns) >= Number(a.data.summary_ns), 'as_of times');
    });

    await T.step('a fill at ib-sim is reflected in positions and account with no new IB request', async () => {
      const before = subs(await st.simStats());
      eq(before, [1, 1, 1], 'one subscription of each stream');
      const acct0 = (await st.request('ib.rpc.account', { account: 'DU111' })).data.accounts[0];
      client = await sim.connectClient(st.sim.port, 4242);
      client.ib.placeOrder(client.nextValidId, AAPL,
        { action: 'BUY', totalQuantity: 100, orderType: 'MKT', tif: 'DAY', transmit: true, account: 'DU111' });
      let p;
      for (let i = 0; i < 100; i++) {
        p = await st.request('ib.rpc.positions', {});
        if (p.data.count > 0 && p.data.positions[0].market_value !== undefined) break;
        await bus.sleep(50);
      }
      S.check('positions_reply.json', p.data);
      eq(p.data.count, 1, JSON.stringify(Q.num(p.data)));
      const row = p.data.positions[0];
      eq([row.account, row.key, row.con_id, row.position, row.contract.primary_exchange], ['DU111', 'AAPL', 265598, 100, 'NASDAQ']);
      assert(row.avg_cost > 0 && row.market_price > 0 && Math.abs(row.market_value - 100 * row.market_price) < 1, JSON.stringify(row));
      assert(typeof row.unrealized_pnl === 'number', 'unrealized P&L');
      let acct;
      for (let i = 0; i < 100; i++) {
        acct = (await st.request('ib.rpc.account', { account: 'DU111' })).data.accounts[0];
        if (acct.values.GrossPositionValue.value > 0) break;
        await bus.sleep(50);
      }
      assert(acct.values.GrossPositionValue.value > 0, 'GrossPositionValue moved');
      eq(acct.values.GrossPositionValue.source, 'updates');
      assert(acct.values.TotalCashValue.value < acct0.values.TotalCashValue.value, 'cash went down by the purchase');
      assert(Number(acct.values.TotalCashValue.updated_ns) > Number(acct0.values.TotalCashValue.updated_ns), 'newer value');
      eq(subs(await st.simStats()), before, 'no new positions/summary/updates request from the bridge');
      const m = await st.request('ib.rpc.positions', { account: 'DU111' }, { msgpack: true });
      S.check('positions_reply.json', m.data);
      eq(m.data.count, 1);
      const other = await st.request('ib.rpc.positions', { account: 'DU222' });
      eq(other.data.count, 0, 'the other account has none');
    });

    await T.step('bad input: unknown account -> not_found, wrong type -> bad_request, malformed body -> bad_request', async () => {
      const nf = await Q.both(st, S, 'ib.rpc.account', { account: 'DU999' }, null, { error: 'not_found' });
      assert(/DU111/.test(nf[0].error.message), 'names the managed accounts');
      await Q.both(st, S, 'ib.rpc.positions', { account: 'DU9' }, null, { error: 'not_found' });
      await Q.both(st, S, 'ib.rpc.positions', { account: 7 }, null, { error: 'bad_request' });
      await Q.both(st, S, 'ib.rpc.account', { account: ['DU111'] }, null, { error: 'bad_request' });
      const r = await st.request('ib.rpc.positions', null, { raw: Buffer.from('{"account":') });
      eq(r.error && r.error.code, 'bad_request');
    });

    await T.step('after the IB link drops the bridge subscribes again and the position is still there', async () => {
      eq((await st.simControl('drop')).slice(0, 2), 'ok');
      let s;
      for (let i = 0; i < 100; i++) {
        s = await st.simStats();
        if (subs(s).every((n) => n >= 2)) break;
        await bus.sleep(100);
      }
      eq(subs(s), [2, 2, 2], 'subscribed again after the reconnect');
      await st.waitReady();
      const p = await st.request('ib.rpc.positions', {});
      S.check('positions_reply.json', p.data);
      eq([p.data.live, p.data.count, p.data.positions[0].position], [true, 1, 100]);
    });
  } finally {
    if (client) client.ib.disconnect();
    await T.step('ib-bridge stops cleanly', () => st.stop());
  }
  T.done();
})().catch((e) => { console.error(e); process.exit(1); });
