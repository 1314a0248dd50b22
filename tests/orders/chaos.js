// chaos.js — the long ledger chaos run behind scripts/chaos-ledger (not part of the suite;
// orders.ledger runs a short version). Each cycle places one market order while nats-server is
// SIGKILLed and restarted around it; one cycle in five also drops the IB link, one in ten SIGKILLs
// ib-bridge mid-placement and restarts it. At the end ib-bridge restarts against a fresh ib-sim (IB the
// next day) and every client_order_id is asked again. Prints the figures; exits 1 on any order placed
// twice, lost, or mis-reported.
//   IBB_CHAOS_CYCLES (default 200), IBB_CHAOS_SEED (default 1)
'use strict';
const bus = require('../node/bus_lib');
const { startStack } = require('../node/stack');
const { waitFor } = require('../node/orders_lib');
const chaos = require('../node/orders_chaos_lib');

const CYCLES = Number(process.env.IBB_CHAOS_CYCLES || 200);
const BASE = { IB_CLIENT_ID: '43', IBB_MAX_ORDER_QTY: '1000000', IBB_MAX_ORDER_NOTIONAL: '1000000000',
  IBB_MAX_ORDERS_PER_MINUTE: '10000', IBB_BACKOFF_MIN_MS: '100', IBB_BACKOFF_MAX_MS: '500' };

function seeded(seed) { let x = seed >>> 0; return () => ((x = (x * 1664525 + 1013904223) >>> 0) / 2 ** 32); }

(async () => {
  const rnd = seeded(Number(process.env.IBB_CHAOS_SEED || 1));
  const st = await startStack({ bridgeEnv: BASE, simArgs: ['--tick-rate', '20'] });
  st.allowBridgeExit = true;
  const faults = { nats_restarts: 0, ib_drops: 0, bridge_kills: 0, bridge_exit1: 0 };
  const exitLogs = [];
  const placed = [];
  const t0 = Date.now();
  try {
    for (let i = 0; i < CYCLES; i++) {
      const cid = `chaos-${i}`;
      const body = { client_order_id: cid, symbol: 'AAPL', side: rnd() < 0.5 ? 'BUY' : 'SELL', qty: 1 + Math.floor(rnd() * 5), type: 'MKT' };
      const first = st.request('ib.rpc.order.place', body, { timeout: 3000 }).catch(() => null);
      await bus.sleep(Math.floor(rnd() * 40));
      const r = rnd();
      if (r < 0.1) {
        st.bridge.proc.kill('SIGKILL');
        faults.bridge_kills++;
        await bus.sleep(100);
        await st.restartBridge(BASE);
      } else if (r < 0.3) {
        await st.simControl('drop');
        faults.ib_drops++;
      }
      await chaos.restartNats(st, 200 + Math.floor(rnd() * 600));
      faults.nats_restarts++;
      await first;
      let answer = await chaos.placeUntilAnswered(st, body, 20000);
      const b = st.bridge.proc;
      if (b.exitCode !== null) await bus.sleep(300); // let its last log lines arrive
      // ib-bridge exits 1 when nats.c closes its connection for good (bridge.nats_closed, or
      // bridge.bus_start_failed while it starts and nats-server dies under it); a supervisor (systemd,
      // compose) starts it again, and so does this run, which counts them. A crash fails the run.
      if (b.exitCode === 1) {
        faults.bridge_exit1++;
        exitLogs.push(st.bridge.log().split('\n').filter((l) => / (WARN|ERROR) /.test(l)).slice(-6).join('\n'));
        await st.restartBridge(BASE);
        if (!answer) answer = await chaos.placeUntilAnswered(st, body, 60000);
      } else if (!answer) {
        answer = await chaos.placeUntilAnswered(st, body, 40000);
      }
      placed.push({ cid, body, answer });
      if ((b.exitCode !== null && b.exitCode !== 1) || (b.signalCode && b.signalCode !== 'SIGKILL'))
        throw new Error(`ib-bridge died by itself (exit ${b.exitCode}, signal ${b.signalCode}) in cycle ${i}:\n` +
          st.bridge.log().split('\n').filter((l) => / (WARN|ERROR) /.test(l)).slice(-40).join('\n') + '\n...\n' +
          st.bridge.log().slice(-3000));
      if ((i + 1) % 25 === 0) console.log(`chaos: ${i + 1}/${CYCLES} cycles, ${Math.round((Date.now() - t0) / 1000)} s`);
    }
    await st.waitReady(60000);
    const old = await st.simStats();
    await waitFor('ledger writes drained', async () => (await st.request('ib.rpc.status')).data.orders.store_backlog.queued === 0, 60000);
    await st.bridge.stop();
    await chaos.freshSim(st);
    await st.restartBridge(BASE);
    await st.waitReady(60000);
    const tally = await chaos.judge(st, placed, old);
    const unanswered_first = placed.filter((p) => !p.answer).length;
    const report = { cycles: CYCLES, faults, seconds: Math.round((Date.now() - t0) / 1000), ...tally,
      duplicates: Math.max(0, old.orders - tally.filled - tally.unknown), unanswered_during_chaos: unanswered_first };
    console.log('chaos-ledger: ' + JSON.stringify(report));
    for (const l of exitLogs.slice(0, 3)) console.log('an exit 1 (last warnings):\n' + l);
    const bad = report.second_orders || report.duplicates || report.lost || report.unanswered ||
      report.statuses.Unacknowledged > (CYCLES - old.orders);
    console.log(bad ? 'chaos-ledger: 0 passed, 1 failed' : 'chaos-ledger: 1 passed, 0 failed');
    await st.stop().catch(() => {});
    process.exit(bad ? 1 : 0);
  } catch (e) {
    console.error(e);
    await st.stop().catch(() => {});
    console.log('chaos-ledger: 0 passed, 1 failed');
    process.exit(1);
  }
})();
