// chaos.js — bounded chaos on the HA system (scripts/chaos-ha runs 300 faults; ctest ha.chaos a short
// run): a three-node NATS cluster (nats/cluster confs, free ports, per-role users), ib-sim and two
// ib-bridges with ha.enabled at 3 replicas, while clients place orders with retries. Random faults,
// one at a time (CHAOS_CLIENTS clients, default 2): SIGKILL of the active (a fresh standby replaces it),
// SIGSTOP of the active past its lease
// then SIGCONT, kill and restart of one nats-server, ib-sim drop / restart / reset 1101 / stall.
// Then, with the faults over: every client_order_id answered one order id on every reply, ib-sim holds
// exactly one order per client_order_id (or none for one reported Unacknowledged or Unknown: ib-sim's
// order count must equal the orders answered, so an Unknown that was placed fails), every execution is
// exactly one fill event in the stream, every order has a terminal status. Prints the figures; exits 1 on
// any loss or double. Environment: CHAOS_FAULTS (default 300), CHAOS_SEED, CHAOS_KINDS (comma-separated
// subset of the fault names below).
'use strict';
const bus = require('../node/bus_lib');
const sim = require('../node/sim_lib');
const { startBridge, request, SANITIZER_RE } = require('../node/stack');
const { startCluster, PW } = require('../node/cluster_lib');
const { streamEvents } = require('../node/orders_lib');

const FAULTS = Number(process.env.CHAOS_FAULTS || 300);
let seed = Number(process.env.CHAOS_SEED || Date.now() % 100000);
const rnd = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648; };
const LEASE = 1500;
const ENV = { IB_CLIENT_ID: '13', IBB_HA: 'true', IBB_HA_LEASE_MS: String(LEASE), IBB_HA_RENEW_MS: '500',
  IBB_JS_REPLICAS: '3', IBB_MAX_ORDERS_PER_MINUTE: '10000', IBB_MAX_ORDER_NOTIONAL: '1000000000',
  NATS_USER: 'adapter', NATS_PASSWORD: PW.adapter };
const TERMINAL = new Set(['Filled', 'Cancelled', 'ApiCancelled', 'Inactive', 'Rejected', 'Unacknowledged']);

function roleOf(b) { // the last transition the process logged
  const log = b.log();
  const a = log.lastIndexOf('ha.active'), s = log.lastIndexOf(' ha.standby');
  return a > s ? 'active' : 'standby';
}

(async () => {
  const t0 = Date.now();
  const startSeed = seed;
  const cl = await startCluster();
  await cl.waitJetStream();
  const s = await sim.startSim(['--seed', '1', '--tick-rate', '4']);
  const start = () => startBridge({ natsUrl: cl.url, simPort: s.port, env: ENV });
  let bridges = [await start(), await start()];
  const nc = await bus.connect({ servers: cl.url, user: 'operator', pass: PW.operator, maxReconnectAttempts: -1,
    reconnectTimeWait: 100 });
  const counts = {};
  const replies = new Map(); // client_order_id -> Set(order_id)
  const unack = new Set();
  const unknown = new Set();
  const failures = [];
  let stopClients = false;
  let nextId = 0;

  const placeWithRetries = async (id) => {
    const body = { client_order_id: id, symbol: 'AAPL', side: 'BUY', qty: 1, type: 'LMT', limit_price: 1000 };
    const until = Date.now() + 120000;
    let last = '';
    while (Date.now() < until) {
      let r;
      try { r = await request(nc, 'ib.rpc.order.place', body, { timeout: 3000 }); } catch (e) { last = String(e); await bus.sleep(100); continue; }
      last = JSON.stringify(r.error || r.data);
      if (r.data && r.data.order_id && r.data.status === 'Unacknowledged') {
        // never reached IB: its order id is free and IB hands it out again (nextValidId)
        unack.add(id);
        return;
      }
      if (r.data && r.data.order_id && r.data.status === 'Unknown') {
        // in doubt (sent, known nowhere): ib-bridge's honest answer; ib-sim's count below tells whether
        // it was placed after all (a mis-report) or not
        unknown.add(id);
        return;
      }
      if (r.data && r.data.order_id) {
        if (!replies.has(id)) replies.set(id, new Set());
        replies.get(id).add(r.data.order_id);
        return;
      }
      const code = r.error && r.error.code;
      if (code && /unacknowledged/i.test(r.error.message || '')) { unack.add(id); return; }
      if (code && !['unavailable', 'ib_unavailable', 'timeout', 'internal', 'rate_limited'].includes(code)) {
        failures.push(`${id}: definitive error ${JSON.stringify(r.error)}`);
        return;
      }
      await bus.sleep(150);
    }
    failures.push(`${id}: never answered with an order in 120 s (last answer: ${last.slice(0, 300)})`);
  };
  const client = async (name) => {
    while (!stopClients) { await placeWithRetries(`chaos-${name}-${nextId++}`); await bus.sleep(50); }
  };
  // Two concurrent clients by default: their placements race for order ids, which must reach IB in id
  // order (brOrd_placeFlush), never be answered for two orders after a takeover reused an id, and never be
  // left unanswered when a repeat waits on a record its first attempt took back (both found here, fixed).
  const clients = [...Array(Number(process.env.CHAOS_CLIENTS || 2)).keys()].map((i) => client(String.fromCharCode(97 + i)));

  const faults = {
    async kill_active() {
      const a = bridges.find((b) => b.proc.exitCode === null && !b.proc.signalCode && roleOf(b) === 'active');
      if (!a) return false;
      a.proc.kill('SIGKILL');
      bridges = bridges.filter((b) => b !== a);
      const nb = await startTracked();
      everStarted.push(nb);
      bridges.push(nb);
      return true;
    },
    async stop_active() {
      const a = bridges.find((b) => b.proc.exitCode === null && !b.proc.signalCode && roleOf(b) === 'active');
      if (!a) return false;
      a.proc.kill('SIGSTOP');
      await bus.sleep(LEASE + 300 + rnd() * 700);
      a.proc.kill('SIGCONT');
      return true;
    },
    async kill_nats() {
      const i = Math.floor(rnd() * 3);
      await cl.kill(i);
      await bus.sleep(300 + rnd() * 1200);
      await cl.restart(i);
      await bus.sleep(500);
      return true;
    },
    async sim_drop() { await sim.control(s, 'drop'); return true; },
    async sim_restart() { await sim.control(s, 'restart 1'); await bus.sleep(1000); return true; },
    async sim_reset() { await sim.control(s, 'reset 1101 1'); await bus.sleep(1000); return true; },
    async sim_stall() { await sim.control(s, 'stall 1'); await bus.sleep(1000); return true; },
  };
  const names = process.env.CHAOS_KINDS ? process.env.CHAOS_KINDS.split(',') : Object.keys(faults);
  for (const n of names) if (!faults[n]) throw new Error(`unknown fault kind ${n} (${Object.keys(faults)})`);
  const everStarted = [...bridges];
  const startTracked = start;
  try {
    await bus.sleep(3000);
    for (let i = 0; i < FAULTS; i++) {
      const f = names[Math.floor(rnd() * names.length)];
      if (await faults[f]()) counts[f] = (counts[f] || 0) + 1;
      else i--; // no active right now (a takeover is in progress): try another fault
      await bus.sleep(150 + rnd() * 500);
      if ((i + 1) % 25 === 0) process.stderr.write(`chaos: ${i + 1}/${FAULTS} faults, ${replies.size} orders\n`);
    }
    stopClients = true;
    await Promise.all(clients);
    // settle: an active with IB, reconciliation done
    const settleUntil = Date.now() + 60000;
    let st;
    while (Date.now() < settleUntil) {
      try { st = (await request(nc, 'ib.rpc.status', {}, { timeout: 1000 })).data; } catch (_) { st = null; }
      if (st && st.connected && st.orders_ready) break;
      await bus.sleep(200);
    }
    await bus.sleep(5000);
    const simSt = await sim.stats(s);
    const evs = await streamEvents(nc);
    // figures
    const orderIds = new Map(); // order_id -> client_order_id
    for (const [id, set] of replies) {
      if (set.size !== 1) failures.push(`${id}: answered with ${set.size} different order ids ${[...set]}`);
      for (const oid of set) {
        if (orderIds.has(oid) && orderIds.get(oid) !== id) failures.push(`order ${oid} answered to ${id} and ${orderIds.get(oid)}`);
        orderIds.set(oid, id);
      }
    }
    for (const id of unack) if (replies.has(id)) failures.push(`${id}: answered both with an order and Unacknowledged`);
    for (const id of unknown) if (replies.has(id) || unack.has(id)) failures.push(`${id}: answered both Unknown and otherwise`);
    if (simSt.orders !== replies.size)
      failures.push(`ib-sim holds ${simSt.orders} orders for ${replies.size} placed client_order_ids (+${unack.size} unacknowledged)`);
    const execs = new Map();
    const lastStatus = new Map();
    const msgIds = new Set();
    for (const e of evs) {
      if (msgIds.has(e.id)) failures.push(`message id ${e.id} twice in the stream`);
      msgIds.add(e.id);
      const d = e.data;
      if (d.type === 'fill' && d.fill) {
        if (execs.has(d.fill.exec_id)) failures.push(`execution ${d.fill.exec_id} twice in the stream`);
        execs.set(d.fill.exec_id, d.order_id);
      }
      // terminal once any event says so (a reconciliation replay may repeat an older status afterwards)
      if (['filled', 'cancelled', 'rejected'].includes(d.type) || TERMINAL.has(d.status)) lastStatus.set(d.order_id, 'terminal');
      else if (lastStatus.get(d.order_id) !== 'terminal') lastStatus.set(d.order_id, d.status);
    }
    if (execs.size !== simSt.fills) failures.push(`${execs.size} fill events for ${simSt.fills} executions at ib-sim`);
    for (const [oid, id] of orderIds) {
      if (unack.has(id) || unknown.has(id)) continue;
      const stt = lastStatus.get(oid);
      if (stt !== 'terminal') failures.push(`order ${oid} (${id}) has no terminal status in the stream (last: ${stt})`);
    }
    for (const b of everStarted)
      if (SANITIZER_RE.test(b.log())) failures.push(`sanitizer report from bridge pid ${b.proc.pid}: ${b.log().slice(-2000)}`);
    const out = {
      seed: startSeed, faults: counts, total_faults: Object.values(counts).reduce((a, b) => a + b, 0),
      seconds: Math.round((Date.now() - t0) / 1000), placed: replies.size, unacknowledged: unack.size, unknown: unknown.size,
      ib_sim_orders: simSt.orders, ib_sim_place_requests: simSt.requests.placeOrder, ib_sim_fills: simSt.fills,
      fill_events: execs.size, stream_events: evs.length,
      takeovers: everStarted.reduce((n, b) => n + (b.log().match(/ha\.active/g) || []).length, 0),
      failures: failures.length,
    };
    console.log(JSON.stringify(out, null, 1));
    if (failures.length) {
      console.log('FAIL\n' + failures.slice(0, 40).join('\n'));
      // the log lines of every bridge about the first failures' orders and client_order_ids
      const words = new Set();
      for (const f of failures.slice(0, 6)) for (const m of f.matchAll(/(chaos-[a-z]-\d+)|order (\d+)/g)) words.add(m[1] || `order_id=${m[2]} `);
      for (const b of everStarted) {
        const lines = b.log().split('\n').filter((l) => [...words].some((w) => l.includes(w)) || /ha\.(active|standby)/.test(l));
        if (lines.length) console.log(`--- bridge pid ${b.proc.pid}\n${lines.slice(-60).join('\n')}`);
      }
    }
  } finally {
    stopClients = true;
    await Promise.all(bridges.map((b) => b.stop('SIGKILL').catch(() => {})));
    await nc.close().catch(() => {});
    await sim.stopSim(s);
    await cl.stop();
  }
  process.exit(failures.length ? 1 : 0);
})().catch((e) => { console.error(e); process.exit(1); });
