// discovery.test.js — issue 16 on the real stack (nats-server + ib-sim + ib-bridge over TCP):
//   1 ib.rpc.contract.search: 20 identical searches -> one reqMatchingSymbols at ib-sim; a burst of
//     different ones reaches ib-sim no faster than one a second (ib-sim records the closest two); answers
//     match ib-sim's universe; a pattern of fewer than 2 characters is refused before IB is asked;
//   2 ib.rpc.scanner.params and ib.rpc.scanner: the result equals ib-sim's own ranking (control `scan`);
//     an unknown scan code or filter is refused before IB is asked;
//   3 ib.rpc.executions since a time equals ib-sim's own executions since then (control `execs`), with
//     commissions; symbol and side filters.
'use strict';
const bus = require('../node/bus_lib');
const { startStack } = require('../node/stack');
const { schemas } = require('../node/queries_lib');
const { waitFor } = require('../node/orders_lib');

const t = bus.runner('queries.discovery');
const { assert, eq } = bus;
const S = schemas();
const ENV = { IB_CLIENT_ID: '44', IBB_MAX_ORDER_QTY: '100000', IBB_MAX_ORDER_NOTIONAL: '100000000' };
const reqs = (s, name) => (s.requests && s.requests[name]) || 0;

(async () => {
  const st = await startStack({ bridgeEnv: ENV });
  try {
    await t.step('1a 20 identical searches -> one reqMatchingSymbols', async () => {
      const before = reqs(await st.simStats(), 'reqMatchingSymbols');
      const rs = await Promise.all(Array.from({ length: 20 }, (_, i) =>
        st.request('ib.rpc.contract.search', { pattern: i % 2 ? 'app' : 'APP' }, { msgpack: i % 3 === 0 })));
      for (const r of rs) {
        assert(!r.error, JSON.stringify(r.data));
        S.check('contract_search_reply.json', r.data);
      }
      eq(reqs(await st.simStats(), 'reqMatchingSymbols') - before, 1, 'one request at ib-sim');
      const a = rs[0].data.matches.find((x) => x.contract.symbol === 'AAPL');
      assert(a, `APP finds AAPL by its name: ${JSON.stringify(rs[0].data)}`);
      eq([a.key, a.contract.con_id, a.contract.sec_type, a.contract.primary_exchange, a.contract.currency, a.description],
        ['AAPL', 265598, 'STK', 'NASDAQ', 'USD', 'APPLE INC'], 'AAPL');
      eq(a.derivative_sec_types, ['OPT'], 'derivative types');
      const again = await st.request('ib.rpc.contract.search', { pattern: 'App' });
      eq(again.data.cached, true, 'cached');
      eq(again.data.matches, rs[0].data.matches, 'the cached answer');
      eq(reqs(await st.simStats(), 'reqMatchingSymbols') - before, 1, 'still one request');
    });

    await t.step('1b a burst of different searches: no more than one a second reaches ib-sim', async () => {
      const before = reqs(await st.simStats(), 'reqMatchingSymbols');
      const pats = ['MS', 'GOO', 'NV', 'JP'];
      const rs = await Promise.all(pats.map((p) => st.request('ib.rpc.contract.search', { pattern: p }, { timeout: 15000 })));
      for (const r of rs) assert(!r.error, JSON.stringify(r.data));
      assert(rs[0].data.matches.some((x) => x.key === 'MSFT'), 'MS finds MSFT');
      eq(rs[0].data.matches[0].key, 'MS', 'the exact symbol first');
      assert(rs[1].data.matches.some((x) => x.key === 'GOOGL') && rs[1].data.matches.some((x) => x.key === 'GOOG'), 'GOO');
      const s = await st.simStats();
      eq(reqs(s, 'reqMatchingSymbols') - before, pats.length, 'one request per pattern');
      assert(s.matching_symbols_min_gap_ms >= 1000, `closest two reqMatchingSymbols at ib-sim: ${s.matching_symbols_min_gap_ms} ms`);
    });

    await t.step('1c bad patterns are refused before IB is asked', async () => {
      const before = reqs(await st.simStats(), 'reqMatchingSymbols');
      for (const body of [{ pattern: '' }, { pattern: 'A' }, { pattern: ' B ' }, {}, { pattern: 7 }]) {
        const r = await st.request('ib.rpc.contract.search', body);
        eq(r.error && r.error.code, 'bad_request', JSON.stringify(body));
        assert(r.error.message.includes('pattern'), r.error.message);
      }
      eq(reqs(await st.simStats(), 'reqMatchingSymbols'), before, 'IB never asked');
    });

    await t.step('2 the scanner equals ib-sim\'s own ranking; unknown codes and filters are refused first', async () => {
      const p = await st.request('ib.rpc.scanner.params', {});
      assert(!p.error, JSON.stringify(p.data));
      S.check('scanner_params_reply.json', p.data);
      assert(p.data.xml.includes('<scanCode>TOP_PERC_GAIN</scanCode>'), 'TOP_PERC_GAIN listed');
      const p2 = await st.request('ib.rpc.scanner.params', {}, { msgpack: true });
      eq(p2.data.cached, true, 'cached for the day');
      eq(reqs(await st.simStats(), 'reqScannerParameters'), 1, 'one reqScannerParameters');
      for (const code of ['TOP_PERC_GAIN', 'MOST_ACTIVE']) {
        const r = await st.request('ib.rpc.scanner', { scan_code: code, instrument: 'STK', location: 'STK.US.MAJOR', rows: 10 });
        assert(!r.error, JSON.stringify(r.data));
        S.check('scanner_reply.json', r.data);
        const own = (await st.simControl(`scan ${code}`)).replace(/^ok ?/, '').split(',').slice(0, 10);
        eq(r.data.rows.map((x) => x.contract.symbol), own, `${code} equals ib-sim's ranking`);
        eq(r.data.rows[0].key, own[0], 'a stock\'s key');
        eq(r.data.rows.map((x) => x.rank), own.map((_, i) => i), 'ranks');
      }
      const f = await st.request('ib.rpc.scanner', { scan_code: 'MOST_ACTIVE', instrument: 'STK', location: 'STK.US.MAJOR', filters: { priceAbove: 300 } });
      assert(!f.error && f.data.count > 0, JSON.stringify(f.data));
      assert(!f.data.rows.some((x) => ['INTC', 'T', 'BAC', 'PFE'].includes(x.contract.symbol)), 'the price filter reached ib-sim');
      const before = reqs(await st.simStats(), 'reqScannerSubscription');
      for (const [body, field] of [
        [{ scan_code: 'TOP_PERC_GAINZ', instrument: 'STK', location: 'STK.US.MAJOR' }, 'scan_code'],
        [{ scan_code: 'TOP_PERC_GAIN', instrument: 'STK', location: 'STK.MARS' }, 'location'],
        [{ scan_code: 'TOP_PERC_GAIN', instrument: 'STK', location: 'STK.US.MAJOR', filters: { priceAboveX: 1 } }, 'priceAboveX'],
        [{ scan_code: 'TOP_PERC_GAIN', instrument: 'STK', location: 'STK.US.MAJOR', rows: 500 }, 'rows'],
        [{ instrument: 'STK', location: 'STK.US.MAJOR' }, 'scan_code'],
      ]) {
        const r = await st.request('ib.rpc.scanner', body);
        eq(r.error && r.error.code, 'bad_request', JSON.stringify(body));
        assert(r.error.message.includes(field), r.error.message);
      }
      const after = await st.simStats();
      eq(reqs(after, 'reqScannerSubscription'), before, 'IB never asked');
      await waitFor('every subscription cancelled after its result set', async () =>
        reqs(await st.simStats(), 'cancelScannerSubscription') === before, 5000);
    });

    await t.step('2b past 10 scans open at IB the answer is rate_limited', async () => {
      await st.simControl('stall 2');
      const body = { scan_code: 'MOST_ACTIVE', instrument: 'STK', location: 'STK.US.MAJOR', rows: 3 };
      const rs = await Promise.all(Array.from({ length: 12 }, () => st.request('ib.rpc.scanner', body, { timeout: 15000 })));
      const limited = rs.filter((r) => r.error && r.error.code === 'rate_limited');
      eq(limited.length, 2, `two of twelve refused: ${JSON.stringify(rs.map((r) => r.error && r.error.code))}`);
      assert(limited[0].error.message.includes('10'), limited[0].error.message);
      eq(rs.filter((r) => !r.error).length, 10, 'ten answered once ib-sim reads again');
      const s2 = await st.simStats();
      eq((s2.errors && s2.errors['162']) || 0, 0, 'ib-sim never saw an eleventh scan');
    });

    await t.step('3 executions since a time equal ib-sim\'s, with commissions', async () => {
      const fill = async (cid, symbol, side) => {
        const r = await st.request('ib.rpc.order.place', { client_order_id: cid, symbol, side, qty: 5 });
        assert(!r.error, JSON.stringify(r.data));
        await waitFor(`${cid} filled`, async () => {
          const l = await st.request('ib.rpc.order.list', { client_order_id: cid, status: 'all' });
          return l.data.orders[0] && l.data.orders[0].status === 'Filled';
        });
      };
      await fill('ex-1', 'AAPL', 'BUY');
      await bus.sleep(1100);
      const since = Math.floor(Date.now() / 1000);
      await bus.sleep(50);
      await fill('ex-2', 'MSFT', 'BUY');
      await fill('ex-3', 'MSFT', 'SELL');
      const iso = new Date(since * 1000).toISOString();
      const own = (await st.simControl(`execs ${since}`)).replace(/^ok ?/, '').split(',').filter(Boolean);
      eq(own.length, 2, 'ex-2 and ex-3 at ib-sim');
      const bySource = {};
      for (const source of ['auto', 'ib']) {
        const r = await st.request('ib.rpc.executions', { since: iso, source });
        assert(!r.error, JSON.stringify(r.data));
        S.check('executions_reply.json', r.data);
        eq(r.data.source, source === 'auto' ? 'stream' : 'ib', 'the stream covers the window; ib when asked');
        eq(r.data.executions.map((x) => x.exec_id).sort(), own.slice().sort(), `${source}: the executions ib-sim holds since then`);
        for (const x of r.data.executions) assert(x.commission && x.commission.commission > 0 && x.commission.currency === 'USD', `commission: ${JSON.stringify(x)}`);
        eq(r.data.executions.map((x) => x.client_order_id).sort(), ['ex-2', 'ex-3'], 'client_order_id');
        bySource[source] = r.data.executions.map((x) => [x.exec_id, x.side, x.qty, x.price, x.commission, x.key, x.contract, x.account, x.order_id, x.perm_id]).sort();
      }
      eq(bySource.auto, bySource.ib, 'the stream and IB agree');
      const old = await st.request('ib.rpc.executions', { since: new Date(Date.now() - 3600e3).toISOString() });
      eq(old.data.source, 'ib', 'a window older than the stream goes to IB');
      assert(old.data.executions.some((x) => x.client_order_id === 'ex-1'), 'ex-1 from IB');
      const so = await st.request('ib.rpc.executions', { since: new Date(Date.now() - 3600e3).toISOString(), source: 'stream' });
      eq(so.error && so.error.code, 'unavailable', 'the stream does not cover an older window');
      const all = await st.request('ib.rpc.executions', {}, { msgpack: true });
      assert(all.data.executions.some((x) => x.client_order_id === 'ex-1'), 'without since: ex-1 too');
      for (const source of ['auto', 'ib']) {
        const sells = await st.request('ib.rpc.executions', { symbol: 'MSFT', side: 'sell', since: iso, source });
        eq(sells.data.executions.map((x) => [x.client_order_id, x.side, x.key]), [['ex-3', 'SLD', 'MSFT']], `symbol + side filter (${source})`);
      }
      const bad = await st.request('ib.rpc.executions', { side: 'HOLD' });
      eq(bad.error && bad.error.code, 'bad_request', 'bad side');
      const bad2 = await st.request('ib.rpc.executions', { since: 'noon' });
      assert(bad2.error && bad2.error.message.includes('since'), 'bad since');
    });
  } finally {
    await st.stop().catch((e) => { console.log(`FAIL stop: ${e.stack}`); process.exitCode = 1; });
  }
  t.done();
})();
