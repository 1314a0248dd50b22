// queries_lib.js — shared helpers of the queries tests (ib.rpc.candles/contract/positions/account/status/
// admin and $SRV): a schema validator that resolves $ref to contract.json, reply checks in both encodings.
'use strict';
const fs = require('fs');
const path = require('path');
const Ajv2020 = require('ajv/dist/2020');
const addFormats = require('ajv-formats');
const bus = require('./bus_lib');

// int64 values above 2^53 (epoch ns) come back as BigInt from MessagePack and as rounded numbers from
// JSON: validate a copy with BigInt turned into Number (ajv knows no BigInt).
const num = (v) => JSON.parse(JSON.stringify(v, (k, x) => (typeof x === 'bigint' ? Number(x) : x)));

function schemas() {
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  addFormats(ajv);
  const dir = path.join(bus.ROOT, 'schemas');
  for (const f of ['contract.json', 'error.json', 'order_list_reply.json']) ajv.addSchema(JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')));
  const cache = new Map();
  const get = (name) => {
    if (!cache.has(name)) {
      const s = JSON.parse(fs.readFileSync(path.join(dir, name), 'utf8'));
      cache.set(name, ajv.getSchema(s.$id) || ajv.compile(s));
    }
    return cache.get(name);
  };
  // Throws unless data validates against schemas/<name>.
  const check = (name, data, what = name) => {
    const v = get(name);
    if (!v(num(data))) throw new Error(`${what} fails ${name}: ${JSON.stringify(v.errors).slice(0, 600)} in ${JSON.stringify(num(data)).slice(0, 600)}`);
    return data;
  };
  return { get, check };
}

// A request in both encodings; each reply validated (reply schema, or error.json when an error is expected).
async function both(st, S, subject, body, schema, opts = {}) {
  const out = [];
  for (const msgpack of [false, true]) {
    const r = await st.request(subject, body, { msgpack, timeout: opts.timeout || 10000 });
    const enc = msgpack ? 'msgpack' : 'json';
    const isJson = r.raw.length > 0 && r.raw[0] === 0x7b;
    if (isJson === msgpack) throw new Error(`${subject} ${enc} request got a ${isJson ? 'JSON' : 'MessagePack'} reply`);
    if (opts.error) {
      if (!r.error) throw new Error(`${subject} (${enc}) should fail with ${opts.error}: ${JSON.stringify(num(r.data)).slice(0, 300)}`);
      S.check('error.json', r.data, `${subject} error (${enc})`);
      if (r.error.code !== opts.error) throw new Error(`${subject} (${enc}): error ${r.error.code} (${r.error.message}), want ${opts.error}`);
      if (!r.status) throw new Error(`${subject} (${enc}): no Nats-Service-Error-Code header`);
    } else {
      if (r.error) throw new Error(`${subject} (${enc}) failed: ${JSON.stringify(r.error)}`);
      S.check(schema, r.data, `${subject} reply (${enc})`);
    }
    out.push(r);
  }
  return out;
}

module.exports = { schemas, both, num };
