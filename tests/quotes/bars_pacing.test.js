// bars_pacing.test.js — IB's 60 new real-time-bar requests per 10 minutes are paced, not violated: 61
// instruments leased as bars get 60 IB requests at once and the 61st waits (state "paced" in the
// subscribe reply, market_data.streams.paced in ib.rpc.status); ib-sim, which answers 162 past 60,
// counts none. Ending the waiting lease drops the request unsent.
'use strict';
const { startStack } = require('../node/stack');
const bus = require('../node/bus_lib');
const { schemas, simCount, until } = require('../node/quotes_lib');

const t = bus.runner('quotes.bars_pacing');
const check = schemas();

(async () => {
  const st = await startStack({ simArgs: ['--extra-stocks', '61'], bridgeEnv: { IBB_REQUEST_TIMEOUT_MS: '20000' } });
  const keys = Array.from({ length: 61 }, (_, i) => `SIM${String(i + 1).padStart(4, '0')}`);
  try {
    await t.step('61 bar leases: 60 requests reach IB, the 61st is paced; ib-sim counts no 162', async () => {
      const r = await st.request('ib.rpc.subscribe', { symbols: keys.slice(0, 60), kind: 'bars', ttl_s: 60 }, { timeout: 20000 });
      bus.assert(!r.error, JSON.stringify(r.data));
      await until(async () => (await simCount(st, 'reqRealTimeBars')) === 60, 10000, '60 reqRealTimeBars');
      const last = await st.request('ib.rpc.subscribe', { symbols: [keys[60]], kind: 'bars', ttl_s: 60 }, { msgpack: true });
      bus.assert(!last.error, JSON.stringify(last.data));
      check('subscribe_reply.json', last.data, 'subscribe reply');
      bus.eq(last.data.instruments[0].state, 'paced', 'the 61st request in 10 minutes waits');
      const s = await st.request('ib.rpc.status', {});
      bus.eq([s.data.market_data.streams.bars_used, s.data.market_data.streams.paced], [61, 1], JSON.stringify(s.data.market_data.streams));
      await bus.sleep(1500);
      bus.eq(await simCount(st, 'reqRealTimeBars'), 60, 'still 60 at IB');
      bus.assert(!(await st.request('ib.rpc.unsubscribe', { lease_id: last.data.lease_id })).error, 'unsubscribe');
      const e = (await st.simStats()).errors || {};
      bus.eq([e['162'] || 0, e['101'] || 0], [0, 0], JSON.stringify(e));
      const s2 = await st.request('ib.rpc.status', {});
      bus.eq(s2.data.market_data.streams.paced, 0, 'the waiting request went with its lease');
    });
  } finally {
    try { await st.stop(); } catch (e) { await t.step('clean stop', () => { throw e; }); }
  }
  t.done();
})().catch((e) => { console.error(e); process.exit(1); });
