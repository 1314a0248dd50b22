// overload.test.js — issue 8 scenario 8, IB-side limits under 10x overload, on the real system
// (nats-server + ib-sim enforcing IB's limits + ib-bridge). For LOAD_S seconds consumers send
// RATE requests per second (10x IB's 50 msg/s): ib.rpc.contract over the whole universe, ib.rpc.candles
// with ever-new shapes (far past the historical pacing rules), ib.rpc.subscribe leases for more
// instruments than the line budget, ib.rpc.quote snapshots. Asserted:
//   - every request gets an answer (success, or a clear error: known slug, message, status header),
//     none times out on the client side;
//   - ib-sim counts zero error 100 (rate), zero 101 (lines), zero 162 (historical pacing), its line
//     count never passes the budget, and it never disconnected the adapter.
'use strict';
const bus = require('../node/bus_lib');
const { startStack } = require('../node/stack');

const run = bus.runner('faults.overload');
const RATE = Number(process.env.OVERLOAD_RATE || 500);
const LOAD_S = Number(process.env.OVERLOAD_S || 4);
const BUDGET = 20;
const UNIVERSE = ('AAPL ABBV ADBE ADP AMD AMGN AMZN AVGO BA BAC CAT COST CRM CSCO CVX DIA DIS F GE GLD GOOG GOOGL GS ' +
  'HD IBM INTC INTU IWM JNJ JPM KO MA MCD META MRK MS MSFT MU NFLX NKE NVDA ORCL PEP PFE PG PYPL QCOM QQQ SBUX ' +
  'SPY T TLT TSLA TXN UNH V VZ WFC WMT XOM').split(' ');
const BARS = ['1 min', '5 mins', '15 mins', '30 mins', '1 hour', '1 day'];
const DURS = ['1 D', '2 D', '3 D', '1 W'];
const CLEAR = new Set(['bad_request', 'not_found', 'unknown_symbol', 'line_limit', 'pacing', 'rate_limited',
  'timeout', 'unavailable', 'ib_error']);

(async () => {
  const st = await startStack({
    simArgs: ['--max-lines', String(BUDGET)],
    bridgeEnv: { IBB_MD_LINE_BUDGET: String(BUDGET), IBB_REQUEST_TIMEOUT_MS: '6000' },
  });
  const tally = { ok: 0, errors: {}, sent: 0, lost: 0, kinds: {} };
  let maxLines = 0;
  let sim0;
  try {
    sim0 = await st.simStats();
    await run.step(`${RATE} requests/s for ${LOAD_S} s (10x IB's limit): every one answered`, async () => {
      const pending = [];
      let stop = false;
      const poll = (async () => { /* ib-sim's line count during the storm */
        while (!stop) {
          maxLines = Math.max(maxLines, (await st.simStats()).market_data_lines);
          await bus.sleep(100);
        }
      })();
      const t0 = Date.now();
      let i = 0;
      for (let tick = 0; tick < LOAD_S * 10; tick++) {
        for (let k = 0; k < RATE / 10; k++, i++) {
          const sym = UNIVERSE[(i * 7) % UNIVERSE.length];
          const kind = ['contract', 'candles', 'subscribe', 'quote', 'contract'][i % 5];
          let body;
          if (kind === 'candles') body = { symbol: sym, duration: DURS[i % DURS.length], bar_size: BARS[(i >> 2) % BARS.length] };
          else if (kind === 'subscribe') body = { symbols: [sym, UNIVERSE[(i * 13 + 5) % UNIVERSE.length]], ttl_s: 30 };
          else body = { symbol: sym };
          tally.kinds[kind] = (tally.kinds[kind] || 0) + 1;
          tally.sent++;
          pending.push(st.request(`ib.rpc.${kind}`, body, { msgpack: i % 2 === 1, timeout: 12000 }).then((r) => {
            if (!r.error) { tally.ok++; return; }
            const c = r.error.code;
            tally.errors[c] = (tally.errors[c] || 0) + 1;
            if (!CLEAR.has(c) || !r.error.message || !(r.status >= 400)) throw new Error(`unclear error: ${JSON.stringify(r.data)} status ${r.status}`);
          }, (e) => { tally.lost++; tally.lastLost = `${kind}: ${e.message}`; }));
        }
        const wait = t0 + (tick + 1) * 100 - Date.now();
        if (wait > 0) await bus.sleep(wait);
      }
      const sendMs = Date.now() - t0;
      await Promise.all(pending);
      stop = true;
      await poll;
      console.log(`     sent ${tally.sent} in ${sendMs} ms (${JSON.stringify(tally.kinds)}), all answered after ${Date.now() - t0} ms: ` +
        `${tally.ok} ok, errors ${JSON.stringify(tally.errors)}, lost ${tally.lost}`);
      bus.eq(tally.lost, 0, 'requests without an answer' + (tally.lastLost ? ` (${tally.lastLost})` : ''));
      bus.assert(tally.ok > 0, 'some requests succeed');
      bus.assert((tally.errors.line_limit || 0) > 0, 'subscriptions past the budget refused with line_limit');
    });

    await run.step('ib-sim: zero error 100, zero 101, zero 162, lines within the budget, no disconnect', async () => {
      const s = await st.simStats();
      const e = s.errors || {};
      console.log(`     ib-sim: requests ${JSON.stringify(s.requests)}, errors ${JSON.stringify(e)}, max lines seen ${maxLines}/${s.max_lines}`);
      bus.eq([e['100'] || 0, e['101'] || 0, e['162'] || 0], [0, 0, 0], 'ib-sim errors 100, 101, 162');
      bus.assert(maxLines <= BUDGET && s.market_data_lines <= BUDGET, `lines ${maxLines} past the budget ${BUDGET}`);
      bus.eq(s.connections_total, sim0.connections_total, 'ib-sim never disconnected the adapter');
      const status = (await st.request('ib.rpc.status')).data;
      bus.eq([status.connected, status.ib.stats.reconnects], [true, 0], 'IB session up throughout');
      bus.assert(status.market_data.lines_used <= BUDGET, 'adapter lines within the budget');
    });

    await run.step('after the storm: the pacing queue drains, then the adapter serves normally', async () => {
      // Requests whose callers already got `timeout` are dropped unsent when they reach the head of the
      // pacing queue (ib.stats.dropped_stale; queries.stale checks it); the queue must drain, and
      // service must then be normal.
      const t0 = Date.now();
      let q;
      for (;;) {
        q = (await st.request('ib.rpc.status', {})).data.pacing;
        if (q.queue === 0 && q.historical_queue === 0) break;
        if (Date.now() - t0 > 30000) throw new Error('pacing queue not drained in 30 s: ' + JSON.stringify(q));
        await bus.sleep(200);
      }
      console.log(`     pacing queue drained ${Date.now() - t0} ms after the last answer`);
      const r = await st.request('ib.rpc.contract', { symbol: 'AAPL' });
      bus.eq(r.data.count, 1, 'contract: ' + JSON.stringify(r.data));
      const e = (await st.simStats()).errors || {};
      bus.eq([e['100'] || 0, e['101'] || 0, e['162'] || 0], [0, 0, 0], 'ib-sim errors 100, 101, 162 after the drain');
    });
  } finally {
    await run.step('ib-bridge stops cleanly', () => st.stop());
  }
  run.done();
})().catch((e) => { console.log('FAIL setup: ' + (e.stack || e)); console.log('faults.overload: 0 passed, 1 failed'); process.exit(1); });
