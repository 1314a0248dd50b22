// cluster.test.js — issue 13, the NATS cluster: nats/cluster/n{1,2,3}.conf run as a real three-node
// cluster (free ports); ib-bridge with NATS_URL listing all three and IBB_JS_REPLICAS=3 creates its
// streams and buckets with three replicas, raises an existing R1 stream to R3, and keeps serving orders
// (none lost or doubled in the stream) while each nats-server in turn is killed and restarted (and
// ib-bridge-http, given the same list, keeps answering REST requests); without
// quorum an order is refused (unavailable, with the reason) and never reaches IB.
'use strict';
const fs = require('fs');
const path = require('path');
const bus = require('../node/bus_lib');
const sim = require('../node/sim_lib');
const { startBridge, request, waitReady } = require('../node/stack');
const { startCluster, PW } = require('../node/cluster_lib');
const { streamEvents, waitFor } = require('../node/orders_lib');
const http = require('../node/http_harness');

const run = bus.runner('ha.cluster');

function accountsOf(text) { return text.slice(text.indexOf('accounts {')); }

(async () => {
  await run.step('nats/cluster/n1..n3 carry the accounts and permissions of nats/nats-server.conf', async () => {
    const want = accountsOf(fs.readFileSync(path.join(bus.ROOT, 'nats', 'nats-server.conf'), 'utf8'));
    for (const i of [1, 2, 3]) {
      const t = fs.readFileSync(path.join(bus.ROOT, 'nats', 'cluster', `n${i}.conf`), 'utf8');
      bus.eq(accountsOf(t), want, `n${i}.conf accounts block`);
      bus.assert(t.includes(`listen: 127.0.0.1:${4221 + i}`), `n${i} listens on ${4221 + i}`);
      bus.assert(/store_dir: "\.run\/cluster\/n\d"/.test(t), `n${i} has its own store`);
    }
  });

  const cl = await startCluster();
  await cl.waitJetStream();
  const s = await sim.startSim(['--seed', '1']);
  const env = { NATS_USER: 'adapter', NATS_PASSWORD: PW.adapter, IB_CLIENT_ID: '7',
    IBB_MAX_ORDERS_PER_MINUTE: '10000' }; // the steps place well over 60 orders a minute on a fast run
  let bridge = await startBridge({ natsUrl: cl.url, simPort: s.port, env: { ...env, IBB_JS_REPLICAS: '1' } });
  const nc = await bus.connect({ servers: cl.url, user: 'operator', pass: PW.operator, maxReconnectAttempts: -1,
    reconnectTimeWait: 200 });
  const jsm = await nc.jetstreamManager();
  const gw = await http.startGateway(cl.url, { NATS_USER: 'http', NATS_PASSWORD: PW.http });
  const httpQuote = async () => waitFor('ib-bridge-http answers GET /quotes/AAPL', async () => {
    const r = await http.curl(`${gw.base}/quotes/AAPL`, { timeout: 5 });
    return r.status === 200 && r.json && r.json.key === 'AAPL';
  }, 20000, 200);
  let placed = 0;
  const place = async (id) => {
    const body = { client_order_id: id, symbol: 'AAPL', side: 'BUY', qty: 1, type: 'LMT', limit_price: 1 };
    let r;
    for (const until = Date.now() + 45000; Date.now() < until;) { // a restarted cluster elects stream leaders first
      try { r = await request(nc, 'ib.rpc.order.place', body, { timeout: 3000 }); } catch (e) { r = { failed: String(e) }; }
      if (r.data && r.data.order_id) return r.data.order_id;
      await bus.sleep(250);
    }
    throw new Error(`order ${id} never placed; last answer ${JSON.stringify(r.data || r.failed)}`);
  };

  try {
    await run.step('an R1 bridge starts on the cluster; restarted with IBB_JS_REPLICAS=3 it raises streams to R3', async () => {
      await waitReady(nc, 'ib', 30000);
      bus.eq((await jsm.streams.info('IB_ORDERS')).config.num_replicas, 1, 'IB_ORDERS replicas at start');
      await waitFor('the last-value quote bucket', async () => jsm.streams.info('KV_ib_quotes').then(() => true, () => false), 20000);
      bus.eq((await jsm.streams.info('KV_ib_quotes')).config.num_replicas, 1, 'KV_ib_quotes replicas at start');
      await bridge.stop();
      bridge = await startBridge({ natsUrl: cl.url, simPort: s.port, env: { ...env, IBB_JS_REPLICAS: '3' } });
      await waitReady(nc, 'ib', 30000);
      await waitFor('IB_ORDERS, the idempotency bucket and the quote bucket at R3', async () => {
        const a = await jsm.streams.info('IB_ORDERS');
        const b = await jsm.streams.info('KV_ib_orders_idem');
        const q = await jsm.streams.info('KV_ib_quotes');
        return a.config.num_replicas === 3 && b.config.num_replicas === 3 && q.config.num_replicas === 3;
      }, 20000);
      bus.assert(/js\.replicas_raised stream=IB_ORDERS from=1 to=3/.test(bridge.log()), 'the raise is logged');
    });

    await run.step('orders flow while each nats-server in turn is killed and restarted: none lost or doubled', async () => {
      const ids = [];
      for (let node = 0; node < 3; node++) {
        for (let k = 0; k < 3; k++) { const id = `cl-${node}-${k}`; ids.push([id, await place(id)]); placed++; }
        await cl.kill(node);
        for (let k = 3; k < 6; k++) { const id = `cl-${node}-${k}`; ids.push([id, await place(id)]); placed++; }
        await httpQuote(); // ib-bridge-http too moved to a live server
        await cl.restart(node);
        await cl.waitJetStream();
      }
      // a retry of every order answers the same order id
      for (const [id, oid] of ids) bus.eq(await place(id), oid, `retry of ${id}`);
      const st = await sim.stats(s);
      bus.eq(st.requests.placeOrder, placed, 'ib-sim got one placeOrder per client_order_id');
      let got = [];
      try {
        await waitFor('a "submitted" event per order in the stream', async () => {
          got = (await streamEvents(nc)).filter((e) => e.data.type === 'submitted');
          return got.length >= placed;
        }, 20000);
      } catch (e) {
        const have = new Set(got.map((x) => x.data.client_order_id));
        const info = await jsm.streams.info('IB_ORDERS');
        throw new Error(`${e.message}: ${got.length}/${placed}; missing ${ids.filter(([id]) => !have.has(id)).map(([id, o]) => `${id}=${o}`)}; ` +
          `stream state ${JSON.stringify(info.state)}\n${bridge.log().split('\n').filter((l) => /WARN|ERROR|js\./.test(l)).slice(-25).join('\n')}`);
      }
      const evs = await streamEvents(nc);
      const ids2 = new Set();
      for (const e of evs) { bus.assert(!ids2.has(e.id), `message id ${e.id} twice in the stream`); ids2.add(e.id); }
      const sub = evs.filter((e) => e.data.type === 'submitted');
      bus.eq(sub.length, placed, 'one submitted event per order');
    });
    await run.step('a cluster without quorum: orders are refused with unavailable and the reason, none reaches IB', async () => {
      const before = (await sim.stats(s)).requests.placeOrder;
      const nc1 = await bus.connect({ servers: cl.urlOf(0), user: 'trader', pass: PW.trader });
      await cl.kill(1);
      await cl.kill(2);
      let r;
      try {
        for (const until = Date.now() + 15000; Date.now() < until;) {
          try {
            r = await request(nc1, 'ib.rpc.order.place',
              { client_order_id: 'noquorum-1', symbol: 'AAPL', side: 'BUY', qty: 1, type: 'LMT', limit_price: 1 }, { timeout: 8000 });
            break;
          } catch (e) { // 503 no responders: the bridge is still moving to the surviving server
            r = { data: { failed: String(e) } };
            await bus.sleep(200);
          }
        }
        bus.eq(r.error && r.error.code, 'unavailable', 'refused: ' + JSON.stringify(r.data));
        bus.assert(r.error.message.length > 0, 'with the reason');
        bus.eq((await sim.stats(s)).requests.placeOrder, before, 'nothing sent to IB');
      } finally {
        await nc1.close();
        await cl.restart(1);
        await cl.restart(2);
        await cl.waitJetStream();
      }
      bus.assert((await place('noquorum-1')) > 0, 'placed once the quorum is back');
    });
    await run.step('HA on the cluster: an active that loses the quorum fences itself and stands by; one is active again after', async () => {
      await bridge.stop(); // the HA pair takes over prefix ib (the adapter user's permissions name it)
      const haEnv = { ...env, IB_CLIENT_ID: '8', IBB_HA: 'true', IBB_JS_REPLICAS: '3',
        IBB_HA_LEASE_MS: '1500', IBB_HA_RENEW_MS: '500' };
      const hb = [await startBridge({ natsUrl: cl.url, simPort: s.port, env: haEnv }),
        await startBridge({ natsUrl: cl.url, simPort: s.port, env: haEnv })];
      try {
        const st = await waitFor('an HA bridge active', async () => {
          try { const r = await request(nc, 'ib.rpc.status', {}, { timeout: 800 }); return r.data.connected && r.data.ha.enabled && r.data; } catch (_) { return null; }
        }, 30000);
        const active = hb.find((b) => b.log().includes(`ha.active instance=${st.ha.instance}`));
        bus.assert(active, 'the active is one of the two');
        const inst = await waitFor('ib-bridge-http lists both instances', async () => {
          const r = await http.curl(`${gw.base}/status`, { timeout: 5 });
          const l = r.json && r.json.instances;
          return l && l.length === 2 && l.some((x) => x.role === 'active') && l.some((x) => x.role === 'standby') ? l : null;
        }, 10000, 250);
        const a = inst.find((x) => x.role === 'active');
        bus.eq(a.instance, st.ha.instance, 'the active one is the one answering ib.rpc.status');
        bus.eq(a.epoch, st.ha.epoch, 'with its epoch');
        const m = (await http.curl(`${gw.base}/metrics`, { timeout: 5 })).body;
        bus.assert(/^ibb_ha_instances 2$/m.test(m), 'ibb_ha_instances 2');
        bus.assert(new RegExp(`^ibb_ha_instance_epoch\\{instance="${st.ha.instance}",role="active"\\} ${st.ha.epoch}$`, 'm').test(m), 'the active\'s epoch in /metrics');
        const t0 = Date.now();
        await cl.kill(1);
        await cl.kill(2);
        await waitFor('the active stands by', async () => /ha\.standby .*lease not renewed in time/.test(active.log()), 10000, 50);
        const took = Date.now() - t0;
        bus.assert(took < 1500 + 1500, `fenced and standby ${took} ms after the quorum went (lease 1500 ms)`);
        console.log(`     active stood by ${took} ms after losing the quorum`);
        bus.assert(!hb.some((b) => b !== active && /ha\.active/.test(b.log())), 'nobody is active without quorum');
        await cl.restart(1);
        await cl.restart(2);
        await cl.waitJetStream();
        await waitFor('an HA bridge active again', async () => {
          try { const r = await request(nc, 'ib.rpc.status', {}, { timeout: 800 }); return r.data.connected && r.data.ha.enabled && r.data; } catch (_) { return null; }
        }, 30000);
        bus.assert(await place('after-quorum-1') > 0, 'orders placed again');
      } finally {
        await Promise.all(hb.map((b) => b.stop('SIGKILL')));
      }
    });
  } finally {
    await http.stop(gw.proc).catch(() => {});
    await nc.close().catch(() => {});
    const code = await bridge.stop();
    if (code !== 0) console.log(`ib-bridge exited ${code}:\n${bridge.log().slice(-3000)}`);
    await sim.stopSim(s);
    await cl.stop();
  }
  run.done();
})().catch((e) => { console.error(e); process.exit(1); });
