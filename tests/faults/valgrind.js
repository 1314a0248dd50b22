// valgrind.js — the integration run scripts/valgrind drives (not a ctest test: it
// needs the binaries wrapped in valgrind, see scripts/valgrind). nats-server + ib-sim + ib-bridge;
// status, contract, subscribe + quotes, snapshot quote, candles, positions/account, an order to its
// fill, a cancel of a resting order, a drop + reconnect, bad input; then a graceful stop of both
// processes, whose exit code is valgrind's verdict (--error-exitcode: any error or leak fails).
'use strict';
const bus = require('../node/bus_lib');
const { startStack } = require('../node/stack');
const { collect } = require('../node/quotes_lib');

const run = bus.runner('faults.valgrind');
const SLOW = 20000; /* everything is ~30x slower under memcheck */

(async () => {
  const st = await startStack({ bridgeEnv: { IBB_REQUEST_TIMEOUT_MS: '15000', IBB_BACKOFF_MIN_MS: '200',
    IBB_BACKOFF_MAX_MS: '1000', IBB_HANDSHAKE_TIMEOUT_MS: '15000', IBB_STALL_TIMEOUT_MS: '60000' } });
  st.waitReadyLong = () => st.waitReady(60000);
  const req = (s, b, o = {}) => st.request(`ib.rpc.${s}`, b, { timeout: SLOW, ...o });
  let ok = true;
  try {
    await run.step('status, contract (JSON and MessagePack)', async () => {
      bus.assert((await req('status', {})).data.connected, 'connected');
      bus.eq((await req('contract', { symbol: 'AAPL' })).data.count, 1, 'contract');
      bus.eq((await req('contract', { symbol: 'MSFT' }, { msgpack: true })).data.count, 1, 'contract msgpack');
    });
    await run.step('subscribe + quotes, snapshot, unsubscribe', async () => {
      const q = collect(st.nc, 'ib.quote.AAPL');
      const r = await req('subscribe', { symbols: ['AAPL', 'MSFT'], ttl_s: 60 });
      bus.assert(!r.error, JSON.stringify(r.data));
      await q.waitFor((e) => e.v.bid !== undefined, SLOW, 'AAPL quote');
      bus.eq((await req('quote', { symbol: 'IBM' })).data.source, 'snapshot', 'snapshot');
      bus.assert(!(await req('unsubscribe', { lease_id: r.data.lease_id })).error, 'unsubscribe');
      q.stop();
    });
    await run.step('candles, positions, account', async () => {
      const c = await req('candles', { symbol: 'AAPL', duration: '1 D', bar_size: '1 hour' });
      bus.assert(!c.error && c.data.bars.length > 0, JSON.stringify(c.data).slice(0, 300));
      bus.assert(!(await req('positions', {})).error, 'positions');
      bus.assert(!(await req('account', {})).error, 'account');
    });
    await run.step('an order to its fill, a resting order cancelled', async () => {
      const ev = collect(st.nc, 'ib.evt.order.>');
      const r = await req('order.place', { client_order_id: 'vg-1', symbol: 'AAPL', side: 'BUY', qty: 3, type: 'MKT' });
      bus.assert(!r.error, JSON.stringify(r.data));
      await ev.waitFor((e) => /fill/.test(String(e.v.event || e.v.type || '')) || e.v.status === 'Filled', SLOW, 'a fill');
      const l = await req('order.place', { client_order_id: 'vg-2', symbol: 'AAPL', side: 'BUY', qty: 1, type: 'LMT',
        limit_price: 1 });
      bus.assert(!l.error, JSON.stringify(l.data));
      const c = await req('order.cancel', { client_order_id: 'vg-2' });
      bus.assert(!c.error, JSON.stringify(c.data));
      bus.assert(!(await req('order.list', {})).error, 'list');
      ev.stop();
    });
    await run.step('bad input, an IB drop and the reconnect', async () => {
      bus.eq((await req('subscribe', null, { raw: Buffer.from([0xc1, 0x00]) })).status, 400, 'garbage body');
      bus.eq((await req('contract', {})).status, 400, 'missing symbol');
      await st.simControl('drop');
      await bus.sleep(500);
      await st.waitReadyLong();
      bus.eq((await req('contract', { symbol: 'IBM' })).data.count, 1, 'works after the reconnect');
    });
  } catch (e) { ok = false; console.log('FAIL ' + e); }
  await run.step('graceful stop: ib-bridge and ib-sim exit 0 under memcheck (no error, no leak)', () => st.stop());
  if (!ok) console.log('faults.valgrind: a step failed');
  run.done();
})().catch((e) => { console.log('FAIL setup: ' + (e.stack || e)); console.log('faults.valgrind: 0 passed, 1 failed'); process.exit(1); });
