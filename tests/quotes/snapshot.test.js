// snapshot.test.js — one snapshot path for ib.rpc.quote and order pricing, counted against the
// market-data line budget (nats-server + ib-sim + ib-bridge, real TCP).
//   - an ib.rpc.quote and a market order for the same symbol at the same moment share ONE snapshot
//     reqMktData at ib-sim, and both are answered;
//   - with ib.md_line_budget = 3, 10 quotes for 10 symbols at once: 3 snapshots reach IB, the other 7
//     get line_limit at once; ib-sim never sends 101; nothing hangs; the lines come back afterwards;
//   - a lease grant counts snapshots in flight; a market order finding no line free is refused by the
//     notional check (as without a price) and the reply says why; a snapshot wait that times out is
//     cancelled at IB and frees its line.
// ib-sim answers a snapshot at once, so "in flight" is made observable with its `stall` command: the
// bridge's requests wait in ib-sim's socket until the stall ends (far below the stall detection time,
// ib.stall_timeout_ms = 90 s).
'use strict';
const { startStack } = require('../node/stack');
const bus = require('../node/bus_lib');
const { schemas, simCount, until } = require('../node/quotes_lib');

const t = bus.runner('quotes.snapshot');
const check = schemas();
const { assert, eq } = bus;

async function simErrors(st, code) {
  const s = await st.simStats();
  return (s.errors && s.errors[String(code)]) || 0;
}

(async () => {
  const st = await startStack({
    bridgeEnv: {
      IBB_MD_LINE_BUDGET: '3', IBB_MAX_ORDER_NOTIONAL: '1000000', IBB_REQUEST_TIMEOUT_MS: '7000',
    },
  });
  const req = (s, body, o) => st.request(`ib.rpc.${s}`, body, { timeout: 12000, ...o });
  const stall = async (s) => assert((await st.simControl(`stall ${s}`)).startsWith('ok'), 'stall');
  let n101;
  try {
    n101 = await simErrors(st, 101);

    await t.step('a quote and a market order for one symbol at the same moment: one snapshot at IB, both answered', async () => {
      const mk0 = await simCount(st, 'reqMktData');
      const placed0 = await simCount(st, 'placeOrder');
      await stall(3); // both reach the bridge while the first snapshot is still in flight
      const [q, o] = await Promise.all([
        req('quote', { symbol: 'IBM' }),
        req('order.place', { client_order_id: 'snap-share-1', symbol: 'IBM', side: 'BUY', qty: 1, type: 'MKT' }),
      ]);
      assert(!q.error, 'quote: ' + JSON.stringify(q.data));
      check('quote_reply.json', q.data, 'snapshot quote');
      eq([q.data.source, q.data.key], ['snapshot', 'IBM']);
      assert(typeof q.data.last === 'number' && q.data.last > 0, 'snapshot has a last price');
      assert(!o.error, 'order: ' + JSON.stringify(o.data));
      assert(o.data.order_id > 0, 'order id');
      await bus.sleep(300);
      eq(await simCount(st, 'reqMktData') - mk0, 1, 'reqMktData for a quote + an order of IBM');
      eq(await simCount(st, 'placeOrder') - placed0, 1, 'the order was placed');
    });

    const syms = ['AMZN', 'NVDA', 'GOOGL', 'META', 'TSLA', 'AVGO', 'COST', 'NFLX', 'AMD', 'INTC'];

    await t.step('budget 3: 10 quotes for 10 symbols at once -> 3 snapshots reach IB, 7 line_limit, no 101, no hang', async () => {
      const mk0 = await simCount(st, 'reqMktData');
      await stall(3);
      const t0 = Date.now();
      const pending = Promise.all(syms.map((s, i) => req('quote', { symbol: s }, { msgpack: i % 2 === 1 })));
      await bus.sleep(500); // the 3 snapshots wait in ib-sim's stall: the status says so
      const md = (await req('status', {})).data.market_data;
      eq([md.snapshots_in_flight, md.lines_used], [3, 3], 'ib.rpc.status counts the snapshots in flight as lines');
      const rs = await pending;
      const ok = rs.filter((r) => !r.error);
      const lim = rs.filter((r) => r.error && r.error.code === 'line_limit');
      eq([ok.length, lim.length], [3, 7], 'answers: ' + JSON.stringify(rs.map((r) => r.error ? r.error.code : r.data.source)));
      for (const r of ok) {
        check('quote_reply.json', r.data, 'snapshot');
        eq(r.data.source, 'snapshot');
      }
      for (const r of lim) {
        check('error.json', r.data, 'line_limit error');
        eq(r.status, 429, 'line_limit status');
        assert(/ib\.md_line_budget/.test(r.error.message) && /3 snapshots in flight/.test(r.error.message),
          r.error.message);
      }
      assert(Date.now() - t0 < 9000, 'all answered well before the deadline');
      await bus.sleep(300);
      eq(await simCount(st, 'reqMktData') - mk0, 3, 'reqMktData: at most the budget');
      eq(await simErrors(st, 101), n101, 'ib-sim sent no error 101');
    });

    await t.step('the lines come back: the same 10 quotes one after another are all answered by snapshots', async () => {
      const mk0 = await simCount(st, 'reqMktData');
      for (const s of syms) {
        const r = await req('quote', { symbol: s });
        assert(!r.error, `${s}: ${JSON.stringify(r.data)}`);
        eq([r.data.source, r.data.key], ['snapshot', s]);
      }
      eq(await simCount(st, 'reqMktData') - mk0, syms.length, 'one reqMktData each');
    });

    let lease;
    await t.step('a lease grant counts snapshots in flight: 2 snapshots + 2 new lines > 3 is line_limit, + 1 fits', async () => {
      await stall(3);
      const qs = Promise.all([req('quote', { symbol: 'CSCO' }), req('quote', { symbol: 'PEP' })]);
      await bus.sleep(300); // both snapshots count from the moment the bridge has the request
      const r = await req('subscribe', { symbols: ['AMZN', 'NVDA'], ttl_s: 60 });
      eq([r.error && r.error.code, r.status], ['line_limit', 429], JSON.stringify(r.data));
      check('error.json', r.data);
      assert(/2 snapshots in flight/.test(r.error.message) && /budget is 3/.test(r.error.message), r.error.message);
      const ok = await req('subscribe', { symbols: ['AMZN'], ttl_s: 60 });
      assert(!ok.error, 'within the budget: ' + JSON.stringify(ok.data));
      lease = ok.data.lease_id;
      for (const x of await qs) assert(!x.error && x.data.source === 'snapshot', JSON.stringify(x.data));
      // the streaming instrument answers from the book: no line, no IB request
      const mk0 = await simCount(st, 'reqMktData');
      const s = await req('quote', { symbol: 'AMZN' });
      eq([s.error, s.data.source], [undefined, 'stream'], JSON.stringify(s.data));
      eq(await simCount(st, 'reqMktData') - mk0, 0, 'no snapshot for a streaming instrument');
    });

    await t.step('1 lease + 2 snapshots fill the budget: a market order gets no price and says why; the lines are back after', async () => {
      const mk0 = await simCount(st, 'reqMktData');
      const placed0 = await simCount(st, 'placeOrder');
      await stall(3);
      const qs = Promise.all([req('quote', { symbol: 'CSCO' }), req('quote', { symbol: 'PEP' }),
        req('quote', { symbol: 'INTC' })]);
      await bus.sleep(300);
      // AMD resolved before: the order reaches its pricing during the stall
      const o = await req('order.place', { client_order_id: 'snap-full-1', symbol: 'AMD', side: 'BUY', qty: 1, type: 'MKT' });
      eq(o.error && o.error.code, 'risk_limit', JSON.stringify(o.data));
      check('error.json', o.data);
      assert(/max_order_notional/.test(o.error.message) && /line_limit/.test(o.error.message) &&
        /ib\.md_line_budget/.test(o.error.message), o.error.message);
      const codes = (await qs).map((x) => (x.error ? x.error.code : x.data.source)).sort();
      eq(codes, ['line_limit', 'snapshot', 'snapshot'], 'one lease + two snapshots fill the budget of 3');
      await bus.sleep(300);
      eq(await simCount(st, 'reqMktData') - mk0, 2, 'only the two snapshots reached IB');
      eq(await simCount(st, 'placeOrder') - placed0, 0, 'the unpriced order was not placed');
      const again = await req('order.place', { client_order_id: 'snap-full-2', symbol: 'AMD', side: 'BUY', qty: 1, type: 'MKT' });
      assert(!again.error, 'with a line free the order is priced and placed: ' + JSON.stringify(again.data));
    });

    await t.step('an order whose snapshot times out: refused without a price, the snapshot is cancelled at IB', async () => {
      const cx0 = await simCount(st, 'cancelMktData');
      const placed0 = await simCount(st, 'placeOrder');
      await stall(5); // the order waits 3 s for its price
      const o = await req('order.place', { client_order_id: 'snap-slow-1', symbol: 'PEP', side: 'BUY', qty: 1, type: 'MKT' });
      eq(o.error && o.error.code, 'risk_limit', JSON.stringify(o.data));
      assert(/timeout/.test(o.error.message) && /PEP/.test(o.error.message), o.error.message);
      // the stall ends; ib-sim reads the snapshot request, then its cancel
      await until(async () => (await simCount(st, 'cancelMktData')) - cx0 >= 1, 8000, 'cancelMktData');
      await bus.sleep(300);
      eq(await simCount(st, 'cancelMktData') - cx0, 1, 'the abandoned snapshot was cancelled');
      eq(await simCount(st, 'placeOrder') - placed0, 0, 'not placed');
      // its line is free again: 1 lease + 2 new snapshots fit
      const rs = await Promise.all([req('quote', { symbol: 'PEP' }), req('quote', { symbol: 'KO' })]);
      for (const r of rs) assert(!r.error, JSON.stringify(r.data));
    });

    await t.step('ib-sim never saw more lines than the budget: no error 101', async () => {
      eq(await simErrors(st, 101), n101, 'error 101 count');
      const s = await req('status', {});
      assert(s.data.market_data.lines_used <= 3, JSON.stringify(s.data.market_data));
      if (lease) await req('unsubscribe', { lease_id: lease });
    });
  } finally {
    try { await st.stop(); } catch (e) { await t.step('clean stop', () => { throw e; }); }
  }
  t.done();
})().catch((e) => { console.error(e); process.exit(1); });
