// reset.test.js — issue 8 scenario 2, the nightly reset, on the real system
// (nats-server + ib-sim + ib-bridge):
//   reset 1102: 1100 (status degraded, quotes pause) then 1102 "data maintained": the lines are kept,
//               so quotes continue with NO new reqMktData; seq continues without gap or repeat.
//   reset 1101: 1100 then 1101 "data lost": ib-sim dropped every line, so the adapter subscribes
//               again, exactly one reqMktData per leased instrument; seq continues without gap.
// Each notice must appear on ib.evt.conn (JSON mirror) with its ib_code.
'use strict';
const bus = require('../node/bus_lib');
const { startStack } = require('../node/stack');
const { collect, checkSeq, simCount, until, schemas } = require('../node/quotes_lib');

const run = bus.runner('faults.reset');
const check = schemas();
const SYMS = ['AAPL', 'MSFT', 'NVDA', 'IBM'];

function watchConn(nc) {
  const events = [];
  const sub = nc.subscribe('ib.json.evt.conn', {
    callback: (err, m) => { if (!err) events.push(JSON.parse(Buffer.from(m.data).toString())); },
  });
  return {
    events,
    async waitFor(pred, ms, what) {
      const t = Date.now() + ms;
      while (Date.now() < t) {
        const e = events.find(pred);
        if (e) return e;
        await bus.sleep(20);
      }
      throw new Error(`no ${what} in ${ms} ms; saw ${events.map((e) => `${e.event}/${e.ib_code || ''}`).join(',')}`);
    },
    clear() { events.length = 0; },
    stop() { sub.unsubscribe(); },
  };
}

const lastSeq = (c) => Number(c.events[c.events.length - 1].v.seq);

(async () => {
  const st = await startStack({ simArgs: ['--tick-rate', '10'], bridgeEnv: { IBB_REQUEST_TIMEOUT_MS: '4000' } });
  const conn = watchConn(st.nc);
  const streams = Object.fromEntries(SYMS.map((s) => [s, collect(st.nc, `ib.quote.${s}`)]));
  let faults = 0;
  try {
    await st.nc.flush();
    await run.step('setup: one lease on 4 instruments, quotes stream on each', async () => {
      const r = await st.request('ib.rpc.subscribe', { symbols: SYMS, ttl_s: 300 });
      bus.assert(!r.error, JSON.stringify(r.data));
      for (const s of SYMS) await streams[s].waitFor((e) => e.v.bid !== undefined, 8000, `${s} quote`);
      bus.eq(await simCount(st, 'reqMktData'), SYMS.length, 'one reqMktData per instrument');
    });

    for (const code of [1102, 1101]) {
      await run.step(`reset ${code}: 1100 published, status degraded, quotes pause`, async () => {
        conn.clear();
        const mk0 = await simCount(st, 'reqMktData');
        st.mk0 = mk0;
        st.seq0 = Object.fromEntries(SYMS.map((s) => [s, lastSeq(streams[s])]));
        bus.eq(await st.simControl(`reset ${code} 3`), `ok reset ${code} 3`, 'control');
        const lost = await conn.waitFor((e) => e.ib_code === 1100, 3000, '1100 event');
        check('conn_event.json', lost, '1100 event');
        bus.eq([lost.source, lost.event, lost.state], ['ib', 'connectivity_lost', 'degraded'], '1100 event');
        await conn.waitFor((e) => e.ib_code === 2103 && e.event === 'farm_down', 3000, '2103 farm_down');
        const s = (await st.request('ib.rpc.status')).data;
        bus.eq([s.ib.degraded, s.ib.state], [true, 'ready'], 'status during the outage (socket kept)');
        // While IB's side is down ib-sim sends no ticks: the adapter must not invent any.
        await bus.sleep(300);
        const n = SYMS.map((x) => streams[x].events.length);
        await bus.sleep(700);
        bus.eq(SYMS.map((x) => streams[x].events.length), n, 'no quote events while market data is paused');
      });

      await run.step(`reset ${code}: restored notice, ${code === 1102 ? 'no new reqMktData' : 'one new reqMktData per instrument'}, seq continues`, async () => {
        const ev = await conn.waitFor((e) => e.ib_code === code, 5000, `${code} event`);
        check('conn_event.json', ev, `${code} event`);
        bus.eq([ev.event, ev.state], [code === 1102 ? 'connectivity_restored' : 'connectivity_restored_data_lost', 'up']);
        await conn.waitFor((e) => e.ib_code === 2104 && e.event === 'farm_ok', 3000, '2104 farm_ok');
        for (const s of SYMS) {
          await streams[s].waitFor((e) => Number(e.v.seq) > st.seq0[s] + 3, 8000, `${s} quotes after ${code}`);
        }
        await bus.sleep(500); /* a late duplicate subscription would show up here */
        const mk = (await simCount(st, 'reqMktData')) - st.mk0;
        bus.eq(mk, code === 1102 ? 0 : SYMS.length, `reqMktData after ${code}`);
        const sim = await st.simStats();
        bus.eq(sim.market_data_lines, SYMS.length, 'ib-sim lines in use (nothing doubled)');
        let total = 0;
        for (const s of SYMS) total += checkSeq(streams[s].events); /* consecutive: no gap, no repeat */
        const status = (await st.request('ib.rpc.status')).data;
        bus.eq([status.ib.degraded, status.connected, status.market_data.lines_used], [false, true, SYMS.length]);
        bus.eq(status.ib.stats.reconnects, 0, 'the socket was kept: no reconnect');
        console.log(`     reset ${code}: ${total} quote events so far, seq consecutive on ${SYMS.length} subjects, ${mk} new reqMktData`);
        faults++;
      });
    }

    await run.step('two resets back to back (1101 then 1102): one resubscription, still one line each', async () => {
      const mk0 = await simCount(st, 'reqMktData');
      conn.clear();
      await st.simControl('reset 1101 1');
      await conn.waitFor((e) => e.ib_code === 1101, 5000, '1101');
      await st.simControl('reset 1102 1');
      await conn.waitFor((e) => e.ib_code === 1102, 5000, '1102');
      const seq0 = lastSeq(streams.AAPL);
      await streams.AAPL.waitFor((e) => Number(e.v.seq) > seq0 + 3, 8000, 'quotes after both');
      await bus.sleep(300);
      bus.eq((await simCount(st, 'reqMktData')) - mk0, SYMS.length, 'reqMktData: once for the 1101 only');
      bus.eq((await st.simStats()).market_data_lines, SYMS.length, 'ib-sim lines');
      for (const s of SYMS) checkSeq(streams[s].events);
      faults += 2;
    });

    await run.step('no IB error caused by the resets (no 100, 101, 162, 322)', async () => {
      const e = (await st.simStats()).errors || {};
      for (const c of ['100', '101', '162', '322']) bus.eq(e[c] || 0, 0, `ib-sim error ${c}`);
      console.log(`     ${faults} resets survived, events lost = 0`);
    });
  } finally {
    for (const s of SYMS) streams[s].stop();
    conn.stop();
    await run.step('ib-bridge stops cleanly', () => st.stop());
  }
  run.done();
})().catch((e) => { console.log('FAIL setup: ' + (e.stack || e)); console.log('faults.reset: 0 passed, 1 failed'); process.exit(1); });
