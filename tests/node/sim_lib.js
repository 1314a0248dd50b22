// sim_lib.js — helpers for the ib-sim node tests: start ib-sim on free ports, talk to its control
// port, connect @stoqey/ib clients that record every decoding error, and a tiny raw TWS client.
"use strict";

const { spawn } = require("node:child_process");
const net = require("node:net");
const { IBApi, EventName } = require("@stoqey/ib");

const SIM_BIN = process.env.IB_SIM_BIN;

/** Starts ib-sim on free ports; resolves { proc, port, controlPort, stderr() }. */
function startSim(args = []) {
  if (!SIM_BIN) throw new Error("IB_SIM_BIN is not set (path of the ib-sim binary)");
  return new Promise((resolve, reject) => {
    const proc = spawn(SIM_BIN, ["--port", "0", "--control-port", "0", ...args], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    const timer = setTimeout(() => reject(new Error("ib-sim did not start: " + err)), 10000);
    proc.stderr.on("data", (d) => {
      err += d.toString();
      if (err.length > 200000) err = err.slice(-100000);
    });
    proc.stdout.on("data", (d) => {
      out += d.toString();
      const m = /ib-sim ready port=(\d+) control_port=(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, port: +m[1], controlPort: +m[2], stderr: () => err });
      }
    });
    proc.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`ib-sim exited early (${code}): ${err}`));
    });
  });
}

/** Stops ib-sim with SIGTERM; rejects unless it exits 0 with no sanitizer report. */
function stopSim(sim) {
  return new Promise((resolve, reject) => {
    if (!sim) return resolve();
    const check = (code, signal) => {
      const err = sim.stderr();
      if (/AddressSanitizer|LeakSanitizer|runtime error:/.test(err))
        return reject(new Error("ib-sim sanitizer report:\n" + err.slice(-4000)));
      if (code !== 0) return reject(new Error(`ib-sim exited with ${code ?? signal}:\n` + err.slice(-2000)));
      resolve();
    };
    if (sim.proc.exitCode !== null) return check(sim.proc.exitCode, sim.proc.signalCode);
    sim.proc.removeAllListeners("exit");
    sim.proc.on("exit", check);
    sim.proc.kill("SIGTERM");
    setTimeout(() => {
      if (sim.proc.exitCode === null) sim.proc.kill("SIGKILL");
    }, 5000);
  });
}

/** Sends one control command; resolves the reply line. */
function control(sim, line) {
  return new Promise((resolve, reject) => {
    const s = net.connect(sim.controlPort, "127.0.0.1");
    let buf = "";
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error("control timeout: " + line));
    }, 5000);
    s.on("connect", () => s.write(line + "\n"));
    s.on("data", (d) => {
      buf += d.toString();
      const i = buf.indexOf("\n");
      if (i >= 0) {
        clearTimeout(timer);
        s.end();
        resolve(buf.slice(0, i));
      }
    });
    s.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

async function stats(sim) {
  return JSON.parse(await control(sim, "stats"));
}

const DECODE_RE = /Decoding error|Underrun|No parser|unprocessed data|exceeded max message length/i;

/**
 * Connects a @stoqey/ib client. Resolves { ib, nextValidId, accounts, errors, infos, decodeErrors }.
 * Every error/info is recorded; decoding errors reported by the library land in decodeErrors.
 */
function connectClient(port, clientId, timeoutMs = 8000) {
  const ib = new IBApi({ host: "127.0.0.1", port, clientId, maxReqPerSec: 40 });
  const ctx = { ib, errors: [], infos: [], decodeErrors: [], nextValidId: undefined, accounts: undefined };
  ib.on(EventName.error, (err, code, reqId) => {
    const msg = err && err.message ? err.message : String(err);
    ctx.errors.push({ msg, code, reqId });
    if (DECODE_RE.test(msg) || code === 505 || code === 507 || code === 508) ctx.decodeErrors.push(msg);
  });
  ib.on(EventName.info, (msg, code) => ctx.infos.push({ msg, code }));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`client ${clientId}: no nextValidId/managedAccounts`)), timeoutMs);
    const done = () => {
      if (ctx.nextValidId !== undefined && ctx.accounts !== undefined) {
        clearTimeout(timer);
        resolve(ctx);
      }
    };
    ib.once(EventName.nextValidId, (id) => {
      ctx.nextValidId = id;
      done();
    });
    ib.once(EventName.managedAccounts, (a) => {
      ctx.accounts = a;
      done();
    });
    ib.once(EventName.disconnected, () => {
      if (ctx.nextValidId === undefined) {
        clearTimeout(timer);
        reject(Object.assign(new Error(`client ${clientId} disconnected during connect`), { ctx }));
      }
    });
    ib.connect();
  });
}

/** Resolves the args of the first `event` for which pred(...args) is true. */
function waitFor(emitter, event, pred = () => true, timeoutMs = 8000, what = event) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, on);
      reject(new Error("timeout waiting for " + what));
    }, timeoutMs);
    function on(...args) {
      let ok = false;
      try {
        ok = pred(...args);
      } catch (e) {
        ok = false;
      }
      if (ok) {
        clearTimeout(timer);
        emitter.off(event, on);
        resolve(args);
      }
    }
    emitter.on(event, on);
  });
}

/** Waits until an error with this code (and reqId if given) was recorded. */
async function waitError(ctx, code, reqId, timeoutMs = 8000) {
  const seen = () => ctx.errors.find((e) => e.code === code && (reqId === undefined || e.reqId === reqId)) ||
    ctx.infos.find((e) => e.code === code && reqId === undefined);
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    const e = seen();
    if (e) return e;
    await sleep(20);
  }
  throw new Error(`timeout waiting for error ${code}` + (reqId !== undefined ? ` reqId=${reqId}` : ""));
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- a raw TWS client (for what @stoqey/ib cannot send: floods, malformed frames) ----------------
class RawClient {
  constructor(port) {
    this.port = port;
    this.buf = Buffer.alloc(0);
    this.msgs = [];
    this.closed = false;
    this.waiters = [];
  }
  connect(clientId, range = "v100..176") {
    return new Promise((resolve, reject) => {
      this.sock = net.connect(this.port, "127.0.0.1", () => {
        const r = Buffer.from(range);
        const len = Buffer.alloc(4);
        len.writeUInt32BE(r.length);
        this.sock.write(Buffer.concat([Buffer.from("API\0", "binary"), len, r]));
        this.send(["71", "2", String(clientId), ""]);
        resolve();
      });
      this.sock.on("data", (d) => this.onData(d));
      this.sock.on("close", () => {
        this.closed = true;
        this.poke();
      });
      this.sock.on("error", (e) => reject(e));
    });
  }
  send(fields) {
    const p = Buffer.from(fields.map((f) => f + "\0").join(""), "binary");
    const len = Buffer.alloc(4);
    len.writeUInt32BE(p.length);
    this.sock.write(Buffer.concat([len, p]));
  }
  sendRaw(buf) {
    this.sock.write(buf);
  }
  onData(d) {
    this.buf = Buffer.concat([this.buf, d]);
    while (this.buf.length >= 4) {
      const n = this.buf.readUInt32BE(0);
      if (this.buf.length < 4 + n) break;
      const payload = this.buf.subarray(4, 4 + n).toString("binary");
      this.buf = this.buf.subarray(4 + n);
      const f = payload.split("\0");
      f.pop();
      this.msgs.push(f);
    }
    this.poke();
  }
  poke() {
    const w = this.waiters;
    this.waiters = [];
    w.forEach((fn) => fn());
  }
  async waitMsg(pred, timeoutMs = 5000) {
    const t0 = Date.now();
    for (;;) {
      const m = this.msgs.find(pred);
      if (m) return m;
      if (this.closed) throw new Error("connection closed");
      if (Date.now() - t0 > timeoutMs) throw new Error("timeout waiting for a message");
      await new Promise((r) => {
        this.waiters.push(r);
        setTimeout(r, 50);
      });
    }
  }
  async waitClosed(timeoutMs = 5000) {
    const t0 = Date.now();
    while (!this.closed) {
      if (Date.now() - t0 > timeoutMs) throw new Error("connection not closed");
      await sleep(20);
    }
  }
  close() {
    if (this.sock) this.sock.destroy();
  }
}

module.exports = { startSim, stopSim, control, stats, connectClient, waitFor, waitError, sleep, RawClient };
