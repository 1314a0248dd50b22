// go.test.js — runs the Go consumer (tests/go/quotes_consumer, GO_CONSUMER_BIN) against the
// real stack: it leases AAPL, decodes MessagePack events into Go structs, asks ib.rpc.quote in JSON
// and reads the KV cache; then (-streams) reads an order book and a bar; this test checks its exit
// code and that the leases were really taken and ended.
'use strict';
const { spawn } = require('child_process');
const { startStack } = require('../node/stack');
const bus = require('../node/bus_lib');
const { simCount } = require('../node/quotes_lib');

const t = bus.runner('quotes.go');
const BIN = process.env.GO_CONSUMER_BIN;

function run(args) {
  return new Promise((resolve) => {
    const p = spawn(BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { out += d; });
    const timer = setTimeout(() => p.kill('SIGKILL'), 30000);
    p.on('exit', (code) => { clearTimeout(timer); resolve({ code, out }); });
  });
}

(async () => {
  if (!BIN) throw new Error('GO_CONSUMER_BIN is not set');
  const st = await startStack();
  try {
    await t.step('the Go consumer leases AAPL, checks 5 MessagePack events, a JSON quote and the KV value', async () => {
      const mk0 = await simCount(st, 'reqMktData');
      const cx0 = await simCount(st, 'cancelMktData');
      const r = await run(['-url', st.nats.url, '-events', '5']);
      bus.eq(r.code, 0, 'exit code; output:\n' + r.out);
      bus.assert(/quotes_consumer: ok events=5/.test(r.out), r.out);
      bus.eq(await simCount(st, 'reqMktData') - mk0, 1, 'one reqMktData');
      await bus.sleep(300);
      bus.eq(await simCount(st, 'cancelMktData') - cx0, 1, 'its unsubscribe cancelled the line');
      console.log('     ' + r.out.trim());
    });
    await t.step('the Go consumer reads an order book (lease and ib.rpc.depth) and a 5-second bar', async () => {
      const d0 = await simCount(st, 'reqMktDepth');
      const r = await run(['-url', st.nats.url, '-streams']);
      bus.eq(r.code, 0, 'exit code; output:\n' + r.out);
      bus.assert(/quotes_consumer: ok streams book_seq=\d+/.test(r.out), r.out);
      bus.eq(await simCount(st, 'reqMktDepth') - d0, 1, 'the lease and ib.rpc.depth share one reqMktDepth');
      await bus.sleep(300);
      bus.eq(await simCount(st, 'cancelMktDepth'), 1, 'its unsubscribe cancelled the book');
      console.log('     ' + r.out.trim());
    });
    await t.step('the Go consumer fails (non-zero) when there is no adapter on the bus', async () => {
      await st.bridge.stop();
      const r = await run(['-url', st.nats.url, '-events', '1']);
      bus.assert(r.code !== 0 && /FAIL/.test(r.out), `code ${r.code}: ${r.out}`);
    });
  } finally {
    try { await st.stop(); } catch (e) { await t.step('clean stop', () => { throw e; }); }
  }
  t.done();
})().catch((e) => { console.error(e); process.exit(1); });
