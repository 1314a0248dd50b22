// stale.test.js — a request whose bus caller has given up is not sent to IB. ib-bridge runs with a
// short request deadline (IBB_REQUEST_TIMEOUT_MS); 200 distinct ib.rpc.contract lookups arrive at once, far
// more than the pacer (5 + 45 msg/s) can send before the deadline. The callers whose deadline passed got
// `timeout`; their requests still queued must never reach ib-sim: ib-sim counts far fewer than 200
// reqContractDetails, ib.rpc.status counts the difference in ib.stats.dropped_stale, and a request made
// right after the burst is answered within its deadline (the queue did not stay clogged).
'use strict';
const bus = require('../node/bus_lib');
const { startStack } = require('../node/stack');
const Q = require('../node/queries_lib');
const { assert, eq } = bus;

const N = 200;
const DEADLINE_MS = 500;

const contractRequests = (s) => (s.requests || {}).reqContractDetails || 0;

(async () => {
  const T = bus.runner('queries.stale');
  const S = Q.schemas();
  // debug: one `ib.send_dropped_stale msg=<request>` line per drop tells lookups from historical requests
  const st = await startStack({ bridgeEnv: { IBB_REQUEST_TIMEOUT_MS: String(DEADLINE_MS), IBB_LOG_LEVEL: 'debug' } });
  const droppedInLog = (msg) => (st.bridge.log().match(new RegExp(`ib\\.send_dropped_stale msg=${msg} `, 'g')) || []).length;
  try {
    // Let the start-up requests (account, positions, executions, ...) leave the pacer first.
    const quiet = async () => {
      const t0 = Date.now();
      for (;;) {
        const r = await st.request('ib.rpc.status', {});
        if (r.data.pacing.queue === 0) return r.data;
        if (Date.now() - t0 > 15000) throw new Error('pacing queue never drained: ' + JSON.stringify(r.data.pacing));
        await bus.sleep(50);
      }
    };
    const status0 = await quiet();
    S.check('status_reply.json', status0);
    eq(status0.ib.stats.dropped_stale, 0, 'nothing dropped before the burst');
    const sim0 = contractRequests(await st.simStats());

    let burstSent = 0;
    await T.step(`${N} distinct contract lookups at once, deadline ${DEADLINE_MS} ms: the late ones get timeout`, async () => {
      // Distinct keys the adapter cannot have cached: ib-sim knows none of them (error 200), so each is one
      // reqContractDetails; whether IB knows the symbol does not matter to the pacer.
      const keys = Array.from({ length: N }, (_, i) => `ZQ${String(i).padStart(3, '0')}`);
      const t0 = Date.now();
      const rs = await Promise.all(keys.map((symbol, i) => st.request('ib.rpc.contract', { symbol }, { msgpack: i % 2 === 1, timeout: 5000 })));
      const ms = Date.now() - t0;
      const codes = {};
      for (const r of rs) {
        assert(r.error, 'an unknown symbol never succeeds: ' + JSON.stringify(r.data));
        S.check('error.json', r.data);
        codes[r.error.code] = (codes[r.error.code] || 0) + 1;
      }
      console.log(`     answers after ${ms} ms: ${JSON.stringify(codes)}`);
      eq(Object.keys(codes).filter((c) => c !== 'timeout' && c !== 'unknown_symbol'), [], 'only timeout or unknown_symbol');
      assert((codes.timeout || 0) >= N / 2, `most callers time out (${codes.timeout})`);
      eq((codes.timeout || 0) + (codes.unknown_symbol || 0), N);
    });

    await T.step('a request right after the burst is answered within its deadline', async () => {
      // Without dropping, ~170 stale lookups (about 4 s of pacing) would be ahead of it: it would time out.
      const t0 = Date.now();
      const r = await st.request('ib.rpc.contract', { symbol: 'AAPL' });
      const ms = Date.now() - t0;
      console.log(`     AAPL answered in ${ms} ms`);
      assert(!r.error, 'contract after the burst: ' + JSON.stringify(r.data));
      S.check('contract_reply.json', r.data);
      eq(r.data.count, 1);
    });

    await T.step('far fewer than 200 reached ib-sim; ib.rpc.status counts the rest as dropped_stale', async () => {
      const status = await quiet();
      await bus.sleep(300); /* anything still to be written would reach ib-sim now */
      const sim = await st.simStats();
      const status1 = (await st.request('ib.rpc.status', {})).data;
      S.check('status_reply.json', status1);
      const reached = contractRequests(sim) - sim0;
      burstSent = reached - 1; /* the AAPL lookup */
      const dropped = status1.ib.stats.dropped_stale - status0.ib.stats.dropped_stale;
      console.log(`     ib-sim got ${burstSent} of the ${N} lookups; dropped_stale ${dropped}; msgs_out ${status.ib.stats.msgs_out}`);
      assert(burstSent >= 5, `the first burst reached ib-sim (${burstSent})`);
      assert(burstSent < N / 2, `far fewer than ${N} lookups reached ib-sim (${burstSent})`);
      eq(dropped, N - burstSent, 'dropped_stale = lookups that never reached ib-sim');
      eq(status1.pacing.queue, 0);
      const e = sim.errors || {};
      eq(e['100'] || 0, 0, 'ib-sim error 100 (rate)');
    });

    await T.step('a dropped lookup does not poison the next one: the same key asked again is sent and answered', async () => {
      const before = contractRequests(await st.simStats());
      const r = await st.request('ib.rpc.contract', { symbol: 'ZQ199' });
      eq(r.error && r.error.code, 'unknown_symbol', JSON.stringify(r.data));
      eq(contractRequests(await st.simStats()) - before, 1, 'one new reqContractDetails');
    });

    await T.step('shared lookups stay wanted while any caller waits; a candles caller that gives up while its instrument is looked up withdraws, and that lookup is dropped', async () => {
      // Wave A: 150 lookups. Then 5 candle requests whose instruments are not resolved yet: their
      // reqContractDetails queue behind A. Then wave B: the same 150 keys again, joining A's lookups
      // (one IB request each), so those stay wanted until B's deadline, after the candles' deadline.
      // At the candles' deadline the pacer has had time for ~30 messages, so their lookups are still
      // queued: ib.rpc.candles withdraws from the shared resolution (br_resolveCancel), the ids are
      // closed, and the session drops them when they reach the head of the queue.
      const sim1 = await st.simStats();
      const d0 = (await st.request('ib.rpc.status', {})).data.ib.stats.dropped_stale;
      const c0 = droppedInLog('reqContractDetails');
      const keys = Array.from({ length: 150 }, (_, i) => `ZR${String(i).padStart(3, '0')}`);
      const t0 = Date.now();
      const waveA = keys.map((symbol) => st.request('ib.rpc.contract', { symbol }, { timeout: 5000 }));
      for (;;) { /* A is in the pacer */
        const q = (await st.request('ib.rpc.status', {})).data.pacing.queue;
        if (q >= 100) break;
        assert(Date.now() - t0 < DEADLINE_MS / 2, `wave A not queued in time (queue ${q})`);
      }
      const syms = ['MSFT', 'NVDA', 'TSLA', 'META', 'AMZN'];
      const candles = syms.map((symbol) => st.request('ib.rpc.candles', { symbol, duration: '1 D', bar_size: '1 hour' }, { timeout: 5000 }));
      await bus.sleep(DEADLINE_MS / 2 - (Date.now() - t0));
      const waveB = keys.map((symbol) => st.request('ib.rpc.contract', { symbol }, { timeout: 5000 }));
      const [ra, rc, rb] = await Promise.all([Promise.all(waveA), Promise.all(candles), Promise.all(waveB)]);
      for (const r of rc) eq(r.error && r.error.code, 'timeout', JSON.stringify(r.data));
      const code = (r) => r.error && r.error.code;
      const kept = keys.filter((_, i) => code(ra[i]) === 'timeout' && code(rb[i]) === 'unknown_symbol').length;
      // A key whose A lookup was answered before B arrived got a new lookup for B, at the back of the
      // queue: B timed out there.
      const fresh = keys.filter((_, i) => code(ra[i]) === 'unknown_symbol' && code(rb[i]) === 'timeout').length;
      const total = 150 + syms.length + fresh; /* reqContractDetails queued in this step */
      await quiet();
      await bus.sleep(300);
      const sim = await st.simStats();
      const status = (await st.request('ib.rpc.status', {})).data;
      const reached = contractRequests(sim) - contractRequests(sim1);
      const unknown = ((sim.errors || {})['200'] || 0) - ((sim1.errors || {})['200'] || 0);
      const dropped = status.ib.stats.dropped_stale - d0;
      const droppedLookups = droppedInLog('reqContractDetails') - c0;
      console.log(`     ib-sim got ${reached} lookups (${unknown} of the 150 ZR keys), ` +
        `${sim.historical_requests - sim1.historical_requests} historical; dropped_stale ${dropped}; ` +
        `${kept} lookups answered wave B after wave A had timed out, ${fresh} new lookups for wave B`);
      assert(kept >= 1, 'a lookup whose first caller timed out was still sent for the second one');
      eq(reached - unknown, 0, 'instrument lookups of the candles callers that gave up reached ib-sim');
      eq(sim.historical_requests - sim1.historical_requests, 0, 'historical requests at ib-sim');
      assert(reached < total / 2, `far fewer than ${total} reached ib-sim (${reached})`);
      eq(droppedLookups, total - reached, 'every lookup that did not reach ib-sim was dropped');
      eq(dropped, droppedLookups, 'dropped_stale counts every drop');
      // The abandoned resolutions left nothing behind: the same candles resolve afresh and are answered.
      const r = await st.request('ib.rpc.candles', { symbol: 'MSFT', duration: '1 D', bar_size: '1 hour' });
      assert(!r.error, 'candles after the burst: ' + JSON.stringify(r.data));
      S.check('candles_reply.json', r.data);
    });
  } finally {
    await T.step('ib-bridge stops cleanly', () => st.stop());
  }
  T.done();
})().catch((e) => { console.error(e); process.exit(1); });
