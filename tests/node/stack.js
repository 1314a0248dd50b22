// stack.js — the real system for integration tests: nats-server (JetStream, free port, temp dir) +
// ib-sim (free ports, seeded) + ib-bridge, plus a NATS client and request helpers in both encodings.
// Binaries come from the environment ctest sets: IB_SIM_BIN, IB_BRIDGE_BIN, and IB_BRIDGE_TESTHOOKS_BIN
// (ib-bridge with the crash-test hooks, used when the bridge's env sets IBB_TEST_ORDER_KILL).
//
//   const { startStack } = require('./stack');
//   const st = await startStack({ bridgeEnv: { IBB_LOG_LEVEL: 'debug' } });
//   const r = await st.request('ib.rpc.quote', { symbol: 'AAPL' });          // JSON request -> JSON reply
//   const m = await st.request('ib.rpc.quote', { symbol: 'AAPL' }, { msgpack: true });
//   r.error (the error body or undefined), r.data (decoded body), r.status (Nats-Service-Error-Code or 0)
//   await st.simControl('drop');  const s = await st.simStats();
//   await st.stop();                                                           // throws on sanitizer reports
'use strict';
const { spawn } = require('child_process');
const bus = require('./bus_lib');
const sim = require('./sim_lib');

const BRIDGE_BIN = process.env.IB_BRIDGE_BIN;

const SANITIZER_RE = /AddressSanitizer|LeakSanitizer|runtime error:|UndefinedBehaviorSanitizer/;

async function startBridge({ natsUrl, simPort, env = {}, args = [] }) {
  const hooks = Boolean(env.IBB_TEST_ORDER_KILL);
  const bin = hooks ? process.env.IB_BRIDGE_TESTHOOKS_BIN : BRIDGE_BIN;
  if (!bin) throw new Error(hooks ? 'IB_BRIDGE_TESTHOOKS_BIN is not set (ib-bridge-testhooks, for IBB_TEST_ORDER_KILL)'
    : 'IB_BRIDGE_BIN is not set (path of the ib-bridge binary)');
  const proc = spawn(bin, args, {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: {
      ...process.env, IB_HOST: '127.0.0.1', IB_PORT: String(simPort), IB_SIMULATOR: 'true', NATS_URL: natsUrl,
      IB_CLIENT_ID: String(1 + Math.floor(Math.random() * 1000)), ...env,
    },
  });
  let log = '';
  proc.stderr.on('data', (d) => {
    log += d;
    if (log.length > 400000) log = log.slice(-200000);
  });
  const bridge = {
    proc, log: () => log,
    // SIGTERM; resolves the exit code; throws when a sanitizer reported anything.
    stop: (signal = 'SIGTERM', ms = 10000) => new Promise((resolve, reject) => {
      const done = (code, sig) => {
        if (SANITIZER_RE.test(log)) return reject(new Error('ib-bridge sanitizer report:\n' + log.slice(-6000)));
        resolve(code === null ? `signal ${sig}` : code);
      };
      if (proc.exitCode !== null || proc.signalCode) return done(proc.exitCode, proc.signalCode);
      proc.once('exit', done);
      proc.kill(signal);
      setTimeout(() => { if (proc.exitCode === null) proc.kill('SIGKILL'); }, ms);
    }),
  };
  return bridge;
}

// Decodes a reply: JSON when it parses as JSON, else MessagePack (the request decides; see BRIEF).
function decodeReply(msg) {
  const data = msg.data;
  let body;
  if (data.length && data[0] < 0x80) body = JSON.parse(Buffer.from(data).toString('utf8'));
  else body = data.length ? bus.plain(bus.mpDecode(Buffer.from(data))) : {};
  const status = msg.headers ? Number(msg.headers.get('Nats-Service-Error-Code') || 0) : 0;
  return { data: body, error: body && body.error, status, headers: msg.headers, raw: data };
}

async function request(nc, subject, body, opts = {}) {
  let payload;
  if (opts.raw !== undefined) payload = opts.raw;
  else if (opts.msgpack) payload = bus.mpEncode(body || {});
  else payload = Buffer.from(body === undefined ? '' : JSON.stringify(body));
  const msg = await nc.request(subject, payload, { timeout: opts.timeout || 8000 });
  return decodeReply(msg);
}

// Polls ib.rpc.status until the IB link is ready and the order store exists.
async function waitReady(nc, prefix = 'ib', ms = 20000) {
  const until = Date.now() + ms;
  let last;
  while (Date.now() < until) {
    try {
      last = await request(nc, `${prefix}.rpc.status`, {}, { timeout: 1000 });
      if (last.data && last.data.connected && last.data.orders_ready !== false) return last.data;
    } catch (_) { /* not subscribed yet */ }
    await bus.sleep(100);
  }
  throw new Error('ib-bridge never reported connected: ' + JSON.stringify(last && last.data));
}

async function startStack({ simArgs = [], bridgeEnv = {}, bridgeArgs = [], prefix = 'ib', ready = true } = {}) {
  const nats = await bus.startNats();
  const s = await sim.startSim(['--seed', '1', ...simArgs]);
  const bridge = await startBridge({ natsUrl: nats.url, simPort: s.port, env: bridgeEnv, args: bridgeArgs });
  const nc = await bus.connect({ servers: nats.url });
  const st = {
    nats, sim: s, bridge, nc, prefix,
    // (st.nc / st.nats may be replaced by a test, e.g. after restarting nats-server)
    request: (subject, body, opts) => request(st.nc, subject, body, opts),
    simControl: (line) => sim.control(st.sim, line),
    simStats: () => sim.stats(st.sim),
    waitReady: (ms) => waitReady(st.nc, prefix, ms),
    // Restarts ib-bridge (e.g. after a SIGKILL) against the same nats-server and ib-sim.
    restartBridge: async (env = bridgeEnv) => {
      st.bridge = await startBridge({ natsUrl: st.nats.url, simPort: st.sim.port, env, args: bridgeArgs });
      return st.bridge;
    },
    async stop() {
      let err;
      try { await st.nc.close(); } catch (e) { err = err || e; }
      try {
        const code = await st.bridge.stop();
        if (code !== 0 && !st.allowBridgeExit) err = err || new Error(`ib-bridge exited ${code}:\n${st.bridge.log().slice(-3000)}`);
      } catch (e) { err = err || e; }
      try { await sim.stopSim(st.sim); } catch (e) { err = err || e; } // (a test may have replaced it)
      await st.nats.stop();
      if (err) throw err;
    },
  };
  if (ready) await st.waitReady();
  return st;
}

module.exports = { startStack, startBridge, request, decodeReply, waitReady, SANITIZER_RE };
