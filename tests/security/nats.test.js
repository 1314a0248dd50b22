// nats.test.js — issue 8 "Security": NATS itself enforces who may do what (nats/nats-server.conf),
// the adapter talks TLS to NATS with a CA this test creates, and secrets never leak.
// Real parts only: nats-server with the repository's config, ib-sim, ib-bridge as the `adapter` user.
'use strict';
const { execFileSync, spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const bus = require('../node/bus_lib');
const sim = require('../node/sim_lib');
const { startBridge, request, waitReady } = require('../node/stack');

const ROOT = bus.ROOT;
const PW = { adapter: 'ad-' + process.pid, http: 'ht-' + process.pid, reader: 'rd-' + process.pid,
  trader: 'tr-' + process.pid, operator: 'op-' + process.pid };
const run = bus.runner('security');

async function startNatsConf(conf, port, env = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ibb-sec-js-'));
  const proc = spawn('nats-server', ['-c', conf, '-a', '127.0.0.1', '-p', String(port), '-sd', dir],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
  let log = '';
  proc.stderr.on('data', (d) => { log += d; });
  for (let i = 0; i < 100 && !/Server is ready/.test(log); i++) await bus.sleep(100);
  if (!/Server is ready/.test(log)) throw new Error('nats-server did not start:\n' + log);
  return { proc, log: () => log, stop: () => new Promise((r) => { proc.on('exit', r); proc.kill('SIGKILL'); }) };
}

const passEnv = {
  IBB_NATS_ADAPTER_PASSWORD: PW.adapter, IBB_NATS_HTTP_PASSWORD: PW.http, IBB_NATS_READER_PASSWORD: PW.reader,
  IBB_NATS_TRADER_PASSWORD: PW.trader, IBB_NATS_OPERATOR_PASSWORD: PW.operator,
};

// Resolves 'violation' when the server refuses the publish, else the decoded reply (or 'no_responders').
async function tryRequest(nc, subject, body = {}) {
  try {
    return await request(nc, subject, body, { timeout: 3000 });
  } catch (e) {
    if (e.code === 'PERMISSIONS_VIOLATION') return 'violation';
    if (e.code === '503') return 'no_responders';
    throw e;
  }
}

async function trySubscribe(nc, subject) {
  const sub = nc.subscribe(subject);
  const result = (async () => {
    try { for await (const _ of sub) { /* nothing expected */ } return 'ended'; } catch (e) { return e.code; }
  })();
  await nc.flush();
  const r = await Promise.race([result, bus.sleep(1500).then(() => 'allowed')]);
  if (r === 'allowed') sub.unsubscribe();
  return r === 'PERMISSIONS_VIOLATION' ? 'violation' : r;
}

(async () => {
  const natsPort = await bus.freePort();
  const nats = await startNatsConf(path.join(ROOT, 'nats', 'nats-server.conf'), natsPort, passEnv);
  const url = `nats://127.0.0.1:${natsPort}`;
  const s = await sim.startSim(['--seed', '1']);
  const bridge = await startBridge({ natsUrl: url, simPort: s.port, env: { NATS_USER: 'adapter', NATS_PASSWORD: PW.adapter } });
  const as = async (user) => bus.connect({ servers: url, user, pass: PW[user] });
  const reader = await as('reader'), trader = await as('trader'), operator = await as('operator');

  await run.step('the adapter user serves the bus: a reader gets ib.rpc.status', async () => {
    const st = await waitReady(reader);
    bus.assert(st.connected === true, 'status says connected');
  });

  await run.step('a reader and a trader may request option chains and slices (ib.rpc.options.*)', async () => {
    for (const nc of [reader, trader]) {
      const r = await tryRequest(nc, 'ib.rpc.options.chain', { underlying: 'AAPL' });
      bus.assert(r !== 'violation' && r.data && r.data.underlying === 'AAPL', 'options.chain: ' + JSON.stringify(r.data || r));
      const q = await tryRequest(nc, 'ib.rpc.options.quotes', { underlying: 'AAPL' });
      bus.assert(q !== 'violation' && q.error && q.error.code === 'bad_request', 'options.quotes answered: ' + JSON.stringify(q.data || q));
    }
  });

  await run.step('a reader cannot place, modify, cancel, list, preview orders or list completed ones', async () => {
    for (const subj of ['ib.rpc.order.place', 'ib.rpc.order.modify', 'ib.rpc.order.cancel', 'ib.rpc.order.list',
      'ib.rpc.order.preview', 'ib.rpc.order.completed'])
      bus.eq(await tryRequest(reader, subj, { client_order_id: 'x', symbol: 'AAPL', side: 'BUY', qty: 1, type: 'MKT' }),
        'violation', subj);
  });

  await run.step('a trader previews orders; a reader searches symbols and reads scanner parameters', async () => {
    const pv = await tryRequest(trader, 'ib.rpc.order.preview', { client_order_id: 'sec-pv', symbol: 'AAPL', side: 'BUY', qty: 1, type: 'LMT', limit_price: 100 });
    bus.assert(pv !== 'violation' && pv.data && pv.data.init_margin_change > 0, `trader preview: ${JSON.stringify(pv.data || pv)}`);
    const cs = await tryRequest(reader, 'ib.rpc.contract.search', { pattern: 'AAP' });
    bus.assert(cs !== 'violation' && cs.data && cs.data.count > 0, `reader search: ${JSON.stringify(cs.data || cs)}`);
    const sp = await tryRequest(reader, 'ib.rpc.scanner.params', {});
    bus.assert(sp !== 'violation' && sp.data && sp.data.xml, 'reader scanner params');
    bus.eq(await tryRequest(reader, 'ib.rpc.contract.searchx', {}), 'violation', 'only the named two-token subjects');
  });

  await run.step('a reader cannot read the order stream (core subscription or JetStream consumer)', async () => {
    bus.eq(await trySubscribe(reader, 'ib.evt.order.>'), 'violation', 'subscribe ib.evt.order.>');
    bus.eq(await tryRequest(reader, '$JS.API.CONSUMER.CREATE.IB_ORDERS', {}), 'violation', 'consumer create');
    bus.eq(await tryRequest(reader, '$JS.API.STREAM.INFO.IB_ORDERS', {}), 'violation', 'stream info');
  });

  await run.step('a reader cannot publish fake quotes or fake order events', async () => {
    const seen = [];
    const watch = operator.subscribe('ib.quote.FAKE');
    (async () => { for await (const m of watch) seen.push(m); })();
    await operator.flush();
    const errors = [];
    (async () => { for await (const st of reader.status()) if (st.type === 'error') errors.push(String(st.data)); })();
    reader.publish('ib.quote.FAKE', Buffer.from('{"bid": 1}'));
    reader.publish('ib.evt.order.1', Buffer.from('{"status": "Filled"}'));
    await reader.flush();
    await bus.sleep(500);
    bus.eq(seen.length, 0, 'no fake quote reached a subscriber');
    bus.assert(errors.filter((e) => /PERMISSIONS_VIOLATION/.test(e)).length >= 2, 'the server refused both: ' + errors);
  });

  await run.step('a reader cannot use admin subjects; a trader neither; an operator can', async () => {
    bus.eq(await tryRequest(reader, 'ib.rpc.admin.connect'), 'violation', 'reader admin');
    bus.eq(await tryRequest(trader, 'ib.rpc.admin.connect'), 'violation', 'trader admin');
    const r = await tryRequest(operator, 'ib.rpc.admin.connect');
    bus.assert(r !== 'violation' && r.data && r.data.action === 'connect', 'operator admin answered: ' + JSON.stringify(r.data));
  });

  await run.step('a reader reads P&L: ib.pnl.> published by the adapter, ib.rpc.pnl, a P&L lease', async () => {
    bus.eq(await trySubscribe(reader, 'ib.pnl.>'), 'allowed', 'reader may read P&L');
    const seen = [];
    const sub = reader.subscribe('ib.pnl.>', { callback: (err, m) => { if (!err) seen.push(m.subject); } });
    await reader.flush();
    const lease = await tryRequest(reader, 'ib.rpc.subscribe', { kind: 'pnl', symbols: ['AAPL'], ttl_s: 5 });
    bus.assert(lease !== 'violation' && lease.data && lease.data.lease_id, 'P&L lease: ' + JSON.stringify(lease.data));
    for (let i = 0; i < 100 && !seen.includes('ib.pnl.DU1234567.AAPL'); i++) await bus.sleep(50);
    bus.assert(seen.includes('ib.pnl.DU1234567.AAPL'), 'the adapter may publish P&L: ' + seen);
    sub.unsubscribe();
    const r = await tryRequest(reader, 'ib.rpc.pnl', {});
    bus.assert(r !== 'violation' && r.data && r.data.accounts && r.data.accounts[0].account === 'DU1234567',
      'ib.rpc.pnl: ' + JSON.stringify(r.data));
  });

  await run.step('a trader reaches the order subjects (answered by the adapter, not refused by NATS)', async () => {
    const r = await tryRequest(trader, 'ib.rpc.order.list', {});
    bus.assert(r !== 'violation', 'trader may request order subjects');
    bus.eq(await trySubscribe(trader, 'ib.evt.order.>'), 'allowed', 'trader may read order events');
  });

  await run.step('secrets never appear in the adapter log', async () => {
    bus.assert(!bridge.log().includes(PW.adapter), 'the NATS password is not logged');
  });

  for (const nc of [reader, trader, operator]) await nc.close();
  const code = await bridge.stop();
  await run.step('the adapter shuts down cleanly', async () => bus.eq(code, 0, 'exit code'));
  await sim.stopSim(s);
  await nats.stop();

  // ---- TLS with a CA made here ------------------------------------------------------------------
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ibb-tls-'));
  const f = (n) => path.join(dir, n);
  const ssl = (...args) => execFileSync('openssl', args, { stdio: 'pipe' });
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=ib-bridge test CA',
    '-keyout', f('ca.key'), '-out', f('ca.pem'));
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', f('server.key'), '-out', f('server.csr'));
  fs.writeFileSync(f('ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  ssl('x509', '-req', '-in', f('server.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial',
    '-days', '1', '-extfile', f('ext.cnf'), '-out', f('server.pem'));
  fs.writeFileSync(f('tls.conf'), `jetstream {}\ntls {\n  cert_file: "${f('server.pem')}"\n  key_file: "${f('server.key')}"\n}\n`);
  const tlsPort = await bus.freePort();
  const tnats = await startNatsConf(f('tls.conf'), tlsPort);
  const s2 = await sim.startSim(['--seed', '1']);
  const tlsUrl = `tls://127.0.0.1:${tlsPort}`;
  const b2 = await startBridge({ natsUrl: tlsUrl, simPort: s2.port, env: { NATS_TLS_CA: f('ca.pem') } });

  await run.step('TLS: the adapter connects with the CA and serves requests over TLS', async () => {
    const nc = await bus.connect({ servers: tlsUrl, tls: { caFile: f('ca.pem') } });
    const st = await waitReady(nc);
    bus.assert(st.nats.connected === true && st.connected === true, 'connected over TLS');
    await nc.close();
  });

  await run.step('TLS: a client that does not trust the CA is refused', async () => {
    let refused = false;
    try { const nc = await bus.connect({ servers: tlsUrl, tls: {}, reconnect: false, timeout: 2000 }); await nc.close(); }
    catch (e) { refused = true; }
    bus.assert(refused, 'a client without the CA must not connect');
  });

  await run.step('TLS: the adapter shuts down cleanly', async () => bus.eq(await b2.stop(), 0, 'exit code'));
  await sim.stopSim(s2);
  await tnats.stop();

  // ---- secrets in files -----------------------------------------------------------------------------
  await run.step('a config file holding a secret and readable by others gets a warning naming the key', async () => {
    const conf = f('secret.conf');
    fs.writeFileSync(conf, 'nats = { user = "adapter"; password = "very-secret-value"; };\n');
    fs.chmodSync(conf, 0o644);
    const out = execFileSync(process.env.IB_BRIDGE_BIN, ['--config', conf, '--check-config'], { stdio: 'pipe' });
    const err = require('child_process').spawnSync(process.env.IB_BRIDGE_BIN, ['--config', conf, '--check-config']).stderr.toString();
    bus.assert(/config\.secret_readable .*key=nats\.password/.test(err), 'warning: ' + err);
    bus.assert(!out.toString().includes('very-secret-value') && !err.includes('very-secret-value'), 'never printed');
    fs.chmodSync(conf, 0o600);
    const err2 = require('child_process').spawnSync(process.env.IB_BRIDGE_BIN, ['--config', conf, '--check-config']).stderr.toString();
    bus.assert(!/secret_readable/.test(err2), 'no warning once the file is private');
  });

  run.done();
})().catch((e) => { console.log('FAIL setup: ' + (e.stack || e)); console.log('security: 0 passed, 1 failed'); process.exit(1); });
