// Benchmark of ib-bridge-http (called by scripts/bench-http): wrk on GET /quotes/AAPL against two
// baselines measured in the same run (GET /metrics: a static route of the same module; the raw bus
// round trip: a NATS request loop with the same concurrency), at each concurrency of BENCH_CONNS
// (default "32,48,64"), then WebSocket fan-out to N clients. Prints one JSON summary with the targets:
// the REST target (>= 20,000 req/s with p99 <= 5 ms) is met when one concurrency meets both.
'use strict';
const { execFile } = require('node:child_process');
const npm = require('../node/npm');
const WebSocket = npm('ws');
const { connect, JSONCodec } = npm('nats');
const h = require('../node/http_harness');

const DUR = Number(process.env.BENCH_SECS || 10);
const CONNS_LIST = String(process.env.BENCH_CONNS || '32,48,64').split(',').map(Number).filter((n) => n > 0);
const WS_N = Number(process.env.BENCH_WS_CLIENTS || 2000);
const WS_HZ = Number(process.env.BENCH_WS_HZ || 10);

function wrk(url, conns) {
  return new Promise((resolve, reject) => {
    execFile('wrk', ['-t2', `-c${conns}`, `-d${DUR}s`, '--latency', url], (err, out) => {
      if (err) return reject(err);
      const rps = Number((out.match(/Requests\/sec:\s+([\d.]+)/) || [])[1]);
      const p99s = (out.match(/\s99%\s+([\d.]+)(us|ms|s)/) || []);
      const mult = { us: 0.001, ms: 1, s: 1000 }[p99s[2]];
      const non2xx = Number((out.match(/Non-2xx or 3xx responses: (\d+)/) || [0, 0])[1]);
      resolve({ rps, p99_ms: Number(p99s[1]) * mult, non2xx });
    });
  });
}

// CPU seconds used so far by a process (utime + stime from /proc; USER_HZ = 100).
function cpuS(pid) {
  const f = require('node:fs').readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

// Runs wrk on url and reports, per process in procs ({name: pid}), the CPU microseconds per request.
async function wrkWithCpu(url, conns, procs) {
  const c0 = Object.fromEntries(Object.entries(procs).map(([k, pid]) => [k, cpuS(pid)]));
  const r = await wrk(url, conns);
  const n = r.rps * DUR;
  r.cpu_us_per_req = Object.fromEntries(Object.entries(procs).map(([k, pid]) => [k, +(((cpuS(pid) - c0[k]) * 1e6) / n).toFixed(1)]));
  return r;
}

async function busBaseline(natsUrl, conns) {
  const nc = await connect({ servers: natsUrl });
  const body = JSONCodec().encode({ symbol: 'AAPL' });
  let n = 0;
  const lat = [];
  const until = Date.now() + DUR * 1000;
  const worker = async () => {
    while (Date.now() < until) {
      const t = process.hrtime.bigint();
      await nc.request('ib.rpc.quote', body, { timeout: 5000 });
      lat.push(Number(process.hrtime.bigint() - t) / 1e6);
      n++;
    }
  };
  await Promise.all(Array.from({ length: conns }, worker));
  await nc.close();
  lat.sort((a, b) => a - b);
  return { rps: n / DUR, p99_ms: lat[Math.floor(lat.length * 0.99)] };
}

async function wsFanout(port, pid) {
  const clients = [];
  let msgs = 0;
  for (let i = 0; i < WS_N; i++) {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws/quotes/AAPL`, { perMessageDeflate: false });
    ws.on('message', () => { msgs++; });
    ws.on('error', () => {});
    clients.push(new Promise((resolve) => ws.on('open', () => resolve(ws))));
    if (i % 200 === 199) await h.sleep(50);
  }
  const socks = await Promise.all(clients);
  await h.sleep(2000);
  const m0 = msgs;
  const rssMax = [];
  for (let i = 0; i < DUR; i++) { await h.sleep(1000); rssMax.push(h.rssKb(pid)); }
  const rate = (msgs - m0) / DUR;
  socks.forEach((s) => s.terminate());
  return { clients: WS_N, quotes_hz: WS_HZ, msgs_per_s: Math.round(rate), per_client_hz: +(rate / WS_N).toFixed(2), rss_mb: +(Math.max(...rssMax) / 1024).toFixed(1) };
}

(async () => {
  const nats = await h.startNats();
  const backend = await h.startBackend(nats.url, 'ib', { simArgs: ['--tick-rate', String(WS_HZ)] });
  const gw = await h.startGateway(nats.url, {});
  const rss0 = h.rssKb(gw.proc.pid);
  await wrk(`${gw.base}/quotes/AAPL`, CONNS_LIST[0]);   // warm-up
  const procs = { gateway: gw.proc.pid, ib_bridge: backend.bridge.pid, nats_server: nats.proc.pid };
  const rest = [];
  let rssQuotes = 0;
  for (const conns of CONNS_LIST) {
    const quotes = await wrkWithCpu(`${gw.base}/quotes/AAPL`, conns, procs);
    rssQuotes = Math.max(rssQuotes, h.rssKb(gw.proc.pid));
    const stat = await wrk(`${gw.base}/metrics`, conns);
    const bus = await busBaseline(nats.url, conns);
    rest.push({
      connections: conns, rest_quotes: quotes, baseline_static_route: stat, baseline_raw_bus: bus,
      ratio_to_static: +(quotes.rps / stat.rps).toFixed(2), ratio_to_bus: +(quotes.rps / bus.rps).toFixed(2),
      target_met: quotes.rps >= 20000 && quotes.p99_ms <= 5,
    });
  }
  const ws = await wsFanout(gw.port, gw.proc.pid);
  const res = {
    date: new Date().toISOString(),
    machine: `${require('node:os').cpus().length} x ${require('node:os').cpus()[0].model}`,
    backend: backend.kind,
    rest,
    rest_rss_mb: +(rssQuotes / 1024).toFixed(1),
    ws_fanout: ws,
    rss_idle_mb: +(rss0 / 1024).toFixed(1),
    targets: {
      rest_20k_rps_p99_5ms: rest.some((r) => r.target_met),
      ws_2000_clients_64mb: ws.clients >= 2000 && ws.rss_mb <= 64,
      ws_rate_ok: ws.per_client_hz >= WS_HZ * 0.9,
    },
    python_bridge_claimed_rps: 100,
  };
  console.log(JSON.stringify(res, null, 2));
  await h.stopAll();
  process.exit(0);
})().catch(async (e) => { console.error('bench:', e.message); await h.stopAll(); process.exit(1); });
