// quotes_lib.js — helpers for the quote tests: schema validation of real traffic (every schema of
// schemas/ loaded, so $refs resolve), event collection per subject in either encoding, sim counters.
'use strict';
const fs = require('fs');
const path = require('path');
const Ajv2020 = require('ajv/dist/2020');
const addFormats = require('ajv-formats');
const bus = require('./bus_lib');

const SIM_BIN = process.env.IB_SIM_BIN;
const BRIDGE_BIN = process.env.IB_BRIDGE_BIN;

// BigInt (64-bit MessagePack integers above 2^53, e.g. recv_ts_ns) -> Number, F64 -> number.
function norm(v) {
  if (typeof v === 'bigint') return Number(v);
  if (Array.isArray(v)) return v.map(norm);
  if (v && typeof v === 'object' && !Buffer.isBuffer(v)) {
    const o = {};
    for (const k of Object.keys(v)) o[k] = norm(v[k]);
    return o;
  }
  return v;
}

function schemas() {
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  addFormats(ajv);
  const dir = path.join(bus.ROOT, 'schemas');
  for (const f of fs.readdirSync(dir)) if (f.endsWith('.json')) ajv.addSchema(JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')));
  return (id, data, what = id) => {
    const v = ajv.getSchema(id);
    if (!v) throw new Error(`no schema ${id}`);
    if (!v(norm(data))) throw new Error(`${what} does not match ${id}: ${ajv.errorsText(v.errors)}\n${JSON.stringify(norm(data))}`);
  };
}

// Decodes a stream message: JSON text or MessagePack.
function decodeEvent(data) {
  const b = Buffer.from(data);
  if (b.length && b[0] < 0x80) return { enc: 'json', v: JSON.parse(b.toString('utf8')) };
  return { enc: 'msgpack', v: bus.plain(bus.mpDecode(b)) };
}

// Collects every event on a subject: {events, stop(), waitFor(pred, ms)}.
function collect(nc, subject) {
  const events = [];
  const waiters = [];
  const sub = nc.subscribe(subject, {
    callback: (err, m) => {
      if (err) return;
      const d = decodeEvent(m.data);
      events.push({ subject: m.subject, enc: d.enc, v: d.v, at: Date.now() });
      for (const w of waiters.splice(0)) w();
    },
  });
  return {
    events,
    stop: () => sub.unsubscribe(),
    async waitFor(pred, ms = 8000, what = 'an event') {
      const until = Date.now() + ms;
      for (;;) {
        const e = events.find(pred);
        if (e) return e;
        if (Date.now() > until) throw new Error(`timeout waiting for ${what} on ${subject} (${events.length} events)`);
        await new Promise((r) => { waiters.push(r); setTimeout(r, 50); });
      }
    },
  };
}

// Checks seq of one instrument's events: consecutive (no gap, no repeat). Returns the count.
function checkSeq(events, from = 0) {
  for (let i = from + 1; i < events.length; i++) {
    const a = Number(events[i - 1].v.seq);
    const b = Number(events[i].v.seq);
    if (b !== a + 1) throw new Error(`seq gap: ${a} then ${b} at event ${i}`);
  }
  return events.length - from;
}

async function simCount(st, name) {
  const s = await st.simStats();
  return (s.requests && s.requests[name]) || 0;
}

async function until(fn, ms = 8000, what = 'condition') {
  const t = Date.now() + ms;
  let last;
  while (Date.now() < t) {
    last = await fn();
    if (last) return last;
    await bus.sleep(50);
  }
  throw new Error(`timeout waiting for ${what}`);
}

module.exports = { SIM_BIN, BRIDGE_BIN, norm, schemas, decodeEvent, collect, checkSeq, simCount, until };
