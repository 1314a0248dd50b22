// orders_chaos_lib.js — the ledger's fault cycle, shared by orders.ledger (a short run in the suite) and
// scripts/chaos-ledger (hundreds of cycles): market orders placed while nats-server is SIGKILLed and
// restarted around each placement, the client retrying with the same client_order_id as a real one
// would; then ib-bridge restarted against a fresh ib-sim that lists none of those orders (IB Gateway
// the next trading day), every client_order_id asked again, each answer judged against what the old
// ib-sim did.
'use strict';
const bus = require('./bus_lib');
const sim = require('./sim_lib');

const TRANSIENT = new Set(['ib_unavailable', 'unavailable', 'timeout']);

// SIGKILLs nats-server, waits downMs, starts it again on the same port and store (jetstream false:
// core NATS only, i.e. requests work but JetStream does not).
async function restartNats(st, downMs, jetstream = true) {
  const port = st.nats.port, dir = st.nats.dir;
  try { await st.nc.close(); } catch (_) { /* already closed */ }
  await st.nats.stop();
  await bus.sleep(downMs);
  st.nats = await bus.startNats({ port, dir, jetstream });
  st.nc = await bus.connect({ servers: st.nats.url });
}

// Places body until a definite answer (the same client_order_id every time); null after `ms`.
async function placeUntilAnswered(st, body, ms = 60000) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    try {
      const r = await st.request('ib.rpc.order.place', body, { timeout: 3000 });
      if (!r.error || !TRANSIENT.has(r.error.code)) return r.data;
    } catch (_) { /* timeout / no responders while NATS or the bridge is away */ }
    await bus.sleep(200);
  }
  return null;
}

// One cycle: a placement in flight while nats-server dies and comes back.
async function cycle(st, cid, rnd) {
  const body = { client_order_id: cid, symbol: 'AAPL', side: rnd() < 0.5 ? 'BUY' : 'SELL', qty: 1 + Math.floor(rnd() * 5), type: 'MKT' };
  const first = st.request('ib.rpc.order.place', body, { timeout: 3000 }).catch(() => null);
  await bus.sleep(Math.floor(rnd() * 40));
  await restartNats(st, 200 + Math.floor(rnd() * 600));
  await first;
  const answer = await placeUntilAnswered(st, body);
  return { cid, body, answer };
}

// Replaces ib-sim by a fresh process on the same port: it knows no order, execution or completed order.
async function freshSim(st, args = ['--seed', '2']) {
  const port = st.sim.port;
  await sim.stopSim(st.sim);
  const s = await sim.startSim([...args, '--port', String(port)]);
  st.sim = s;
  return s;
}

// Asks every client_order_id again after the restart; tallies the answers against the old ib-sim
// (oldStats.orders less the `before` orders it already held when the cycles began).
async function judge(st, placed, oldStats, before = 0) {
  const reached = oldStats.orders - before;
  const tally = { orders: placed.length, reached_ib: reached, filled: 0, unacknowledged: 0, unknown: 0,
    other: 0, unanswered: 0, not_duplicate: 0, statuses: {} };
  for (const p of placed) {
    const a = await placeUntilAnswered(st, p.body, 30000);
    if (!a) { tally.unanswered++; continue; }
    const s = a.error ? `error:${a.error.code}` : a.status;
    tally.statuses[s] = (tally.statuses[s] || 0) + 1;
    if (s === 'Filled') tally.filled++;
    else if (s === 'Unacknowledged') tally.unacknowledged++;
    else if (s === 'Unknown') tally.unknown++;
    else tally.other++;
    if (!a.error && a.duplicate !== true) tally.not_duplicate++;
  }
  const fresh = await st.simStats();
  tally.second_orders = fresh.orders;
  // Every order IB got (and filled: market orders) must come back Filled; the rest were never sent
  // (Unacknowledged) or may have been (Unknown: ib-bridge was killed between its 'sending' record and the
  // socket, so it cannot tell — an honest answer, counted apart, not a mis-report).
  tally.misreported = Math.abs(tally.filled - reached) + tally.other + tally.unanswered;
  tally.lost = Math.max(0, reached - tally.filled);
  return tally;
}

module.exports = { restartNats, placeUntilAnswered, cycle, freshSim, judge, TRANSIENT };
