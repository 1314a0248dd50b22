// failover.test.js — issue 13, the hot standby on real processes (nats-server with JetStream, ib-sim,
// two ib-bridges with IBB_HA=true, over TCP):
//   - two bridges started at once: exactly one active, every time (20 tries, a fresh prefix each);
//   - SIGKILL of the active while a consumer holds a lease on AAPL and orders flow: the standby takes over,
//     quotes resume on ib.quote.AAPL without a new subscribe (leases live in KV, same lease id), a retry of
//     an order placed just before the kill returns the same order, ib-sim holds one order per
//     client_order_id;
//   - SIGTERM of the active hands over at once (the lease is deleted, no expiry wait);
//   - SIGSTOP of the active past the lease: the standby takes over; after SIGCONT the old process writes
//     nothing more to ib-sim (ib-sim's per-connection counters) and nothing with its epoch reaches the
//     order stream after the takeover;
//   - a lease naming another IB session is refused (logged) and never taken over.
'use strict';
const bus = require('../node/bus_lib');
const sim = require('../node/sim_lib');
const { startBridge, request, SANITIZER_RE } = require('../node/stack');
const { streamEvents, waitFor } = require('../node/orders_lib');

const run = bus.runner('ha.failover');
const LEASE_MS = 1500;
const HA = { IBB_HA: 'true', IBB_HA_LEASE_MS: String(LEASE_MS), IBB_HA_RENEW_MS: '500', IB_CLIENT_ID: '21' };

// Every instance answering $SRV.PING.ib-bridge within ms: [{id, role}].
async function pingAll(nc, ms = 400) {
  const inbox = `_INBOX.ping.${Date.now()}.${Math.random().toString(36).slice(2)}`;
  const sub = nc.subscribe(inbox);
  const out = [];
  const done = (async () => { for await (const m of sub) out.push(JSON.parse(Buffer.from(m.data).toString())); })();
  nc.publish('$SRV.PING.ib-bridge', new Uint8Array(0), { reply: inbox });
  await bus.sleep(ms);
  sub.unsubscribe();
  await done;
  return out.map((p) => ({ id: p.id, role: p.metadata && p.metadata.role }));
}

async function status(nc, prefix = 'ib', timeout = 1000) {
  try { return (await request(nc, `${prefix}.rpc.status`, {}, { timeout })).data; } catch (_) { return null; }
}

// Waits until the active instance of prefix reports IB connected; returns its status.
async function waitActive(nc, prefix = 'ib', ms = 20000) {
  return waitFor(`an active ${prefix} bridge connected to IB`, async () => {
    const s = await status(nc, prefix, 800);
    return s && s.ha && s.ha.role === 'active' && s.connected && s.orders_ready !== false ? s : null;
  }, ms, 100);
}

function byInstance(bridges, id) { return bridges.find((b) => b.log().includes(`instance=${id}`)); }

(async () => {
  const nats = await bus.startNats();
  const s = await sim.startSim(['--seed', '1', '--tick-rate', '20']);
  const nc = await bus.connect({ servers: nats.url });
  const all = []; // every bridge started: none may report a sanitizer finding, whatever way it ended
  const start = async (env = {}) => {
    const b = await startBridge({ natsUrl: nats.url, simPort: s.port, env: { ...HA, ...env } });
    all.push(b);
    return b;
  };
  let bridges = [];
  const stopAll = async () => { await Promise.all(bridges.map((b) => b.stop('SIGKILL').catch(() => {}))); bridges = []; };

  try {
    await run.step('two bridges started at once: exactly one active, 20 times out of 20', async () => {
      for (let i = 0; i < 20; i++) {
        const prefix = `t${i}`;
        bridges = await Promise.all([start({ IBB_SUBJECT_PREFIX: prefix }), start({ IBB_SUBJECT_PREFIX: prefix })]);
        const st = await waitActive(nc, prefix, 15000);
        await bus.sleep(300);
        const roles = await pingAll(nc);
        bus.eq(roles.length, 2, `try ${i}: both instances answer $SRV.PING`);
        bus.eq(roles.filter((r) => r.role === 'active').length, 1, `try ${i}: one active ${JSON.stringify(roles)}`);
        bus.eq(roles.filter((r) => r.role === 'standby').length, 1, `try ${i}: one standby`);
        bus.eq(roles.find((r) => r.role === 'active').id, st.ha.instance, `try ${i}: status names the active`);
        const actives = bridges.filter((b) => /ha\.active/.test(b.log()));
        bus.eq(actives.length, 1, `try ${i}: one "ha.active" log line among both`);
        await stopAll();
      }
    });

    bridges = [await start(), await start()];
    const first = await waitActive(nc);
    bus.assert(first.ha.epoch > 0, 'the active reports its epoch');

    await run.step('SIGKILL of the active while orders flow: the standby takes over, retries return the same orders', async () => {
      const active = byInstance(bridges, first.ha.instance);
      const placed = new Map();
      const place = async (id, timeout = 2000) => {
        const body = { client_order_id: id, symbol: 'AAPL', side: 'BUY', qty: 1, type: 'LMT', limit_price: 1 };
        const r = await request(nc, 'ib.rpc.order.place', body, { timeout });
        return r.data && r.data.order_id;
      };
      const lease = (await request(nc, 'ib.rpc.subscribe', { symbols: ['AAPL'], ttl_s: 60 })).data;
      bus.assert(lease.lease_id, 'a consumer holds a lease on AAPL: ' + JSON.stringify(lease));
      const quotes = [];
      const qsub = nc.subscribe('ib.quote.AAPL');
      (async () => { for await (const m of qsub) quotes.push({ t: Date.now(), epoch: Number(m.headers && m.headers.get('Ibb-Epoch')) }); })();
      await waitFor('quotes on ib.quote.AAPL', async () => quotes.length > 0, 10000);
      for (let k = 0; k < 5; k++) placed.set(`kill-${k}`, await place(`kill-${k}`));
      // the standby reloads the active's resolved contracts every 3 s (adapter/bridge/br_ha.c)
      await waitFor('the standby has loaded the resolved contracts', async () =>
        /ha\.contracts_loaded new=1 /.test(bridges.find((b) => b !== active).log()), 10000, 200);
      const lookupsBefore = (await sim.stats(s)).requests.reqContractDetails || 0;
      // one more in flight at the moment of the kill
      const inflight = place('kill-last', 1500).catch(() => null);
      active.proc.kill('SIGKILL');
      const t0 = Date.now();
      await inflight;
      const st = await waitActive(nc, 'ib', 15000);
      const took = Date.now() - t0;
      bus.assert(st.ha.instance !== first.ha.instance, 'another instance is active');
      bus.assert(st.ha.epoch > first.ha.epoch, `a newer epoch (${st.ha.epoch} > ${first.ha.epoch})`);
      bus.assert(took <= 2 * LEASE_MS + 3000, `takeover + IB ready in ${took} ms`);
      console.log(`     takeover after SIGKILL: ${took} ms (lease ${LEASE_MS} ms)`);
      let last;
      for (let i = 0; i < 20 && !last; i++) { try { last = await place('kill-last', 3000); } catch (_) { await bus.sleep(200); } }
      bus.assert(last > 0, 'the order in flight at the kill is placed (or found) by the new active');
      for (const [id, oid] of placed) bus.eq(await place(id, 5000), oid, `retry of ${id} returns the same order`);
      const q = await waitFor('quotes from the new active on ib.quote.AAPL (no new subscribe)',
        async () => quotes.find((x) => x.epoch === st.ha.epoch), 15000, 100);
      console.log(`     quotes flowing again ${q.t - t0} ms after the kill`);
      bus.assert(quotes.every((x) => x.epoch > 0), 'every quote carries Ibb-Epoch');
      qsub.unsubscribe();
      const renewed = (await request(nc, 'ib.rpc.subscribe', { symbols: ['AAPL'], ttl_s: 60, lease_id: lease.lease_id })).data;
      bus.eq(renewed.lease_id, lease.lease_id, 'the consumer\'s lease id is known to the new active: ' + JSON.stringify(renewed));
      const simSt = await sim.stats(s);
      bus.eq(simSt.requests.reqContractDetails || 0, lookupsBefore, 'the new active asked IB for no contract (its cache was warm)');
      bus.eq(simSt.requests.placeOrder, 6, 'ib-sim got one placeOrder per client_order_id');
      bus.eq(simSt.orders, 6, 'ib-sim holds 6 orders');
      first.ha = st.ha;
    });

    await run.step('SIGTERM of the active hands the lease over at once (no expiry wait)', async () => {
      bridges = bridges.filter((b) => b.proc.exitCode === null && !b.proc.signalCode);
      bridges.push(await start());
      await bus.sleep(1000); // the new one is a standby
      const cur = await waitActive(nc);
      const active = byInstance(bridges, cur.ha.instance);
      const t0 = Date.now();
      const code = await active.stop('SIGTERM');
      bus.eq(code, 0, 'the active exits 0');
      const st = await waitActive(nc, 'ib', 10000);
      const took = Date.now() - t0;
      bus.assert(st.ha.instance !== cur.ha.instance, 'the other instance is active');
      bus.assert(took < LEASE_MS + 1500, `handover in ${took} ms, well under expiry`);
      console.log(`     handover after SIGTERM: ${took} ms`);
      bus.assert(/graceful stop: lease released/.test(active.log()), 'the old active logged the release');
    });

    await run.step('SIGSTOP past the lease, takeover, SIGCONT: nothing from the old process reaches IB or the stream', async () => {
      bridges = bridges.filter((b) => b.proc.exitCode === null && !b.proc.signalCode);
      bridges.push(await start());
      await bus.sleep(1000);
      const cur = await waitActive(nc);
      const old = byInstance(bridges, cur.ha.instance);
      const before = await sim.stats(s);
      const conn = before.conns.filter((c) => c.client_id === 21 && !c.closed_ms).pop();
      bus.assert(conn, 'the active\'s IB connection is listed by ib-sim');
      old.proc.kill('SIGSTOP');
      const paused = await sim.stats(s);
      const msgsAtPause = paused.conns.find((c) => c.serial === conn.serial).msgs;
      // the standby takes the lease; IB still holds the paused one's socket (326) until it wakes up
      const took = await waitFor('the standby active', async () => {
        const x = await status(nc, 'ib', 500); // a paused process still holds its queue subscriptions: retry
        return x && x.ha.role === 'active' && x.ha.instance !== cur.ha.instance ? x : null;
      }, 20000, 100);
      const seqAtWake = (await streamEvents(nc)).length;
      old.proc.kill('SIGCONT');
      await waitFor('the old process logs that it is standby', async () => /ha\.standby.*lease (lost|not renewed)/.test(old.log()), 10000);
      const st = await waitActive(nc, 'ib', 20000);
      bus.eq(st.ha.instance, took.ha.instance, 'the instance that took over is connected to IB');
      const r = await request(nc, 'ib.rpc.order.place',
        { client_order_id: 'stop-1', symbol: 'AAPL', side: 'BUY', qty: 1, type: 'LMT', limit_price: 1 }, { timeout: 5000 });
      bus.assert(r.data.order_id > 0, 'the new active places orders: ' + JSON.stringify(r.data));
      await bus.sleep(1000);
      const after = await sim.stats(s);
      const h = after.conns.find((c) => c.serial === conn.serial);
      bus.eq(h.msgs, msgsAtPause, 'ib-sim counted no request on the old connection after the pause');
      bus.assert(h.closed_ms > 0, 'the old connection is closed');
      const afterWake = old.log().slice(old.log().lastIndexOf('ha.standby'));
      bus.assert(!/ib\.connecting/.test(afterWake), 'the old process did not connect to IB again');
      const evs = (await streamEvents(nc)).slice(seqAtWake);
      bus.assert(evs.length > 0, 'events after the takeover are in the stream');
      const jsm = await nc.jetstreamManager();
      for (const e of evs) {
        const m = await jsm.streams.getMessage('IB_ORDERS', { seq: e.seq });
        const ep = Number(m.header && m.header.get('Ibb-Epoch'));
        bus.assert(ep >= st.ha.epoch, `event ${e.id} after the takeover has epoch ${ep}, not the old ${cur.ha.epoch}`);
      }
      const still = await status(nc);
      bus.eq(still.ha.instance, st.ha.instance, 'the new active stays active');
      // the old one went active -> standby: it still shuts down cleanly (exit 0; no leak under ASan)
      bus.eq(await old.stop('SIGTERM'), 0, 'the fenced old active exits 0 on SIGTERM');
      bus.assert(!/graceful stop: lease released/.test(old.log()), 'a standby has no lease to release');
    });

    await run.step('every reply and event carries Ibb-Epoch of the active', async () => {
      const st = await waitActive(nc);
      const r = await request(nc, 'ib.rpc.status', {});
      bus.eq(Number(r.headers.get('Ibb-Epoch')), st.ha.epoch, 'reply header');
      const sub = nc.subscribe('ib.evt.order.>', { max: 1 });
      const got = (async () => { for await (const m of sub) return m; })();
      await request(nc, 'ib.rpc.order.place',
        { client_order_id: 'epoch-1', symbol: 'AAPL', side: 'BUY', qty: 1, type: 'LMT', limit_price: 1 });
      const m = await Promise.race([got, bus.sleep(5000).then(() => null)]);
      bus.assert(m, 'an order event arrived');
      bus.eq(Number(m.headers.get('Ibb-Epoch')), st.ha.epoch, 'event header');
    });

    await run.step('a lease naming another IB session is refused and never taken over', async () => {
      await stopAll();
      const js = nc.jetstream();
      const kv = await js.views.kv('x_leader');
      await kv.put('leader', JSON.stringify({ instance: 'other', ib_host: '10.9.9.9', ib_port: 4002, client_id: 21 }));
      const b = await start({ IBB_SUBJECT_PREFIX: 'x' });
      bridges = [b];
      await bus.sleep(LEASE_MS * 2 + 1000);
      bus.assert(/lease\.refused .*another IB session/.test(b.log()), 'logged: ' + b.log().slice(-1500));
      bus.assert(!/ha\.active/.test(b.log()), 'never became active');
      await kv.put('leader', 'not json');
      await bus.sleep(LEASE_MS * 2 + 1000);
      bus.assert(/lease\.refused .*does not parse/.test(b.log()), 'unparseable value logged');
      bus.assert(!/ha\.active/.test(b.log()), 'still never active');
    });
    await run.step('nats.js_replicas = 3 against a single server: never silently R1 (start refused, naming the stream)', async () => {
      await stopAll();
      const b = await start({ IBB_HA: 'false', IBB_JS_REPLICAS: '3' });
      bridges = [b];
      const code = await waitFor('the bridge to exit', async () => (b.proc.exitCode !== null ? b.proc.exitCode : null), 15000);
      bus.eq(code, 1, 'exit code 1');
      bus.assert(/bridge\.start_refused what=order_store reason=".*stream IB_ORDERS cannot have 3 replicas: the NATS server is not part of a JetStream cluster/.test(b.log()),
        'the refusal names the stream: ' + b.log().split('\n').filter((l) => /ERROR/.test(l)).join('\n'));
      bus.eq((await b.stop('SIGTERM')), 1, 'exit code kept');
      bridges = [];
    });

    await run.step('no sanitizer report from any of the bridges started', async () => {
      await stopAll();
      const bad = all.filter((b) => SANITIZER_RE.test(b.log()));
      bus.eq(bad.length, 0, `bridges with a report: ${bad.map((b) => b.log().slice(-3000)).join('\n----\n')}`);
    });
  } finally {
    await stopAll();
    await nc.close().catch(() => {});
    await sim.stopSim(s);
    await nats.stop();
  }
  run.done();
})().catch((e) => { console.error(e); process.exit(1); });
