// ticks_rate.test.js — tick-by-tick is never conflated: at a high ib-sim rate (five instruments, BidAsk on
// every quote change, ticks written every millisecond) every event ib-sim sent reaches a subscriber on
// ib.ticks.<key>, with seq per subject and no gap. Counted against ib-sim's own tick_by_tick_events
// with the market paused (nightly reset 1102), so nothing is still in flight. Not a speed test: the
// highest sustained rate is measured by scripts/bench-depth-ticks.
'use strict';
const { startStack } = require('../node/stack');
const bus = require('../node/bus_lib');
const { schemas, collect, checkSeq, until } = require('../node/quotes_lib');

const t = bus.runner('quotes.ticks_rate');
const check = schemas();
const SYMS = ['AAPL', 'MSFT', 'IBM', 'NVDA', 'TSLA'];

(async () => {
  const st = await startStack({
    simArgs: ['--tick-rate', '2000', '--tick-interval-ms', '1', '--max-tick-by-tick', '5'],
    bridgeEnv: { IBB_TICK_BY_TICK_BUDGET: '5' },
  });
  const subs = SYMS.map((s) => collect(st.nc, `ib.ticks.${s}`));
  try {
    await t.step('five BidAsk streams at ~10,000 events/s: every event arrives, seq without gaps', async () => {
      const r = await st.request('ib.rpc.subscribe', { symbols: SYMS, kind: 'ticks', type: 'bid_ask', ttl_s: 60 });
      bus.assert(!r.error, JSON.stringify(r.data));
      check('subscribe_reply.json', r.data, 'subscribe reply');
      await bus.sleep(3000);
      bus.assert((await st.simControl('reset 1102 3')).startsWith('ok'), 'pause the market');
      await bus.sleep(500);
      const sent = (await st.simStats()).tick_by_tick_events;
      const got = () => subs.reduce((n, c) => n + c.events.length, 0);
      await until(() => got() >= sent, 3000, `all ${sent} events (have ${got()})`);
      bus.eq(got(), sent, 'events received = events ib-sim sent');
      bus.assert(sent > 10000, `a high rate: ${sent} events in ~3 s`);
      for (const c of subs) {
        bus.eq(Number(c.events[0].v.seq), 1, 'seq starts at 1');
        checkSeq(c.events);
        check('ticks_event.json', c.events[c.events.length - 1].v, 'tick event');
      }
      const e = (await st.simStats()).errors || {};
      bus.eq([e['10190'] || 0, e['322'] || 0], [0, 0], JSON.stringify(e));
    });
  } finally {
    for (const c of subs) c.stop();
    try { await st.stop(); } catch (e) { await t.step('clean stop', () => { throw e; }); }
  }
  t.done();
})().catch((e) => { console.error(e); process.exit(1); });
