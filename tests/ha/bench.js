// bench.js — the HA benchmark (scripts/bench-ha; a benchmark, not a test): on a three-node NATS cluster
// (nats/cluster confs, free ports), ib-sim and two ib-bridges with ha.enabled and 3 replicas:
//   1. takeover after SIGKILL of the active: time until the other instance answers ib.rpc.status as
//      active with IB connected, p50/p99 over HA_BENCH_KILLS kills (default 50); a fresh standby is
//      started after each kill;
//   2. time until quotes flow again for every leased instrument (HA_BENCH_INSTRUMENTS, default 100: ib-sim's
//      60 stocks, 6 forex pairs and synthetic stocks SIM0001..., one lease) after a SIGKILL, over
//      HA_BENCH_QUOTE_KILLS kills (default 5); the lease is taken a few seconds before the first kill, as a
//      long-lived lease is (the standby has loaded the active's resolved contracts by then);
//   3. order placement round trip and order-event latency (request sent -> "submitted" event received)
//      on R1 (one nats-server) and on R3 (the cluster), HA_BENCH_ORDERS orders each (default 200), one every
//      60 ms so IB's pacing (45 msg/s) is not what is measured.
// Prints one JSON object with every figure. Environment: HA_BENCH_LEASE_MS (default 2000), HA_BENCH_RENEW_MS (default 30 % of the lease).
'use strict';
const bus = require('../node/bus_lib');
const sim = require('../node/sim_lib');
const { startBridge, request } = require('../node/stack');
const { startCluster, PW } = require('../node/cluster_lib');

const KILLS = Number(process.env.HA_BENCH_KILLS || 50);
const QKILLS = Number(process.env.HA_BENCH_QUOTE_KILLS || 5);
const ORDERS = Number(process.env.HA_BENCH_ORDERS || 200);
const LEASE = Number(process.env.HA_BENCH_LEASE_MS || 2000); // the defaults of ha.lease_ms / ha.renew_ms
const RENEW = Number(process.env.HA_BENCH_RENEW_MS || Math.floor(LEASE * 0.3));
const INSTRUMENTS = Number(process.env.HA_BENCH_INSTRUMENTS || 100);
const CONTRACTS_RELOAD_MS = 3000; // adapter/bridge/br_ha.c: a standby reloads the resolved contracts this often
const STOCKS = ('AAPL MSFT AMZN NVDA GOOGL GOOG META TSLA AVGO COST NFLX AMD INTC CSCO PEP ADBE QCOM TXN AMGN SBUX ' +
  'PYPL ADP INTU MU JPM V MA JNJ WMT PG UNH HD XOM CVX BAC KO PFE MRK ABBV ORCL CRM DIS IBM GE CAT BA GS MS WFC ' +
  'NKE MCD T VZ F SPY QQQ IWM DIA GLD TLT').split(' ');
const FX = ['CASH:EUR:IDEALPRO:USD', 'CASH:GBP:IDEALPRO:USD', 'CASH:USD:IDEALPRO:JPY', 'CASH:AUD:IDEALPRO:USD',
  'CASH:USD:IDEALPRO:CAD', 'CASH:USD:IDEALPRO:CHF'];
const ENV = { IB_CLIENT_ID: '9', IBB_MAX_ORDERS_PER_MINUTE: '10000' };

function pct(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] : null;
}
const summary = (xs) => ({ n: xs.length, p50: pct(xs, 50), p99: pct(xs, 99), max: Math.max(...xs) });

async function status(nc, timeout = 500) {
  try { return (await request(nc, 'ib.rpc.status', {}, { timeout })).data; } catch (_) { return null; }
}

async function until(what, fn, ms, every = 20) {
  const t = Date.now() + ms;
  while (Date.now() < t) { const v = await fn(); if (v) return v; await bus.sleep(every); }
  throw new Error(`timed out: ${what}`);
}

async function haPhase(out) {
  const cl = await startCluster();
  await cl.waitJetStream();
  const s = await sim.startSim(['--seed', '1', '--tick-rate', '4', '--extra-stocks', '100']);
  const env = { ...ENV, NATS_USER: 'adapter', NATS_PASSWORD: PW.adapter, IBB_JS_REPLICAS: '3', IBB_HA: 'true',
    IBB_HA_LEASE_MS: String(LEASE), IBB_HA_RENEW_MS: String(RENEW) };
  const everyBridge = [];
  const start = async () => { const x = await startBridge({ natsUrl: cl.url, simPort: s.port, env }); everyBridge.push(x); return x; };
  const nc = await bus.connect({ servers: cl.url, user: 'operator', pass: PW.operator, maxReconnectAttempts: -1 });
  let bridges = [await start(), await start()];
  const activeOf = async () => until('an active bridge with IB', async () => {
    const st = await status(nc);
    return st && st.ha.role === 'active' && st.connected ? st : null;
  }, 30000);
  const killActive = async () => {
    const st = await activeOf();
    const b = bridges.find((x) => x.log().includes(`ha.active instance=${st.ha.instance}`));
    if (!b) throw new Error(`no bridge logged ha.active for ${st.ha.instance}`);
    const t0 = Date.now();
    b.proc.kill('SIGKILL');
    bridges = bridges.filter((x) => x !== b);
    return { t0, old: st.ha.instance };
  };
  try {
    // 1. takeover
    const takeovers = [];
    await activeOf();
    for (let i = 0; i < KILLS; i++) {
      await activeOf();
      await bus.sleep(RENEW + 200); // the standby has seen a renewal
      const { t0, old } = await killActive();
      await until('the standby active', async () => {
        const st = await status(nc, 300);
        return st && st.ha.role === 'active' && st.ha.instance !== old && st.connected ? st : null;
      }, 4 * LEASE + 10000);
      takeovers.push(Date.now() - t0);
      bridges.push(await start());
      process.stderr.write(`takeover ${i + 1}/${KILLS}: ${takeovers[takeovers.length - 1]} ms\n`);
    }
    if (KILLS) out.takeover_ms = summary(takeovers);
    // 2. quotes flowing again with every instrument leased
    const extra = Array.from({ length: Math.max(0, INSTRUMENTS - STOCKS.length - FX.length) },
      (_, i) => 'SIM' + String(i + 1).padStart(4, '0'));
    const keys = [...STOCKS, ...FX, ...extra].slice(0, INSTRUMENTS);
    const lease = (await request(nc, 'ib.rpc.subscribe', { symbols: keys, ttl_s: 3600 }, { timeout: 30000 })).data;
    if (!lease.lease_id) throw new Error('subscribe failed: ' + JSON.stringify(lease));
    const last = new Map();
    const qsub = nc.subscribe('ib.quote.>');
    (async () => { for await (const m of qsub) last.set(m.subject.slice(9), Number(m.headers && m.headers.get('Ibb-Epoch'))); })();
    const quoteTimes = [];
    for (let i = 0; i < QKILLS; i++) {
      await until('every leased instrument quoting', async () => last.size >= keys.length, 60000, 100);
      await bus.sleep(Math.max(RENEW + 200, i === 0 ? CONTRACTS_RELOAD_MS + 500 : 0));
      const { t0 } = await killActive();
      bridges.push(await start());
      const st = await until('new active', async () => {
        const x = await status(nc, 300);
        return x && x.ha.role === 'active' && x.ha.epoch ? x : null;
      }, 4 * LEASE + 10000);
      try {
        await until('quotes of the new epoch for every instrument', async () => {
          let n = 0;
          for (const k of keys) if (last.get(k) >= st.ha.epoch) n++;
          return n === keys.length;
        }, 60000, 20);
      } catch (e) {
        const missing = keys.filter((k) => !(last.get(k) >= st.ha.epoch));
        if (process.env.HA_BENCH_DEBUG) require("fs").writeFileSync("/tmp/habench.log", everyBridge.map((x) => x.log()).join("\n=====\n"));
        const act = bridges.find((x) => x.log().includes(`instance=${st.ha.instance}`));
        throw new Error(`${e.message}: ${missing.length} missing (${missing.slice(0, 8).join(' ')}); epoch ${st.ha.epoch}; ` +
          `log:\n${act ? act.log().split('\n').filter((l) => /ha\.|quotes\.|WARN|ERROR/.test(l)).slice(-60).join('\n') : ''}`);
      }
      quoteTimes.push(Date.now() - t0);
      process.stderr.write(`quotes back ${i + 1}/${QKILLS}: ${quoteTimes[quoteTimes.length - 1]} ms\n`);
    }
    qsub.unsubscribe();
    out.instruments = keys.length;
    if (QKILLS) out.quotes_back_ms = summary(quoteTimes);
    out.r3 = await orderLatency(nc, 'r3');
  } finally {
    await Promise.all(bridges.map((b) => b.stop('SIGKILL').catch(() => {})));
    await nc.close().catch(() => {});
    await sim.stopSim(s);
    await cl.stop();
  }
}

async function orderLatency(nc, tag) {
  const sent = new Map();
  const evLat = [];
  const sub = nc.subscribe('ib.evt.order.>');
  (async () => {
    for await (const m of sub) {
      const d = bus.plain(bus.mpDecode(Buffer.from(m.data)));
      if (d.type === 'submitted' && sent.has(d.client_order_id)) evLat.push(Date.now() - sent.get(d.client_order_id));
    }
  })();
  const rtt = [];
  for (let i = 0; i < ORDERS; i++) {
    const id = `bench-${tag}-${Date.now()}-${i}`;
    const t0 = Date.now();
    sent.set(id, t0);
    const r = await request(nc, 'ib.rpc.order.place',
      { client_order_id: id, symbol: 'AAPL', side: 'BUY', qty: 1, type: 'LMT', limit_price: 1 }, { timeout: 10000 });
    if (!r.data.order_id) throw new Error('order failed: ' + JSON.stringify(r.data));
    rtt.push(Date.now() - t0);
    await bus.sleep(60); // below IB's pacing (45 msg/s): the figure is the store and the bus, not the pacer
  }
  await bus.sleep(1000);
  sub.unsubscribe();
  return { place_rtt_ms: summary(rtt), submitted_event_ms: summary(evLat) };
}

async function r1Phase(out) {
  const nats = await bus.startNats();
  const s = await sim.startSim(['--seed', '1', '--tick-rate', '4']);
  const b = await startBridge({ natsUrl: nats.url, simPort: s.port, env: ENV });
  const nc = await bus.connect({ servers: nats.url });
  try {
    await until('ready', async () => { const st = await status(nc); return st && st.connected && st.orders_ready; }, 30000);
    out.r1 = await orderLatency(nc, 'r1');
  } finally {
    await b.stop().catch(() => {});
    await nc.close().catch(() => {});
    await sim.stopSim(s);
    await nats.stop();
  }
}

(async () => {
  const out = { date: new Date().toISOString(), lease_ms: LEASE, renew_ms: RENEW, kills: KILLS };
  await r1Phase(out);
  await haPhase(out);
  console.log(JSON.stringify(out, null, 1));
  process.exit(0);
})().catch((e) => { console.error(e); process.exit(1); });
