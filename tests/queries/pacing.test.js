// pacing.test.js — the historical pacing governor end to end: 50 identical concurrent requests share
// one IB request; a burst of 100 different requests is answered in full (bars, or a `pacing` error with
// retry_after_ms before the deadline), and ib-sim (which enforces IB's rules) sent no error 162.
'use strict';
const bus = require('../node/bus_lib');
const { startStack } = require('../node/stack');
const Q = require('../node/queries_lib');
const { assert, eq } = bus;

const SYMBOLS = ['AAPL', 'MSFT', 'AMZN', 'GOOGL', 'META', 'NVDA', 'TSLA', 'JPM', 'V', 'JNJ', 'WMT', 'PG', 'XOM', 'KO',
  'PEP', 'INTC', 'CSCO', 'ORCL', 'IBM', 'SPY'];
const SHAPES = [['1 D', '1 hour'], ['2 D', '30 mins'], ['1 W', '1 day'], ['1 D', '15 mins'], ['3 D', '1 hour']];

(async () => {
  const T = bus.runner('queries.pacing');
  const S = Q.schemas();
  const st = await startStack({});
  try {
    await T.step('50 identical concurrent requests -> one IB request, 50 identical answers', async () => {
      const body = { symbol: 'AAPL', duration: '1 D', bar_size: '5 mins' };
      const rs = await Promise.all(Array.from({ length: 50 }, (_, i) => st.request('ib.rpc.candles', body, { msgpack: i % 2 === 1 })));
      for (const r of rs) {
        assert(!r.error, JSON.stringify(r.error));
        S.check('candles_reply.json', r.data);
      }
      const first = JSON.stringify(Q.num(rs[0].data.bars));
      assert(rs.every((r) => JSON.stringify(Q.num(r.data.bars)) === first), 'every waiter got the same bars');
      const s = await st.simStats();
      eq(s.historical_requests, 1, 'historical requests at ib-sim');
    });

    await T.step('a burst of 100 different requests: every one answered, no 162 at ib-sim', async () => {
      const reqs = [];
      for (const sym of SYMBOLS) for (const [d, b] of SHAPES) reqs.push({ symbol: sym, duration: d, bar_size: b });
      eq(reqs.length, 100);
      const t0 = Date.now();
      const rs = await Promise.all(reqs.map((body, i) => st.request('ib.rpc.candles', body, { msgpack: i % 2 === 0, timeout: 15000 })));
      const ms = Date.now() - t0;
      let ok = 0;
      let paced = 0;
      for (const r of rs) {
        if (r.error) {
          S.check('error.json', r.data);
          eq(r.error.code, 'pacing', JSON.stringify(r.data));
          eq(r.status, 429);
          assert(Number.isInteger(r.error.retry_after_ms) && r.error.retry_after_ms > 0, 'retry_after_ms');
          paced++;
        } else {
          S.check('candles_reply.json', r.data);
          ok++;
        }
      }
      const s = await st.simStats();
      console.log(`     ${ok} answered with bars, ${paced} pacing errors, ${ms} ms; ib-sim: ${s.historical_requests} historical requests, errors ${JSON.stringify(s.errors)}`);
      eq(ok + paced, 100);
      eq((s.errors || {})['162'] || 0, 0, 'ib-sim sent error 162');
      assert(s.historical_requests <= 60, `at most 60 historical requests in 10 minutes (${s.historical_requests})`);
      eq(s.historical_requests, 1 + ok, 'one IB request per answered request');
      assert(ok >= 50, `at least 50 of the burst are served (${ok})`);
      const st2 = await st.request('ib.rpc.status', {});
      S.check('status_reply.json', st2.data);
      eq(st2.data.pacing.historical_window_used, s.historical_requests, 'status counts the 10-minute window');
    });

    await T.step('after the burst the 10-minute budget is spent: a new request is refused at once with pacing and a retry in minutes', async () => {
      const t0 = Date.now();
      const r = await st.request('ib.rpc.candles', { symbol: 'AAPL', duration: '4 D', bar_size: '1 hour' });
      eq(r.error && r.error.code, 'pacing');
      assert(Date.now() - t0 < 2000, 'refused before the deadline, not timed out');
      assert(r.error.retry_after_ms > 60000, `retry_after_ms ${r.error.retry_after_ms}`);
      const c = await st.request('ib.rpc.candles', { symbol: 'AAPL', duration: '1 D', bar_size: '5 mins' });
      assert(!c.error && c.data.cached, 'a cached identical request is still served');
    });
  } finally {
    await T.step('ib-bridge stops cleanly', () => st.stop());
  }
  T.done();
})().catch((e) => { console.error(e); process.exit(1); });
