// slow_consumer.test.js — issue 8 scenario 6, a slow NATS consumer, on the real system
// (nats-server + ib-sim + ib-bridge). Quotes stream at a high rate (ib-sim --tick-rate, 12
// instruments, MessagePack + JSON mirror) while SLOW_CLIENTS raw TCP clients subscribe to
// everything and never read a byte. Asserted while they hang there:
//   - the adapter keeps publishing (events per second do not collapse),
//   - a normal consumer sees every seq of every instrument (no gap, no repeat),
//   - ib.rpc.status answers fast (median under 200 ms; none over 3 s: nats-server itself stalls
//     a producer up to 1 s while a consumer's buffer is full),
//   - the adapter's RSS stays bounded (growth under 32 MB over the run),
//   - nats-server, not the adapter, deals with the slow clients (its log says "Slow Consumer";
//     it runs with max_pending 2 MB and write_deadline 2 s so that happens within seconds).
// A new stuck client joins every 3 s so the pressure lasts the whole run.
'use strict';
const fs = require('fs');
const net = require('net');
const bus = require('../node/bus_lib');
const os = require('os');
const path = require('path');
const { spawn } = require('child_process');
const { startBridge, request, waitReady } = require('../node/stack');
const sim = require('../node/sim_lib');
const { collect, checkSeq } = require('../node/quotes_lib');

const run = bus.runner('faults.slow_consumer');
const SYMS = ['AAPL', 'MSFT', 'NVDA', 'IBM', 'AMZN', 'GOOGL', 'META', 'TSLA', 'JPM', 'XOM', 'KO', 'PEP'];
const SLOW_CLIENTS = 3;
const LOAD_MS = Number(process.env.SLOW_LOAD_MS || 12000);

const rssKb = (pid) => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);

// A NATS client that subscribes to ib.> and then never reads: the kernel buffers fill, then the
// server's write blocks. Tiny receive buffer so that happens quickly.
function stuckClient(port) {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    let closedByServer = false;
    s.once('data', () => {
      // INFO arrived: say hello, subscribe, then stop reading for good.
      s.write('CONNECT {"verbose":false,"pedantic":false,"name":"stuck"}\r\nSUB ib.> 1\r\nPING\r\n');
      s.pause();
      resolve({ sock: s, closed: () => closedByServer });
    });
    s.on('close', () => { closedByServer = true; });
    s.on('error', () => { closedByServer = true; });
    setTimeout(() => reject(new Error('no INFO from nats-server')), 5000);
  });
}

// nats-server with a small per-client pending limit and a short write deadline, so a consumer
// that never reads is cut off in seconds (the defaults, 64 MB / 10 s, would take minutes).
async function startNatsStrict() {
  const port = await bus.freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'faults-nats-'));
  const conf = path.join(dir, 'nats.conf');
  fs.writeFileSync(conf, `max_pending: 2MB\nwrite_deadline: "2s"\njetstream { store_dir: "${dir}/js" }\n`);
  const proc = spawn(process.env.NATS_SERVER || 'nats-server', ['-a', '127.0.0.1', '-p', String(port), '-c', conf],
    { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  proc.stderr.on('data', (d) => { log += d; if (log.length > 200000) log = log.slice(-100000); });
  process.on('exit', () => { try { proc.kill('SIGKILL'); } catch (_) { /* gone */ } });
  for (let i = 0; i < 200; i++) {
    if (await new Promise((r) => { const c = net.connect(port, '127.0.0.1', () => { c.destroy(); r(true); }); c.on('error', () => r(false)); })) break;
    await bus.sleep(50);
  }
  return { port, url: `nats://127.0.0.1:${port}`, log: () => log,
    stop: () => new Promise((r) => { if (proc.exitCode !== null) return r(); proc.on('exit', r); proc.kill('SIGTERM'); }) };
}

async function startStack() {
  const nats = await startNatsStrict();
  const s = await sim.startSim(['--seed', '1', '--tick-rate', '150']);
  const bridge = await startBridge({ natsUrl: nats.url, simPort: s.port,
    env: { IBB_QUOTE_ENCODING: 'both', IBB_REQUEST_TIMEOUT_MS: '4000' } });
  const nc = await bus.connect({ servers: nats.url });
  const st = {
    nats, bridge, nc,
    request: (subject, body, opts) => request(nc, subject, body, opts),
    simStats: () => sim.stats(s),
    async stop() {
      await nc.close();
      const code = await bridge.stop();
      await sim.stopSim(s);
      await nats.stop();
      if (code !== 0) throw new Error(`ib-bridge exited ${code}: ${bridge.log().slice(-3000)}`);
    },
  };
  await waitReady(nc);
  return st;
}

(async () => {
  const st = await startStack();
  const pid = st.bridge.proc.pid;
  const streams = {};
  const stuck = [];
  try {
    await run.step(`setup: ${SYMS.length} instruments streaming at ib-sim --tick-rate 150`, async () => {
      const r = await st.request('ib.rpc.subscribe', { symbols: SYMS, ttl_s: 300 });
      bus.assert(!r.error, JSON.stringify(r.data));
      for (const s of SYMS) streams[s] = collect(st.nc, `ib.quote.${s}`);
      await st.nc.flush();
      for (const s of SYMS) await streams[s].waitFor((e) => e.v.bid !== undefined, 8000, `${s} quote`);
    });

    let rate0 = 0;
    await run.step('baseline: publish rate with no slow consumer', async () => {
      const n0 = SYMS.reduce((a, s) => a + streams[s].events.length, 0);
      await bus.sleep(2000);
      const n1 = SYMS.reduce((a, s) => a + streams[s].events.length, 0);
      rate0 = (n1 - n0) / 2;
      console.log(`     ${rate0.toFixed(0)} quote events/s (x2 with the JSON mirror)`);
      bus.assert(rate0 > 200, `rate too low for a meaningful test: ${rate0}/s`);
    });

    await run.step(`${SLOW_CLIENTS} never-reading consumers: adapter unaffected, normal consumer sees every seq`, async () => {
      for (let i = 0; i < SLOW_CLIENTS; i++) stuck.push(await stuckClient(st.nats.port));
      const rss0 = rssKb(pid);
      const from = Object.fromEntries(SYMS.map((s) => [s, streams[s].events.length]));
      const t0 = Date.now();
      const lat = [];
      let next = t0 + 3000;
      while (Date.now() - t0 < LOAD_MS) {
        if (Date.now() >= next) { stuck.push(await stuckClient(st.nats.port)); next += 3000; } /* keep the pressure on */
        const a = Date.now();
        const s = await st.request('ib.rpc.status', {}, { timeout: 5000 });
        const ms = Date.now() - a;
        bus.assert(s.data && s.data.connected && s.data.nats.connected, 'status: ' + JSON.stringify(s.data));
        lat.push(ms);
        await bus.sleep(250);
      }
      const secs = (Date.now() - t0) / 1000;
      const rss1 = rssKb(pid);
      let events = 0;
      for (const s of SYMS) events += checkSeq(streams[s].events, from[s]) - 1;
      const rate = events / secs;
      const slowLogged = (st.nats.log().match(/[Ss]low [Cc]onsumer/g) || []).length;
      lat.sort((x, y) => x - y);
      const p50 = lat[Math.floor(lat.length / 2)], maxStatusMs = lat[lat.length - 1];
      console.log(`     ${events} events in ${secs.toFixed(1)} s (${rate.toFixed(0)}/s, baseline ${rate0.toFixed(0)}/s), ` +
        `seq consecutive on ${SYMS.length} subjects; status: ${lat.length} calls, p50 ${p50} ms, max ${maxStatusMs} ms; ` +
        `RSS ${rss0} -> ${rss1} kB; ${stuck.length} stuck clients, nats-server logged ${slowLogged} slow-consumer events`);
      bus.assert(rate > rate0 * 0.5, `publishing collapsed: ${rate.toFixed(0)}/s vs ${rate0.toFixed(0)}/s`);
      // nats-server itself stalls a producer (the adapter) for up to 1 s while a consumer's buffer is
      // full, before it cuts the consumer off; so single replies may take ~1 s, the typical one must not.
      bus.assert(p50 < 200, `ib.rpc.status p50 ${p50} ms`);
      bus.assert(maxStatusMs < 3000, `ib.rpc.status took ${maxStatusMs} ms`);
      bus.assert(rss1 - rss0 < 32 * 1024, `adapter RSS grew ${rss1 - rss0} kB`);
      bus.assert(slowLogged > 0,
        'the stuck clients were really stuck');
      const sim = await st.simStats();
      bus.eq(sim.ticks_dropped || 0, 0, 'ib-sim never had to drop ticks (the adapter kept reading IB)');
      const status = (await st.request('ib.rpc.status')).data;
      bus.eq(status.ib.stats.reconnects, 0, 'IB session never dropped');
    });

    await run.step('after the stuck clients go away: still streaming, no gap', async () => {
      for (const c of stuck) c.sock.destroy();
      const seq0 = Number(streams.AAPL.events[streams.AAPL.events.length - 1].v.seq);
      await streams.AAPL.waitFor((e) => Number(e.v.seq) > seq0 + 10, 5000, 'more AAPL quotes');
      for (const s of SYMS) checkSeq(streams[s].events);
    });
  } finally {
    for (const c of stuck) c.sock.destroy();
    for (const s of Object.keys(streams)) streams[s].stop();
    await run.step('ib-bridge stops cleanly', () => st.stop());
  }
  run.done();
})().catch((e) => { console.log('FAIL setup: ' + (e.stack || e)); console.log('faults.slow_consumer: 0 passed, 1 failed'); process.exit(1); });
