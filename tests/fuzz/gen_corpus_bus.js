// gen_corpus_bus.js — seed corpora for the bus and HTTP fuzz targets (fuzz_bus_body, fuzz_bus_json,
// fuzz_http_request), taken from the request bodies and HTTP calls the integration tests make
// (tests/*/*.test.js, tests/http/rest.test.js). Layouts: see the header comment of each target.
//   node gen_corpus_bus.js OUTDIR      writes OUTDIR/<target>/seed-NNN
'use strict';
const fs = require('fs');
const path = require('path');
const bus = require('../node/bus_lib');

const out = process.argv[2];
if (!out) { console.error('usage: gen_corpus_bus.js OUTDIR'); process.exit(2); }

const BODIES = [
  {}, { symbol: 'AAPL' }, { symbols: ['AAPL', 'MSFT'], ttl_s: 60 }, { lease_id: 'ffffffffffffffffffffffffffffffff', ttl_s: 120 },
  { symbols: ['AAPL'], ttl_s: 0 }, { symbols: [1] }, { contracts: [{ sec_type: 'STK' }] }, { contracts: ['AAPL'] },
  { contract: { symbol: 'IBM', sec_type: 'STK', exchange: 'SMART', currency: 'USD' } },
  { contract: { sec_type: 'OPT', symbol: 'AAPL', exchange: 'SMART', currency: 'USD', last_trade_date: '20251219', right: 'C', strike: 187.5, multiplier: '100' } },
  { symbol: 'AAPL', duration: '1 D', bar_size: '5 mins' }, { symbol: 'AAPL', duration: '4 D', bar_size: '1 hour', what_to_show: 'MIDPOINT', use_rth: true },
  { client_order_id: 'demo-1', symbol: 'AAPL', side: 'BUY', qty: 10, type: 'MKT' },
  { client_order_id: 'x', symbol: 'AAPL', side: 'SELL', qty: 1.5, type: 'LMT', limit_price: 187.25, tif: 'GTC', outside_rth: false },
  { order_id: 12, qty: 5, limit_price: 1e3 }, { order_id: -1 }, { qty: 9007199254740993 }, { qty: -0.0 }, { s: 'caf\u00e9 \u0000 \ud83d\ude00' },
  { a: [[[[{ b: null }]]]], n: null, t: true, f: false }, { symbols: Array.from({ length: 101 }, (_, i) => `S${i}`) },
];
const TEXTS = ['', ' ', 'null', '[]', '[1,2]', '"x"', '{"a":1,"a":2}', '{"qty":1e400}', '{"s":"\\u0000"}', '{"s":"\\ud800"}',
  '{"x":18446744073709551615}', '{"x":-9223372036854775808}', '{"d":1.0,"e":-0.0,"f":1e-320}', '{', '{"a":', '\u00ef\u00bb\u00bf{}'];

function write(dir, items) {
  fs.mkdirSync(dir, { recursive: true });
  items.forEach((b, i) => fs.writeFileSync(path.join(dir, `seed-${String(i).padStart(3, '0')}`), b));
}
const json = BODIES.map((b) => Buffer.from(JSON.stringify(b))).concat(TEXTS.map((t) => Buffer.from(t, 'latin1')));
const mp = BODIES.map((b) => bus.mpEncode(b));
const pre = (byte, bufs) => bufs.map((b) => Buffer.concat([Buffer.from([byte]), b]));

write(path.join(out, 'fuzz_bus_body'), [...pre(0, json), ...pre(1, json), ...pre(0, mp), ...pre(2, mp), ...pre(4, mp), ...pre(3, json)]);
write(path.join(out, 'fuzz_bus_json'), [...pre(0, json), ...pre(1, mp), Buffer.from([1, 0xc1]), Buffer.from([1, 0xdf, 0xff, 0xff, 0xff, 0xff])]);

const REPLY = '\n--reply--\n';
const HTTP = [
  ['GET /health', [], '', '{"connected":true,"ib":{}}'], ['GET /metrics', [], '', ''],
  ['GET /', [], '', ''], ['GET /status', ['Authorization: Bearer rtok'], '', ''],
  ['GET /status', ['Origin: http://127.0.0.1:8080', 'Host: 127.0.0.1:8080'], '', ''],
  ['GET /quotes/AAPL', ['Authorization: Bearer rtok'], '', '{"key":"AAPL","bid":1.5}'],
  ['GET /contracts/BRK B', ['Authorization: Bearer rtok', 'Origin: http://ok.example'], '', '{"count":1,"contracts":[]}'],
  ['GET /candles/AAPL?duration=1%20D&bar_size=5%20mins&use_rth=1', ['Authorization: Bearer rtok'], '', '{"bars":[]}'],
  ['POST /candles/AAPL', ['Authorization: Bearer rtok', 'Content-Length: 40'], '{"duration":"1 D","bar_size":"5 mins"}', '{"error":{"code":"pacing","message":"later","retry_after_ms":1000}}'],
  ['POST /orders', ['Authorization: Bearer ttok', 'Content-Length: 60', 'Idempotency-Key: k-1'], '{"symbol":"AAPL","action":"BUY","quantity":10,"order_type":"MKT"}', '{"order_id":1}'],
  ['POST /orders', ['Authorization: Bearer rtok', 'Content-Length: 20'], '{"symbol":"AAPL"}', ''],
  ['PATCH /orders/17', ['Authorization: Bearer ttok', 'Content-Length: 12'], '{"qty":5}', '{"error":{"code":"not_found","message":"no"}}'],
  ['DELETE /orders/cid-1', ['Authorization: Bearer ttok'], '', '{}'],
  ['OPTIONS /orders', ['Origin: http://ok.example'], '', ''], ['GET /orders?token=ttok', [], '', ''],
  ['PUT /orders', ['Authorization: Bearer ttok'], '', ''], ['GET /positions', ['Authorization: Bearer nope'], '', ''],
  ['POST /connect', ['Authorization: Bearer ttok', 'Transfer-Encoding: chunked'], '{}', '\x81\xa2ok\xc3'],
  ['GET /account', ['Authorization: Bearer rtok'], '', '\x81\xa5error\x82\xa4code\xa7timeout\xa7message\xa1x'],
];
const http = [];
HTTP.forEach(([line, hdrs, body, reply], i) => {
  const text = [line, ...hdrs, '', body].join('\r\n') + REPLY + reply;
  for (const flags of [0, 1, 1 | 32, 1 | 8, 1 | 16, 4, 2]) if (i % 3 === 0 || flags <= 1) http.push(Buffer.concat([Buffer.from([flags]), Buffer.from(text, 'latin1')]));
});
write(path.join(out, 'fuzz_http_request'), http);
console.log(`seeds: fuzz_bus_body ${fs.readdirSync(path.join(out, 'fuzz_bus_body')).length}, fuzz_bus_json ` +
  `${fs.readdirSync(path.join(out, 'fuzz_bus_json')).length}, fuzz_http_request ${http.length}`);
