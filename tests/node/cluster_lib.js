// cluster_lib.js — a three-node NATS cluster for tests, made from nats/cluster/n{1,2,3}.conf: the same
// accounts, users and permissions, with free client and route ports and temp JetStream stores instead of
// 4222-4224 / 6222-6224 / .run/cluster. Users log in with the passwords in PW (set in the environment).
//
//   const { startCluster, PW } = require('./cluster_lib');
//   const cl = await startCluster();            // cl.url: "nats://127.0.0.1:p1,nats://...:p2,..."
//   await cl.kill(0); await cl.restart(0);      // SIGKILL / start again node 1 (same store)
//   await cl.stop();
'use strict';
const { spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const bus = require('./bus_lib');

const ROOT = process.env.IBB_ROOT || path.resolve(__dirname, '..', '..');
const NATS_SERVER = process.env.NATS_SERVER || 'nats-server';
const PW = { adapter: 'pw-adapter', http: 'pw-http', reader: 'pw-reader', trader: 'pw-trader', operator: 'pw-operator' };
const passEnv = {
  IBB_NATS_ADAPTER_PASSWORD: PW.adapter, IBB_NATS_HTTP_PASSWORD: PW.http, IBB_NATS_READER_PASSWORD: PW.reader,
  IBB_NATS_TRADER_PASSWORD: PW.trader, IBB_NATS_OPERATOR_PASSWORD: PW.operator,
};

function confText(i) { return fs.readFileSync(path.join(ROOT, 'nats', 'cluster', `n${i + 1}.conf`), 'utf8'); }

// Rewrites the ports of all three nodes (client 4222+k, route 6222+k) and the store directory of node i.
function rewrite(text, ports, routes, store) {
  let t = text;
  for (let k = 0; k < 3; k++) {
    t = t.replace(new RegExp(`127\\.0\\.0\\.1:${4222 + k}\\b`, 'g'), `127.0.0.1:${ports[k]}`);
    t = t.replace(new RegExp(`127\\.0\\.0\\.1:${6222 + k}\\b`, 'g'), `127.0.0.1:${routes[k]}`);
  }
  return t.replace(/store_dir: "[^"]*"/, `store_dir: "${store}"`);
}

async function startCluster() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ibb-cluster-'));
  const ports = [], routes = [];
  for (let k = 0; k < 3; k++) { ports.push(await bus.freePort()); routes.push(await bus.freePort()); }
  const nodes = [];
  const start = (i) => {
    const conf = path.join(dir, `n${i + 1}.conf`);
    fs.writeFileSync(conf, rewrite(confText(i), ports, routes, path.join(dir, `store${i + 1}`)));
    const proc = bus.track(spawn(NATS_SERVER, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, ...passEnv } }));
    const n = { proc, log: '' };
    proc.stderr.on('data', (d) => { n.log += d; if (n.log.length > 200000) n.log = n.log.slice(-100000); });
    nodes[i] = n;
    return bus.waitPort(ports[i], 10000);
  };
  await Promise.all([0, 1, 2].map(start));
  const cl = {
    dir, ports, nodes,
    url: ports.map((p) => `nats://127.0.0.1:${p}`).join(','),
    urlOf: (i) => `nats://127.0.0.1:${ports[i]}`,
    logs: () => nodes.map((n, i) => `--- n${i + 1}\n${n.log.slice(-3000)}`).join('\n'),
    kill: (i, sig = 'SIGKILL') => new Promise((r) => {
      const p = nodes[i].proc;
      if (p.exitCode !== null || p.signalCode) return r();
      p.once('exit', () => r());
      p.kill(sig);
    }),
    restart: (i) => start(i),
    async stop() { await Promise.all([0, 1, 2].map((i) => cl.kill(i))); fs.rmSync(dir, { recursive: true, force: true }); },
    // Resolves once JetStream answers with a meta leader (a fresh cluster elects one in a few seconds).
    async waitJetStream(ms = 30000) {
      const nc = await bus.connect({ servers: cl.url, user: 'operator', pass: PW.operator });
      const until = Date.now() + ms;
      let last;
      try {
        while (Date.now() < until) {
          try {
            const m = await nc.request('$JS.API.INFO', '', { timeout: 1000 });
            const info = JSON.parse(Buffer.from(m.data).toString());
            if (!info.error) return info;
            last = info.error;
          } catch (e) { last = e.message; }
          await bus.sleep(250);
        }
      } finally { await nc.close(); }
      throw new Error(`JetStream never ready on the cluster: ${JSON.stringify(last)}\n${cl.logs()}`);
    },
  };
  return cl;
}

module.exports = { startCluster, PW, passEnv };
