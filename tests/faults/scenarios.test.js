// scenarios.test.js — issue 8 fault scenarios on the real system (nats-server + ib-sim + ib-bridge):
//   1 gateway restart: reconnect with backoff, every transition on ib.evt.conn, requests during the
//     outage get ib_unavailable within 1 s, service back afterwards
//   3 nats-server restart: the IB session stays up, the adapter's endpoints come back
//   4 stalled gateway: detected within the keep-alive window, then reconnect
//   7 soak: SOAK_CYCLES (default 1000) drop/reconnect cycles in bounded time; RSS growth < 5 %,
//     no file-descriptor leak
// (Scenarios that need streaming quotes and orders live with those features' tests.)
'use strict';
const fs = require('fs');
const bus = require('../node/bus_lib');
const { startStack } = require('../node/stack');

const run = bus.runner('faults');
const SOAK_CYCLES = Number(process.env.SOAK_CYCLES || 1000);

// Collects ib.evt.conn events (JSON mirror) from a NATS connection.
function watchConn(nc, prefix = 'ib') {
  const events = [];
  const sub = nc.subscribe(`${prefix}.json.evt.conn`);
  (async () => { for await (const m of sub) events.push(JSON.parse(Buffer.from(m.data).toString())); })();
  return {
    events,
    async waitFor(pred, ms, what) {
      const until = Date.now() + ms;
      while (Date.now() < until) {
        const e = events.find(pred);
        if (e) return e;
        await bus.sleep(10);
      }
      throw new Error(`no ${what} within ${ms} ms; saw ${JSON.stringify(events.map((e) => `${e.source}:${e.event}`))}`);
    },
    clear() { events.length = 0; },
    stop() { sub.unsubscribe(); },
  };
}

function procStats(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const rss = Number(/VmRSS:\s+(\d+)/.exec(status)[1]);
  const fds = fs.readdirSync(`/proc/${pid}/fd`).length;
  return { rss, fds };
}

(async () => {
  // ---- 1: gateway restart -------------------------------------------------------------------------
  let st = await startStack({ bridgeEnv: { IBB_BACKOFF_MIN_MS: '200', IBB_BACKOFF_MAX_MS: '2000' } });
  let conn = watchConn(st.nc);
  await st.nc.flush();
  await run.step('1 gateway restart: clear ib_unavailable within 1 s during the outage', async () => {
    bus.eq((await st.request('ib.rpc.contract', { symbol: 'AAPL' })).data.count, 1, 'works before');
    const lease = await st.request('ib.rpc.subscribe', { symbols: ['AAPL'], ttl_s: 120 });
    bus.assert(!lease.error, 'lease: ' + JSON.stringify(lease.data));
    for (let i = 0; i < 50 && (await st.request('ib.rpc.quote', { symbol: 'AAPL' })).data.source !== 'stream'; i++)
      await bus.sleep(100);
    await st.simControl('restart 4');
    await conn.waitFor((e) => e.source === 'ib' && e.state === 'down', 3000, 'ib down event');
    const t0 = Date.now();
    const r = await st.request('ib.rpc.contract', { symbol: 'NVDA' }); /* needs IB: not cached */
    const ms = Date.now() - t0;
    bus.eq(r.error && r.error.code, 'ib_unavailable', 'error code');
    bus.eq(r.status, 503, 'service error header');
    bus.assert(ms < 1000, `answered in ${ms} ms`);
    const t1 = Date.now();
    const q = await st.request('ib.rpc.quote', { symbol: 'AAPL' });
    bus.eq(q.error && q.error.code, 'ib_unavailable', 'a streamed quote is not served stale while IB is down');
    bus.assert(Date.now() - t1 < 1000, 'answered at once');
    const cached = await st.request('ib.rpc.contract', { symbol: 'AAPL' });
    bus.eq(cached.data.count, 1, 'a contract already known is answered from the cache without IB');
  });
  await run.step('1 gateway restart: reconnect with backoff, each transition published, service back', async () => {
    const ready = await conn.waitFor((e) => e.source === 'ib' && e.event === 'ready', 15000, 'ib ready event');
    bus.eq(ready.server_version, 176, 'server version in the ready event');
    const kinds = conn.events.filter((e) => e.source === 'ib').map((e) => e.event);
    bus.assert(kinds.includes('backoff') && kinds.includes('connecting') && kinds.includes('handshaking'),
      'transitions: ' + kinds.join(','));
    const backoffs = kinds.filter((k) => k === 'backoff').length;
    bus.assert(backoffs >= 2, `several attempts while the gateway was away (${backoffs})`);
    bus.eq((await st.request('ib.rpc.contract', { symbol: 'MSFT' })).data.count, 1, 'works after');
    const status = (await st.request('ib.rpc.status')).data;
    bus.assert(status.ib.stats.reconnects >= 2, 'reconnects counted: ' + status.ib.stats.reconnects);
  });

  // ---- 3: nats-server restart ----------------------------------------------------------------------
  await run.step('3 nats-server restart: the IB session stays up, the endpoints come back', async () => {
    const before = await st.simStats();
    const port = st.nats.port, dir = st.nats.dir;
    await st.nc.close();
    await st.nats.stop();
    await bus.sleep(500);
    st.nats = await bus.startNats({ port, dir });
    st.nc = await bus.connect({ servers: st.nats.url });
    const status = await st.waitReady(15000);
    bus.assert(status.nats.connected, 'the adapter reconnected to NATS');
    const after = await st.simStats();
    bus.eq(after.connections_total, before.connections_total, 'no new IB connection: the session stayed up');
    bus.eq((await st.request('ib.rpc.contract', { symbol: 'AAPL' })).data.count, 1, 'requests served again');
  });
  await st.stop();

  // ---- 4: stalled gateway ----------------------------------------------------------------------------
  st = await startStack({ bridgeEnv: { IBB_KEEPALIVE_IDLE_MS: '300', IBB_STALL_TIMEOUT_MS: '1200',
    IBB_BACKOFF_MIN_MS: '100', IBB_BACKOFF_MAX_MS: '500' } });
  conn = watchConn(st.nc);
  await st.nc.flush();
  await run.step('4 stalled gateway: detected within the keep-alive window, then reconnect', async () => {
    const t0 = Date.now();
    await st.simControl('stall 4');
    const down = await conn.waitFor((e) => e.source === 'ib' && e.state === 'down', 5000, 'stall detection');
    const ms = Date.now() - t0;
    bus.assert(ms <= 300 + 1200 + 1000, `stall detected after ${ms} ms`);
    bus.assert(/stall|nothing|silen/i.test(down.message || ''), 'the reason says stall: ' + down.message);
    await conn.waitFor((e) => e.source === 'ib' && e.event === 'ready' && e.ts_ns > down.ts_ns, 15000, 'ready again');
    const status = (await st.request('ib.rpc.status')).data;
    bus.assert(status.ib.stats.stalls >= 1, 'stalls counted');
  });
  await st.stop();

  // ---- 7: soak ----------------------------------------------------------------------------------------
  st = await startStack({ bridgeEnv: { IBB_BACKOFF_MIN_MS: '10', IBB_BACKOFF_MAX_MS: '20',
    ASAN_OPTIONS: `${process.env.ASAN_OPTIONS || ''}:quarantine_size_mb=1:thread_local_quarantine_size_kb=64` } });
  conn = watchConn(st.nc);
  await st.nc.flush();
  await run.step(`7 soak: ${SOAK_CYCLES} gateway drops, RSS growth < 5 %, no fd leak`, async () => {
    const pid = st.bridge.proc.pid;
    const t0 = Date.now();
    let base = null;
    for (let i = 0; i < SOAK_CYCLES; i++) {
      conn.clear();
      await st.simControl('drop');
      await conn.waitFor((e) => e.source === 'ib' && e.event === 'ready', 10000, `ready after drop ${i}`);
      if (i === Math.min(99, SOAK_CYCLES - 1)) base = procStats(pid); /* after warm-up */
      if (Date.now() - t0 > 240000) throw new Error(`only ${i} cycles in 240 s`);
    }
    await bus.sleep(200);
    const end = procStats(pid);
    const secs = (Date.now() - t0) / 1000;
    console.log(`soak: ${SOAK_CYCLES} cycles in ${secs.toFixed(1)} s; RSS ${base.rss} -> ${end.rss} kB; fds ${base.fds} -> ${end.fds}`);
    bus.assert(end.rss <= base.rss * 1.05, `RSS grew ${(100 * (end.rss / base.rss - 1)).toFixed(1)} %`);
    bus.assert(end.fds <= base.fds, `fds ${base.fds} -> ${end.fds}`);
    const status = (await st.request('ib.rpc.status')).data;
    bus.assert(status.connected && status.ib.stats.reconnects >= SOAK_CYCLES, 'every cycle reconnected');
  });
  await st.stop();
  run.done();
})().catch((e) => { console.log('FAIL setup: ' + (e.stack || e)); console.log('faults: 0 passed, 1 failed'); process.exit(1); });
