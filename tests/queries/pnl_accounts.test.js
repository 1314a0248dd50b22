// pnl_accounts.test.js — P&L and every account of a two-account login (issue 16), on the real system
// (nats-server + ib-sim --accounts DU111,DU222 + ib-bridge over TCP): ib.pnl.<account> for both accounts
// from the start; after a fill its P&L changes and equals ib-sim's own (control port `pnl`) to the cent;
// per-position P&L leased by 20 consumers costs ib-sim one reqPnLSingle, carries position and value and
// leaves IB's unset realized P&L out; orders without `account` are refused naming the accounts, with an
// unknown one too, and with `account` land in that account at ib-sim, each account keeping its own
// positions, values and P&L.
'use strict';
const bus = require('../node/bus_lib');
const { startStack } = require('../node/stack');
const Q = require('../node/queries_lib');
const { assert, eq } = bus;

const cents = (x) => Math.round(x * 100);

(async () => {
  const T = bus.runner('queries.pnl_accounts');
  const checkAll = require('../node/quotes_lib').schemas(); // every schema loaded: the $refs resolve
  const S = { check: (name, data, what) => checkAll(name, data, what) };
  const st = await startStack({ simArgs: ['--accounts', 'DU111,DU222'], ready: false,
    bridgeEnv: { IBB_RISK_ACCOUNT_LIMITS: 'DU222:max_order_qty=10' } });
  const events = [];
  st.nc.subscribe('ib.pnl.>', { callback: (err, m) => { if (!err) events.push({ subject: m.subject, d: bus.plain(bus.mpDecode(Buffer.from(m.data))) }); } });
  await st.waitReady();
  const show = (v) => JSON.stringify(v, (k, x) => (typeof x === 'bigint' ? Number(x) : x));
  const simPnl = async () => JSON.parse(await st.simControl('pnl'));
  const lastOf = (subject) => events.filter((e) => e.subject === subject).pop();
  const until = async (what, fn, ms = 5000) => {
    const end = Date.now() + ms;
    let v;
    while (Date.now() < end) { if ((v = await fn())) return v; await bus.sleep(50); }
    throw new Error(`timed out waiting for ${what}`);
  };
  const place = (cid, extra = {}) => st.request('ib.rpc.order.place',
    { client_order_id: cid, symbol: 'AAPL', side: 'BUY', qty: 100, type: 'MKT', ...extra });
  try {
    await T.step('ib.pnl.<account> for every managed account from the start; ib.rpc.pnl from the cache', async () => {
      await until('P&L events of both accounts', async () => lastOf('ib.pnl.DU111') && lastOf('ib.pnl.DU222'));
      const e = lastOf('ib.pnl.DU222').d;
      eq([e.account, e.daily_pnl, e.unrealized_pnl, e.realized_pnl], ['DU222', 0, 0, 0], show(e));
      for (const ev of events) S.check('pnl_event.json', ev.d, ev.subject);
      const [r] = await Q.both(st, S, 'ib.rpc.pnl', {}, 'pnl_reply.json');
      eq(r.data.accounts.map((a) => a.account).sort(), ['DU111', 'DU222'], show(r.data));
      assert(r.data.live === true, 'live');
      const one = await st.request('ib.rpc.pnl', { account: 'DU222' }, { msgpack: true });
      eq(one.data.accounts.length, 1);
      const [bad] = await Q.both(st, S, 'ib.rpc.pnl', { account: 'DU999' }, null, { error: 'bad_request' });
      assert(/DU111,DU222/.test(bad.error.message), bad.error.message);
    });

    await T.step('an order without account is refused naming the accounts; an unknown account too', async () => {
      const r = await place('pnl-noacct');
      eq(r.error && r.error.code, 'bad_request', show(r.data));
      assert(/account/.test(r.error.message) && /DU111,DU222/.test(r.error.message), r.error.message);
      const u = await place('pnl-unknown', { account: 'DU999' });
      eq(u.error && u.error.code, 'bad_request', show(u.data));
      assert(/DU999/.test(u.error.message) && /DU111,DU222/.test(u.error.message), u.error.message);
      const sp = await simPnl();
      eq([Object.keys(sp.DU111.positions).length, Object.keys(sp.DU222.positions).length], [0, 0], 'nothing reached ib-sim');
    });

    await T.step('a fill in DU111 lands there; its P&L events change and agree with ib-sim to the cent', async () => {
      const before = lastOf('ib.pnl.DU111').d;
      const r = await place('pnl-du111', { account: 'DU111' });
      assert(!r.error, show(r.data));
      const sp = await until('the position at ib-sim', async () => { const p = await simPnl(); return p.DU111.positions['265598'] && p.DU111.positions['265598'].position === 100 && p; });
      eq(Object.keys(sp.DU222.positions).length, 0, 'not in DU222');
      await until('the P&L event after the fill', async () => {
        const e = lastOf('ib.pnl.DU111').d;
        return e.realized_pnl !== before.realized_pnl || e.unrealized_pnl !== before.unrealized_pnl;
      });
      // prices stand still without subscribers: the cache must equal ib-sim's P&L exactly (in cents)
      await until('ib.rpc.pnl == ib-sim pnl', async () => {
        const mine = (await st.request('ib.rpc.pnl', { account: 'DU111' })).data.accounts[0];
        const sim = (await simPnl()).DU111;
        return ['daily', 'unrealized', 'realized'].every((k) => cents(mine[`${k}_pnl`]) === cents(sim[k]));
      });
      assert(lastOf('ib.pnl.DU111').d.realized_pnl < 0, 'the commission is realized');
    });

    await T.step('20 consumers of per-position P&L -> one reqPnLSingle; unset realized is absent', async () => {
      const leases = await Promise.all(Array.from({ length: 20 }, () =>
        st.request('ib.rpc.subscribe', { kind: 'pnl', account: 'DU111', symbols: ['AAPL'], ttl_s: 30 })));
      for (const l of leases) assert(!l.error && l.data.lease_id, show(l.data));
      S.check('subscribe_reply.json', leases[0].data);
      eq(leases[0].data.instruments[0].subject, 'ib.pnl.DU111.AAPL');
      const e = await until('a position P&L event', async () => lastOf('ib.pnl.DU111.AAPL'));
      const sim = (await simPnl()).DU111.positions['265598'];
      eq([e.d.account, e.d.key, e.d.con_id, e.d.position], ['DU111', 'AAPL', 265598, 100], show(e.d));
      eq(sim.realized, null, 'ib-sim: no closing trade yet');
      assert(!('realized_pnl' in e.d), `unset realized P&L is left out: ${show(e.d)}`);
      eq([cents(e.d.value), cents(e.d.unrealized_pnl), cents(e.d.daily_pnl)], [cents(sim.value), cents(sim.unrealized), cents(sim.daily)]);
      const stats = await st.simStats();
      eq(stats.requests.reqPnLSingle, 1, show(stats.requests));
      const [q] = await Q.both(st, S, 'ib.rpc.pnl', { account: 'DU111' }, 'pnl_reply.json');
      eq(q.data.accounts[0].positions.map((p) => p.key), ['AAPL']);
      for (const ev of events) S.check('pnl_event.json', ev.d, ev.subject);
      const bad = await st.request('ib.rpc.subscribe', { kind: 'pnl', symbols: ['AAPL'] });
      eq(bad.error && bad.error.code, 'bad_request', 'account is required with two accounts');
      const renewed = await st.request('ib.rpc.subscribe', { lease_id: leases[0].data.lease_id, ttl_s: 40 });
      eq([renewed.data.lease_id, renewed.data.kind, renewed.data.account, renewed.data.ttl_s, renewed.data.instruments.length],
        [leases[0].data.lease_id, 'pnl', 'DU111', 40, 1], `a renewal naming only lease_id: ${show(renewed.data)}`);
      S.check('subscribe_reply.json', renewed.data);
      eq((await st.simStats()).requests.reqPnLSingle, 1, 'the renewal costs no IB request');
      for (const l of leases) eq((await st.request('ib.rpc.unsubscribe', { lease_id: l.data.lease_id })).data.ended, true);
      await until('cancelPnLSingle at ib-sim', async () => ((await st.simStats()).requests.cancelPnLSingle || 0) === 1);
    });

    await T.step('two accounts keep their own positions, values and P&L', async () => {
      const r = await place('pnl-du222', { account: 'DU222', qty: 7 });
      assert(!r.error, show(r.data));
      await until('DU222 position at ib-sim', async () => { const p = await simPnl(); return p.DU222.positions['265598'] && p.DU222.positions['265598'].position === 7; });
      eq((await simPnl()).DU111.positions['265598'].position, 100, 'DU111 unchanged');
      const pos = await until('positions of both', async () => {
        const a = (await st.request('ib.rpc.positions', { account: 'DU111' })).data;
        const b = (await st.request('ib.rpc.positions', { account: 'DU222' })).data;
        return a.count === 1 && b.count === 1 && b.positions[0].position === 7 && [a, b];
      });
      eq(pos[0].positions[0].position, 100);
      const acct = (await st.request('ib.rpc.account', {})).data.accounts;
      const gpv = (id) => acct.find((a) => a.account === id).values.GrossPositionValue.value;
      const du222 = acct.find((a) => a.account === 'DU222');
      assert(du222.values.RealizedPnL && du222.values.RealizedPnL.source === 'updates',
        `DU222's values come from reqAccountUpdatesMulti too: ${show(du222.values.RealizedPnL)}`);
      eq((await st.simStats()).requests.reqAccountUpdatesMulti, 1, 'one reqAccountUpdatesMulti: DU222 (DU111 has reqAccountUpdates)');
      await until('DU222 P&L after its fill', async () => lastOf('ib.pnl.DU222').d.realized_pnl < 0);
      const sim = await simPnl();
      assert(cents(sim.DU111.realized) !== cents(sim.DU222.realized) || gpv('DU111') !== gpv('DU222'), 'separate accounts');
      await until('ib.rpc.pnl == ib-sim for DU222', async () => {
        const mine = (await st.request('ib.rpc.pnl', { account: 'DU222' })).data.accounts[0];
        const s = (await simPnl()).DU222;
        return ['daily', 'unrealized', 'realized'].every((k) => cents(mine[`${k}_pnl`]) === cents(s[k]));
      });
    });

    await T.step('risk limits per account: DU222 max_order_qty=10 refuses 20 there, not in DU111', async () => {
      const placed = (await st.simStats()).orders;
      const r = await place('pnl-risk-du222', { account: 'DU222', qty: 20 });
      eq(r.error && r.error.code, 'risk_limit', show(r.data));
      assert(/max_order_qty/.test(r.error.message) && /DU222/.test(r.error.message), r.error.message);
      eq((await st.simStats()).orders, placed, 'nothing reached ib-sim');
      const ok = await place('pnl-risk-du111', { account: 'DU111', qty: 20, type: 'LMT', limit_price: 1 });
      assert(!ok.error, show(ok.data));
      const c = await st.request('ib.rpc.order.cancel', { client_order_id: 'pnl-risk-du111' });
      assert(!c.error, show(c.data));
    });

    await T.step('after IB drops the link: every reqPnL again, P&L events resume', async () => {
      const n = (await st.simStats()).requests;
      eq([n.reqPnL, n.reqAccountUpdatesMulti], [2, 1], 'one reqPnL per account');
      await st.simControl('drop');
      await until('reqPnL and reqAccountUpdatesMulti again', async () => {
        const r = (await st.simStats()).requests;
        return r.reqPnL === 4 && r.reqAccountUpdatesMulti === 2;
      }, 15000);
      await st.waitReady();
      const mark = events.length;
      await st.request('ib.rpc.order.place', { client_order_id: 'pnl-after-drop', symbol: 'AAPL', side: 'SELL', qty: 50, type: 'MKT', account: 'DU111' });
      await until('a P&L event after the reconnect', async () => events.slice(mark).some((e) => e.subject === 'ib.pnl.DU111'), 8000);
      await until('realized P&L from the closing sale equals ib-sim', async () => {
        const mine = (await st.request('ib.rpc.pnl', { account: 'DU111' })).data.accounts[0];
        const sim = (await simPnl()).DU111;
        return sim.positions['265598'].position === 50 && cents(mine.realized_pnl) === cents(sim.realized);
      });
    });
  } finally {
    if (process.env.IBB_TEST_DEBUG) console.log(st.bridge.log().split('\n').filter((l) => /pnl/.test(l)).join('\n'), show(await st.simStats()));
    await T.step('ib-bridge stops cleanly', () => st.stop());
  }
  T.done();
})().catch((e) => { console.error(e); process.exit(1); });
