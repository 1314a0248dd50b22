// Test harness for ib-bridge-http: the real stack — a nats-server on a free port with a temp dir,
// ib-sim + ib-bridge answering the bus (IB_SIM_BIN, IB_BRIDGE_BIN), and the real ib-bridge-http binary
// (IBB_HTTP_BIN). No stand-ins.
'use strict';
const { spawn, execFile } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '../..');
const procs = [];

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

function waitPort(port, ms = 10000) {
  const until = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const tryOnce = () => {
      const c = net.connect(port, '127.0.0.1');
      c.on('connect', () => { c.destroy(); resolve(); });
      c.on('error', () => { c.destroy(); if (Date.now() > until) reject(new Error(`port ${port} not open`)); else setTimeout(tryOnce, 50); });
    };
    tryOnce();
  });
}

function start(name, cmd, args, env, readyRe, ms = 15000) {
  const p = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  procs.push(p);
  p.log = '';
  let done = false;
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => { if (!done) reject(new Error(`${name} not ready in ${ms} ms:\n${p.log}`)); }, ms);
    const onData = (d) => {
      p.log += d.toString();
      if (p.log.length > 1 << 20) p.log = p.log.slice(-(1 << 19));
      const m = readyRe && !done ? p.log.match(readyRe) : null;
      if (m) { done = true; clearTimeout(t); resolve({ proc: p, match: m }); }
    };
    p.stdout.on('data', onData);
    p.stderr.on('data', onData);
    p.on('exit', (code, sig) => { p.exitCode_ = code; p.exitSig_ = sig; if (!done) { done = true; clearTimeout(t); reject(new Error(`${name} exited (${code ?? sig}):\n${p.log}`)); } });
    if (!readyRe) { done = true; clearTimeout(t); resolve({ proc: p }); }
  });
}

async function startNats() {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ibb-http-nats-'));
  const { proc } = await start('nats-server', 'nats-server', ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir], {}, null);
  await waitPort(port);
  return { url: `nats://127.0.0.1:${port}`, proc, dir };
}

// The real backend: ib-sim (free ports, seeded) + ib-bridge on `prefix`; resolves once ib.rpc.status
// reports the IB link connected. Binaries: IB_SIM_BIN, IB_BRIDGE_BIN (ctest sets them).
async function startBackend(natsUrl, prefix = 'ib', { simArgs = [], env = {} } = {}) {
  for (const v of ['IB_SIM_BIN', 'IB_BRIDGE_BIN'])
    if (!process.env[v] || !fs.existsSync(process.env[v])) throw new Error(`${v} is not set to a binary`);
  const sim = await start('ib-sim', process.env.IB_SIM_BIN, ['--port', '0', '--control-port', '0', '--seed', '1', ...simArgs], {},
    /ib-sim ready port=(\d+) control_port=(\d+)/);
  const simPort = Number(sim.match[1]);
  const controlPort = Number(sim.match[2]);
  const bridge = await start('ib-bridge', process.env.IB_BRIDGE_BIN, [], {
    NATS_URL: natsUrl, IB_HOST: '127.0.0.1', IB_PORT: String(simPort), IB_SIMULATOR: 'true', IBB_SUBJECT_PREFIX: prefix,
    IB_CLIENT_ID: String(1 + Math.floor(Math.random() * 1000)), ...env,
  }, null);
  const be = {
    kind: 'real', procs: [sim.proc, bridge.proc], sim: sim.proc, bridge: bridge.proc, simPort, controlPort, prefix, natsUrl,
    control: (line) => simControl(controlPort, line),
    simStats: async () => JSON.parse(await simControl(controlPort, 'stats')),
    status: () => busRequest(natsUrl, `${prefix}.rpc.status`, {}),
  };
  const until = Date.now() + 20000;
  let last;
  while (Date.now() < until) {
    try {
      last = await be.status();
      if (last && last.connected) return be;
    } catch (e) { last = e.message; }
    await sleep(100);
  }
  throw new Error(`ib-bridge never reported connected: ${JSON.stringify(last)}\n${bridge.proc.log.slice(-3000)}`);
}

// One line to ib-sim's control port; resolves the reply line.
function simControl(port, line) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let buf = '';
    const t = setTimeout(() => { s.destroy(); reject(new Error(`sim control timeout: ${line}`)); }, 5000);
    s.on('connect', () => s.write(`${line}\n`));
    s.on('data', (d) => {
      buf += d.toString();
      const i = buf.indexOf('\n');
      if (i >= 0) { clearTimeout(t); s.end(); resolve(buf.slice(0, i)); }
    });
    s.on('error', (e) => { clearTimeout(t); reject(e); });
  });
}

// A JSON request on the bus (its own short-lived connection); resolves the decoded reply body.
async function busRequest(natsUrl, subject, body, timeout = 3000) {
  const { connect } = require('nats');
  const nc = await connect({ servers: natsUrl });
  try {
    const m = await nc.request(subject, Buffer.from(JSON.stringify(body)), { timeout });
    return JSON.parse(Buffer.from(m.data).toString('utf8'));
  } finally { await nc.close(); }
}

function gatewayBin() {
  const b = process.env.IBB_HTTP_BIN || path.join(ROOT, 'build/adapter/http/ib-bridge-http');
  if (!fs.existsSync(b)) throw new Error(`ib-bridge-http not found at ${b} (set IBB_HTTP_BIN)`);
  return b;
}

async function startGateway(natsUrl, env = {}, args = []) {
  // under ASan a small quarantine keeps RSS meaningful for the memory-bound checks
  const asan = `${process.env.ASAN_OPTIONS || ''}:quarantine_size_mb=4:thread_local_quarantine_size_kb=64`;
  const { proc, match } = await start('ib-bridge-http', gatewayBin(), args, { NATS_URL: natsUrl, HTTP_PORT: '0', ASAN_OPTIONS: asan, ...env }, /http\.listening port=(\d+)/);
  const port = Number(match[1]);
  return { proc, port, base: `http://127.0.0.1:${port}` };
}

// Stops a process with SIGTERM and resolves its exit code (a sanitizer report makes it non-zero).
function stop(p, ms = 8000) {
  return new Promise((resolve) => {
    if (p.exitCode_ !== undefined || p.exitSig_) return resolve(p.exitCode_ ?? p.exitSig_);
    const t = setTimeout(() => { p.kill('SIGKILL'); }, ms);
    p.once('exit', (code, sig) => { clearTimeout(t); resolve(code ?? sig); });
    p.kill('SIGTERM');
  });
}

async function stopAll() {
  for (const p of procs.slice().reverse()) await stop(p, 3000);
}
process.on('exit', () => { for (const p of procs) { try { p.kill('SIGKILL'); } catch { /* gone */ } } });

// curl, as a user would: returns { status, headers (lower-case keys), body, json }.
function curl(url, opts = {}) {
  const args = ['-s', '-S', '-i', '--max-time', String(opts.timeout || 15)];
  if (opts.method) args.push('-X', opts.method);
  for (const [k, v] of Object.entries(opts.headers || {})) args.push('-H', `${k}: ${v}`);
  if (opts.body !== undefined) args.push('--data-binary', opts.bodyFile ? `@${opts.bodyFile}` : opts.body);
  args.push(url);
  return new Promise((resolve, reject) => {
    execFile('curl', args, { maxBuffer: 64 << 20, encoding: 'utf8' }, (err, out) => {
      if (err && !out) return reject(err);
      let text = out;
      let m;
      // skip "HTTP/1.1 100 Continue" blocks
      while ((m = text.match(/^HTTP\/1\.[01] 1\d\d[^\n]*\r?\n\r?\n/))) text = text.slice(m[0].length);
      const sep = text.indexOf('\r\n\r\n');
      const head = sep >= 0 ? text.slice(0, sep) : text;
      const body = sep >= 0 ? text.slice(sep + 4) : '';
      const lines = head.split('\r\n');
      const status = Number((lines[0].match(/^HTTP\/\S+ (\d+)/) || [])[1] || 0);
      const headers = {};
      for (const l of lines.slice(1)) { const i = l.indexOf(':'); if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim(); }
      let json;
      try { json = JSON.parse(body); } catch { json = undefined; }
      resolve({ status, headers, body, json, err });
    });
  });
}

function rssKb(pid) {
  const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number((s.match(/VmRSS:\s+(\d+)/) || [])[1]);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

module.exports = { ROOT, freePort, waitPort, start, startNats, startBackend, startGateway, stop, stopAll, curl, busRequest, simControl, rssKb, sleep, gatewayBin };
