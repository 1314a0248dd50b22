// bus_lib.js — helpers for the bus tests: a real nats-server on a free port (temp dir, JetStream on),
// the bus_responder binary, a small independent MessagePack codec (so the C codec is checked against
// code it does not share), exact-once reply counting on a private inbox, and schema validation.
'use strict';
const { spawn } = require('child_process');
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');
const { connect, headers, createInbox } = require('nats');
const Ajv2020 = require('ajv/dist/2020');
const addFormats = require('ajv-formats');

const ROOT = process.env.IBB_ROOT || path.resolve(__dirname, '..', '..');
const NATS_SERVER = process.env.NATS_SERVER || 'nats-server';
const RESPONDER = process.env.BUS_RESPONDER || path.join(ROOT, 'build', 'tests', 'bus', 'bus_responder');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function waitPort(port, ms) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const ok = await new Promise((r) => {
      const c = net.connect(port, '127.0.0.1');
      c.on('connect', () => { c.destroy(); r(true); });
      c.on('error', () => r(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`nothing listening on ${port} after ${ms} ms`);
}

const children = new Set();
function track(child) {
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}
process.on('exit', () => { for (const c of children) { try { c.kill('SIGKILL'); } catch (_) { /* gone */ } } });

async function startNats(opts = {}) {
  const port = opts.port || (await freePort());
  const dir = opts.dir || fs.mkdtempSync(path.join(os.tmpdir(), 'bus-nats-'));
  const js = opts.jetstream === false ? [] : ['-js', '-sd', dir]; // false: core NATS only (JetStream down)
  const proc = track(spawn(NATS_SERVER, ['-a', '127.0.0.1', '-p', String(port), ...js],
    { stdio: ['ignore', 'ignore', 'pipe'] }));
  let log = '';
  proc.stderr.on('data', (d) => { log += d; });
  await waitPort(port, 10000);
  return { port, dir, proc, url: `nats://127.0.0.1:${port}`, log: () => log,
    stop: () => new Promise((r) => { if (proc.exitCode !== null) return r(); proc.on('exit', r); proc.kill('SIGKILL'); }) };
}

// Starts bus_responder; resolves when it printed READY. stop() sends SIGTERM and resolves with the exit code.
async function startResponder(url, args = []) {
  const proc = track(spawn(RESPONDER, ['--url', url, ...args], { stdio: ['ignore', 'pipe', 'pipe'] }));
  let out = '';
  let err = '';
  proc.stderr.on('data', (d) => { err += d; });
  const id = await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`responder not ready: ${err}`)), 15000);
    proc.stdout.on('data', (d) => {
      out += d;
      const m = /READY (\S+)/.exec(out);
      if (m) { clearTimeout(t); resolve(m[1]); }
    });
    proc.on('exit', (code) => { clearTimeout(t); reject(new Error(`responder exited ${code}: ${err}`)); });
  });
  return {
    id, proc, stderr: () => err,
    stop: () => new Promise((resolve) => {
      if (proc.exitCode !== null) return resolve(proc.exitCode);
      proc.on('exit', (code, sig) => resolve(code === null ? `signal ${sig}` : code));
      proc.kill('SIGTERM');
    }),
  };
}

// ---------------------------------------------------------------------------------------------
// MessagePack (independent implementation). F64 forces a float64; BigInt packs int64/uint64.
class F64 { constructor(v) { this.v = v; } }

function mpEncode(v) {
  const out = [];
  const u8 = (b) => out.push(b & 0xff);
  const be = (n, bytes) => { for (let i = bytes - 1; i >= 0; i--) u8(Number((BigInt(n) >> BigInt(8 * i)) & 0xffn)); };
  const str = (s) => {
    const b = Buffer.from(s, 'utf8');
    if (b.length < 32) u8(0xa0 | b.length);
    else if (b.length < 256) { u8(0xd9); u8(b.length); } else if (b.length < 65536) { u8(0xda); be(b.length, 2); } else { u8(0xdb); be(b.length, 4); }
    for (const x of b) u8(x);
  };
  const f64 = (x) => { const b = Buffer.alloc(8); b.writeDoubleBE(x); u8(0xcb); for (const y of b) u8(y); };
  const enc = (x) => {
    if (x === null || x === undefined) u8(0xc0);
    else if (x === true) u8(0xc3);
    else if (x === false) u8(0xc2);
    else if (x instanceof F64) f64(x.v);
    else if (typeof x === 'bigint') {
      if (x >= 0n) { u8(0xcf); be(x, 8); } else { u8(0xd3); be(BigInt.asUintN(64, x), 8); }
    } else if (typeof x === 'number') {
      if (!Number.isInteger(x)) f64(x);
      else if (x >= 0 && x < 128) u8(x);
      else if (x < 0 && x >= -32) u8(0xe0 | (x + 32));
      else if (x >= 0 && x < 2 ** 32) { u8(0xce); be(x, 4); } else if (x < 0 && x >= -(2 ** 31)) { u8(0xd2); be(x >>> 0, 4); } else enc(BigInt(x));
    } else if (typeof x === 'string') str(x);
    else if (Buffer.isBuffer(x)) { u8(0xc4); u8(x.length); for (const y of x) u8(y); } else if (Array.isArray(x)) {
      if (x.length < 16) u8(0x90 | x.length); else { u8(0xdc); be(x.length, 2); }
      x.forEach(enc);
    } else {
      const keys = Object.keys(x);
      if (keys.length < 16) u8(0x80 | keys.length); else { u8(0xde); be(keys.length, 2); }
      for (const k of keys) { str(k); enc(x[k]); }
    }
  };
  enc(v);
  return Uint8Array.from(out);
}

function mpDecode(buf) {
  const b = Buffer.from(buf);
  let p = 0;
  const need = (n) => { if (p + n > b.length) throw new Error(`msgpack truncated at ${p}`); };
  const int = (n, signed) => {
    need(n);
    let v = 0n;
    for (let i = 0; i < n; i++) v = (v << 8n) | BigInt(b[p + i]);
    p += n;
    if (signed) v = BigInt.asIntN(8 * n, v);
    return Number.isSafeInteger(Number(v)) ? Number(v) : v;
  };
  const str = (n) => { need(n); const s = b.toString('utf8', p, p + n); p += n; return s; };
  const arr = (n) => { const a = []; for (let i = 0; i < n; i++) a.push(dec()); return a; };
  const map = (n) => {
    const o = {};
    for (let i = 0; i < n; i++) { const k = dec(); if (typeof k !== 'string') throw new Error('non-string key'); o[k] = dec(); }
    return o;
  };
  const dec = () => {
    need(1);
    const c = b[p++];
    if (c < 0x80) return c;
    if (c >= 0xe0) return c - 256;
    if (c < 0x90) return map(c & 15);
    if (c < 0xa0) return arr(c & 15);
    if (c < 0xc0) return str(c & 31);
    switch (c) {
      case 0xc0: return null;
      case 0xc2: return false;
      case 0xc3: return true;
      case 0xc4: case 0xc5: case 0xc6: { const n = Number(int(1 << (c - 0xc4), false)); need(n); const x = b.subarray(p, p + n); p += n; return Buffer.from(x); }
      case 0xca: need(4); p += 4; return b.readFloatBE(p - 4);
      case 0xcb: need(8); p += 8; return new F64(b.readDoubleBE(p - 8));
      case 0xcc: case 0xcd: case 0xce: case 0xcf: return int(1 << (c - 0xcc), false);
      case 0xd0: case 0xd1: case 0xd2: case 0xd3: return int(1 << (c - 0xd0), true);
      case 0xd9: case 0xda: case 0xdb: return str(Number(int(1 << (c - 0xd9), false)));
      case 0xdc: return arr(int(2, false));
      case 0xdd: return arr(int(4, false));
      case 0xde: return map(int(2, false));
      case 0xdf: return map(int(4, false));
      default: throw new Error(`unsupported msgpack byte 0x${c.toString(16)}`);
    }
  };
  const v = dec();
  if (p !== b.length) throw new Error(`trailing bytes after msgpack (${b.length - p})`);
  return v;
}

// Plain JS view of decoded msgpack (F64 -> number).
function plain(v) {
  if (v instanceof F64) return v.v;
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === 'object' && !Buffer.isBuffer(v)) {
    const o = {};
    for (const k of Object.keys(v)) o[k] = plain(v[k]);
    return o;
  }
  return v;
}

// ---------------------------------------------------------------------------------------------
// Requests with exact-once accounting: every request gets its own reply subject under one inbox
// subscription, and every message that arrives is recorded, so duplicates are visible.
class Requester {
  constructor(nc) {
    this.nc = nc;
    this.prefix = createInbox();
    this.waiters = new Map();
    this.counts = new Map();
    this.seq = 0;
    this.sub = nc.subscribe(`${this.prefix}.*`, {
      callback: (err, msg) => {
        if (err) return;
        const id = msg.subject.slice(this.prefix.length + 1);
        this.counts.set(id, (this.counts.get(id) || 0) + 1);
        const w = this.waiters.get(id);
        if (w) { this.waiters.delete(id); w(msg); }
      },
    });
  }

  // Resolves {msg, ms, id}; rejects after timeoutMs.
  request(subject, data, { ct, timeoutMs = 5000 } = {}) {
    const id = String(++this.seq);
    const t0 = Date.now();
    let h;
    if (ct) { h = headers(); h.set('Content-Type', ct); }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { this.waiters.delete(id); reject(new Error(`no reply on ${subject} in ${timeoutMs} ms`)); }, timeoutMs);
      this.waiters.set(id, (msg) => { clearTimeout(timer); resolve({ msg, ms: Date.now() - t0, id }); });
      this.nc.publish(subject, data === undefined ? new Uint8Array() : data, { reply: `${this.prefix}.${id}`, headers: h });
    });
  }

  count(id) { return this.counts.get(id) || 0; }
}

function errHeaders(msg) {
  const h = msg.headers;
  return h ? { code: h.get('Nats-Service-Error-Code'), text: h.get('Nats-Service-Error') } : { code: '', text: '' };
}

const td = new TextDecoder();
const te = new TextEncoder();
const jsonOf = (msg) => JSON.parse(td.decode(msg.data));
const isJsonBody = (msg) => msg.data.length > 0 && msg.data[0] === 0x7b; // '{'

function validator() {
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  addFormats(ajv);
  const load = (rel) => ajv.compile(JSON.parse(fs.readFileSync(path.join(ROOT, 'schemas', rel), 'utf8')));
  return load;
}

// Minimal test runner: named async steps, failures counted, summary at the end.
function runner(name) {
  let failed = 0;
  let passed = 0;
  return {
    async step(title, fn) {
      const t0 = Date.now();
      try {
        await fn();
        passed++;
        console.log(`ok   ${title} (${Date.now() - t0} ms)`);
      } catch (e) {
        failed++;
        console.log(`FAIL ${title}: ${e && e.stack ? e.stack : e}`);
      }
    },
    done() {
      console.log(`${name}: ${passed} passed, ${failed} failed`);
      process.exit(failed ? 1 : 0);
    },
  };
}

function assert(cond, msg) { if (!cond) throw new Error(msg || 'assertion failed'); }
function eq(a, b, msg) {
  const sa = JSON.stringify(a, (k, v) => (typeof v === 'bigint' ? `${v}n` : v));
  const sb = JSON.stringify(b, (k, v) => (typeof v === 'bigint' ? `${v}n` : v));
  if (sa !== sb) throw new Error(`${msg || 'not equal'}: got ${sa}, want ${sb}`);
}

module.exports = {
  ROOT, sleep, freePort, waitPort, track, startNats, startResponder, connect, F64, mpEncode, mpDecode, plain, Requester,
  errHeaders, jsonOf, isJsonBody, te, td, validator, runner, assert, eq,
};
