// validate_requests.js DIR — validates every request body the Go package (schemas/go/ibbridge) sent
// in its tests against schemas/. DIR holds one file per request, named <n>.<msgpack|json>.<subject>;
// the bodies are decoded as MessagePack or JSON (as ib-bridge would) and checked with ajv against
// the request schema of the subject. Subjects without a request schema (ib.rpc.status: any body;
// BRIEF wave 2 subjects: no schema yet) are counted, not checked. Prints one line per subject and
// exits 1 when any body is invalid or DIR holds none.
'use strict';
const fs = require('fs');
const path = require('path');
const bus = require('../node/bus_lib');
const Ajv2020 = require('../node/node_modules/ajv/dist/2020');
const addFormats = require('../node/node_modules/ajv-formats');

const SCHEMAS = {
  'rpc.quote': 'quote_request.json', 'rpc.candles': 'candles_request.json', 'rpc.contract': 'contract_request.json',
  'rpc.positions': 'positions_request.json', 'rpc.account': 'account_request.json',
  'rpc.subscribe': 'subscribe_request.json', 'rpc.unsubscribe': 'unsubscribe_request.json',
  'rpc.order.place': 'order_place_request.json', 'rpc.order.cancel': 'order_cancel_request.json',
  'rpc.order.modify': 'order_modify_request.json', 'rpc.order.list': 'order_list_request.json',
  'rpc.order.preview': 'order_preview_request.json', 'rpc.order.completed': 'order_completed_request.json',
  'rpc.executions': 'executions_request.json', 'rpc.contract.search': 'contract_search_request.json',
  'rpc.scanner.params': 'scanner_params_request.json', 'rpc.scanner': 'scanner_request.json',
  'rpc.options.chain': 'options_chain_request.json', 'rpc.options.quotes': 'options_quotes_request.json',
};

const dir = process.argv[2];
const ajv = new Ajv2020({ allErrors: true, strict: false });
addFormats(ajv);
const sdir = path.join(__dirname, '..', '..', 'schemas');
for (const f of fs.readdirSync(sdir)) if (f.endsWith('.json')) ajv.addSchema(JSON.parse(fs.readFileSync(path.join(sdir, f), 'utf8')));

const counts = {};
let bad = 0, n = 0;
for (const f of fs.readdirSync(dir).sort()) {
  const m = /^\d+\.(msgpack|json)\.[^.]+(?:\.[^.]+)*?\.(rpc\..+)$/.exec(f);
  if (!m) continue;
  const [, enc, suffix] = m;
  const raw = fs.readFileSync(path.join(dir, f));
  let body;
  try {
    body = enc === 'json' ? JSON.parse(raw.toString('utf8')) : bus.plain(bus.mpDecode(raw));
  } catch (e) {
    console.log(`FAIL ${f}: not ${enc}: ${e.message}`);
    bad++;
    continue;
  }
  n++;
  const key = `${suffix} ${enc}`;
  counts[key] = counts[key] || { ok: 0, unchecked: 0 };
  const schema = SCHEMAS[suffix];
  if (!schema) {
    if (suffix === 'rpc.status' && (typeof body !== 'object' || Object.keys(body).length)) {
      console.log(`FAIL ${f}: status request is not an empty object: ${JSON.stringify(body)}`);
      bad++;
    }
    counts[key].unchecked++;
    continue;
  }
  const v = ajv.getSchema(schema);
  if (!v(body)) {
    console.log(`FAIL ${f}: ${JSON.stringify(body)}: ${ajv.errorsText(v.errors)}`);
    bad++;
  } else counts[key].ok++;
}
for (const k of Object.keys(counts).sort()) console.log(`${k}: ${counts[k].ok} valid, ${counts[k].unchecked} without schema`);
console.log(`requests: ${n}, invalid: ${bad}`);
process.exit(bad || !n ? 1 : 0);
