// options.test.js — option chains and greeks end to end: nats-server + ib-sim + ib-bridge over TCP.
// ib.rpc.options.chain (equal to what ib-sim itself answers a TWS API client nobody here wrote, one IB
// request for identical concurrent lookups, the day cache, bad input), option quotes leased as `quote`
// carrying greeks for in- and out-of-the-money options, an unknown option key, and ib.rpc.options.quotes
// (a slice with greeks, within the line budget: ib-sim counts no error 101). Replies and events are
// validated against schemas/ in both encodings.
'use strict';
const bus = require('../node/bus_lib');
const lib = require('../node/sim_lib');
const npm = require('../node/npm');
const { startStack } = require('../node/stack');
const { schemas, collect, norm } = require('../node/quotes_lib');
const { assert, eq } = bus;

const { EventName } = npm('@stoqey/ib');
const check = schemas();
const GREEKS = ['iv', 'delta', 'gamma', 'vega', 'theta', 'opt_price', 'und_price', 'pv_dividend'];

// Both encodings; each reply validated against its schema (or error.json with the wanted slug).
async function both(st, subject, body, schema, wantError) {
  const out = [];
  for (const msgpack of [false, true]) {
    const r = await st.request(subject, body, { msgpack, timeout: 10000 });
    const enc = msgpack ? 'msgpack' : 'json';
    if (wantError) {
      assert(r.error, `${subject} ${JSON.stringify(body)} (${enc}) should fail with ${wantError}: ${JSON.stringify(norm(r.data)).slice(0, 300)}`);
      check('error.json', r.data, `${subject} error (${enc})`);
      eq(r.error.code, wantError, `${subject} ${JSON.stringify(body)} (${enc}): ${r.error.message}`);
      assert(r.status > 0, 'Nats-Service-Error-Code header');
    } else {
      assert(!r.error, `${subject} (${enc}) failed: ${JSON.stringify(r.error)}`);
      check(schema, r.data, `${subject} reply (${enc})`);
    }
    out.push(r);
  }
  return out;
}

// The chain as ib-sim answers @stoqey/ib: exchange -> {expirations, strikes}, sorted.
async function simChain(port, symbol, conId) {
  const c = await lib.connectClient(port, 77);
  try {
    const got = {};
    c.ib.on(EventName.securityDefinitionOptionParameter, (id, exchange, und, tc, mult, exps, strikes) => {
      got[exchange] = { tc, mult: String(mult), exps: [...exps].sort(), strikes: [...strikes].map(Number).sort((a, b) => a - b) };
    });
    const end = lib.waitFor(c.ib, EventName.securityDefinitionOptionParameterEnd, (id) => id === 7, 8000, 'chain end');
    c.ib.reqSecDefOptParams(7, symbol, '', 'STK', conId);
    await end;
    return got;
  } finally {
    c.ib.disconnect();
  }
}

const finite = (x) => typeof x === 'number' && Number.isFinite(x);

(async () => {
  const T = bus.runner('queries.options');
  const st = await startStack({ bridgeEnv: { IBB_MD_LINE_BUDGET: '4', IBB_REQUEST_TIMEOUT_MS: '8000', IBB_QUOTE_ENCODING: 'both' } });
  const secDef = async () => ((await st.simStats()).requests || {}).reqSecDefOptParams || 0;
  let chain;
  try {
    await T.step('options.chain: AAPL equals ib-sim\'s own answer, in both encodings', async () => {
      check('options_chain_request.json', { underlying: 'AAPL' });
      const [j, m] = await both(st, 'ib.rpc.options.chain', { underlying: 'AAPL' }, 'options_chain_reply.json');
      eq(norm(m.data), norm(j.data), 'same chain in MessagePack');
      chain = j.data;
      eq([chain.underlying, chain.underlying_con_id], ['AAPL', 265598]);
      const want = await simChain(st.sim.port, 'AAPL', 265598);
      eq(chain.chains.map((c) => c.exchange), Object.keys(want).sort(), 'exchanges');
      for (const c of chain.chains) {
        const w = want[c.exchange];
        eq([c.trading_class, c.multiplier], [w.tc, w.mult], `${c.exchange} class`);
        eq(c.expirations, w.exps, `${c.exchange} expirations`);
        eq(c.strikes, w.strikes, `${c.exchange} strikes`);
      }
      assert(chain.chains[0].strikes.length > 20 && chain.chains[0].expirations.length >= 4, 'a real chain');
    });

    await T.step('options.chain: 20 identical concurrent lookups -> one reqSecDefOptParams; then the cache', async () => {
      const before = await secDef();
      const rs = await Promise.all(Array.from({ length: 20 }, (_, i) =>
        st.request('ib.rpc.options.chain', i % 2 ? { symbol: 'MSFT' } : { underlying: 'MSFT' }, { msgpack: i % 3 === 0 })));
      for (const r of rs) {
        assert(!r.error, JSON.stringify(r.error));
        eq(r.data.underlying, 'MSFT');
      }
      eq(await secDef(), before + 1, 'one IB request for 20 identical lookups');
      const again = await st.request('ib.rpc.options.chain', { underlying: 'MSFT', exchange: 'CBOE' });
      eq([again.data.count, again.data.chains[0].exchange], [1, 'CBOE'], 'exchange filter');
      eq(await secDef(), before + 1, 'served from the cache');
    });

    await T.step('options.chain: bad input and unknown underlyings are clear errors', async () => {
      await both(st, 'ib.rpc.options.chain', {}, null, 'bad_request');
      await both(st, 'ib.rpc.options.chain', { underlying: 5 }, null, 'bad_request');
      const ab = await both(st, 'ib.rpc.options.chain', { underlying: 'A.B' }, null, 'bad_request');
      assert(/^field 'underlying' is not a valid instrument key/.test(ab[0].error.message), ab[0].error.message);
      const o = await both(st, 'ib.rpc.options.chain', { underlying: 'OPT:AAPL:SMART:USD:20261218:C:200:100' }, null, 'bad_request');
      assert(/underlying/.test(o[0].error.message), o[0].error.message);
      await both(st, 'ib.rpc.options.chain', { underlying: 'NOSUCH' }, null, 'unknown_symbol');
      await both(st, 'ib.rpc.options.chain', { underlying: 'AAPL', exchange: 'NOWHERE' }, null, 'not_found');
    });

    const smart = () => chain.chains.find((c) => c.exchange === 'SMART');
    const key = (right, strike, exp) =>
      `OPT:AAPL:SMART:USD:${exp || smart().expirations[1]}:${right}:${String(strike).replace('.', 'p')}:100`;

    await T.step('quote lease of an in- and an out-of-the-money option carries finite greeks', async () => {
      const q = await st.request('ib.rpc.quote', { symbol: 'AAPL' });
      const spot = q.data.last || (q.data.bid + q.data.ask) / 2;
      const ks = smart().strikes;
      const itm = ks.filter((k) => k < spot * 0.93).pop();        // a call well in the money
      const otm = ks.find((k) => k > spot * 1.07);                 // a call well out of the money
      assert(itm && otm, `strikes around ${spot}`);
      const keys = [key('C', itm), key('C', otm), key('P', otm)];   // the put above spot is in the money
      const subs = keys.map((k) => collect(st.nc, `ib.quote.${k}`));
      const mirror = collect(st.nc, `ib.json.quote.${keys[0]}`);   // the JSON mirror (quote_encoding both)
      const r = await st.request('ib.rpc.subscribe', { symbols: keys, ttl_s: 30 }, { msgpack: true });
      assert(!r.error, JSON.stringify(r.error));
      check('subscribe_reply.json', r.data, 'subscribe reply');
      eq(r.data.instruments.map((i) => i.key), keys, 'canonical option keys');
      for (const i of r.data.instruments) eq([i.contract.sec_type, i.contract.right], ['OPT', i.key.split(':')[5]]);
      const ev = [];
      for (let n = 0; n < keys.length; n++) {
        const e = await subs[n].waitFor((x) => x.v.greeks && x.v.greeks.model && x.v.greeks.bid && x.v.greeks.ask, 8000, `greeks of ${keys[n]}`);
        eq(e.enc, 'msgpack');
        check('quote_event.json', e.v, `${keys[n]} event`);
        for (const side of ['bid', 'ask', 'model'])
          for (const f of GREEKS) assert(finite(e.v.greeks[side][f]), `${keys[n]} greeks.${side}.${f} = ${e.v.greeks[side][f]}`);
        ev.push(e.v);
        subs[n].stop();
      }
      const je = await mirror.waitFor((x) => x.v.greeks && x.v.greeks.model, 8000, 'JSON greeks');
      eq(je.enc, 'json', 'the mirror is JSON');
      check('quote_event.json', je.v, 'JSON option event');
      mirror.stop();
      const [itmC, otmC, itmP] = ev.map((v) => v.greeks.model);
      assert(itmC.delta > 0.6 && itmC.delta <= 1, `ITM call delta ${itmC.delta}`);
      assert(otmC.delta > 0 && otmC.delta < 0.4, `OTM call delta ${otmC.delta}`);
      assert(itmP.delta < -0.6 && itmP.delta >= -1, `ITM put delta ${itmP.delta}`);
      assert(itmC.opt_price > otmC.opt_price, 'the ITM call is dearer');
      assert(Math.abs(itmC.und_price - spot) / spot < 0.05, `underlying price ${itmC.und_price} near ${spot}`);
      assert(ev[0].bid > 0 && ev[0].ask >= ev[0].bid, 'the option quote itself');
      const [qj, qm] = await both(st, 'ib.rpc.quote', { symbol: keys[1] }, 'quote_reply.json');
      for (const x of [qj, qm]) for (const f of GREEKS) assert(finite(x.data.greeks.model[f]), `ib.rpc.quote greeks.model.${f}`);
      const snap = await both(st, 'ib.rpc.quote', { symbol: key('P', itm) }, 'quote_reply.json');   // not leased: a snapshot
      for (const x of snap) eq([x.data.source, typeof x.data.greeks.model.delta], ['snapshot', 'number'], 'snapshot greeks');
      assert(snap[0].data.greeks.model.delta < 0 && snap[0].data.greeks.model.delta > -0.4, 'an OTM put');
      await st.request('ib.rpc.unsubscribe', { lease_id: r.data.lease_id });
    });

    await T.step('an option key IB does not know -> unknown_symbol in the subscribe reply', async () => {
      const bad = key('C', smart().strikes[0] + 0.5);
      await both(st, 'ib.rpc.subscribe', { symbols: [bad], ttl_s: 10 }, null, 'unknown_symbol');
      const r = await st.request('ib.rpc.subscribe', { symbols: [key('C', smart().strikes[3], '20200117')], ttl_s: 10 });
      eq(r.error && r.error.code, 'unknown_symbol', 'an expired date');
      assert(/OPT:AAPL/.test(r.error.message), r.error.message);
    });

    await T.step('options.quotes: a window around the money, greeks for each, within the line budget', async () => {
      const exp = smart().expirations[0];
      const lease = await st.request('ib.rpc.subscribe', { symbols: ['MSFT', 'IBM'], ttl_s: 30 });  // 2 of 4 lines
      assert(!lease.error, JSON.stringify(lease.error));
      check('options_quotes_request.json', { underlying: 'AAPL', expiration: exp, window: 3 });
      const [j, m] = await both(st, 'ib.rpc.options.quotes', { underlying: 'AAPL', expiration: exp, window: 3 }, 'options_quotes_reply.json');
      eq(j.data.count, 14, '7 strikes x 2 rights');
      eq(m.data.count, 14);
      assert(finite(j.data.underlying_price), 'centred on a price');
      const strikes = [...new Set(j.data.options.map((o) => o.strike))];
      eq(strikes.length, 7);
      for (const o of j.data.options) {
        assert(o.quote, `${o.key}: ${JSON.stringify(o.error)}`);
        eq(o.quote.contract.strike, o.strike);
        for (const f of GREEKS) assert(finite(o.quote.greeks.model[f]), `${o.key} model.${f}`);
      }
      const s = await st.simStats();
      eq((s.errors || {})['101'] || 0, 0, 'ib-sim never refused a line (101)');
      assert(!/snapshot_line_limit/.test(st.bridge.log()), 'the queue never asked for a snapshot over the budget');
      await st.request('ib.rpc.unsubscribe', { lease_id: lease.data.lease_id });
    });

    await T.step('options.quotes: with every line leased it waits in the queue, and runs when a line frees', async () => {
      const exp = smart().expirations[0];
      const lease = await st.request('ib.rpc.subscribe', { symbols: ['MSFT', 'IBM', 'INTC', 'AMZN'], ttl_s: 30 });
      assert(!lease.error, JSON.stringify(lease.error));
      const before = ((await st.simStats()).requests || {}).reqMktData || 0;
      const pending = st.request('ib.rpc.options.quotes', { underlying: 'AAPL', expiration: exp, right: 'C', strikes: smart().strikes.slice(20, 23) });
      await bus.sleep(600);
      eq(((await st.simStats()).requests || {}).reqMktData || 0, before, 'no snapshot while no line is free');
      const q = await st.request('ib.rpc.quote', { symbol: 'AAPL' });
      eq(q.error && q.error.code, 'line_limit', 'the budget is really full');
      await st.request('ib.rpc.unsubscribe', { lease_id: lease.data.lease_id });
      const r = await pending;
      assert(!r.error, JSON.stringify(r.error));
      check('options_quotes_reply.json', r.data, 'queued reply');
      eq(r.data.options.filter((o) => o.quote && o.quote.greeks).length, 3, 'every option answered with greeks');
      eq(((await st.simStats()).errors || {})['101'] || 0, 0, 'ib-sim never refused a line (101)');
    });

    await T.step('options.quotes: given strikes and one right; bad input names the field', async () => {
      const exp = smart().expirations[1];
      const ks = smart().strikes.slice(10, 13);
      const [j] = await both(st, 'ib.rpc.options.quotes', { symbol: 'AAPL', expiration: exp, right: 'P', strikes: ks }, 'options_quotes_reply.json');
      eq(j.data.options.map((o) => [o.right, o.strike]), ks.map((k) => ['P', k]));
      const bad = [
        [{ underlying: 'AAPL' }, /expiration/],
        [{ underlying: 'AAPL', expiration: '2026-12-18' }, /expiration/],
        [{ underlying: 'AAPL', expiration: '20200117' }, /expiration/],
        [{ underlying: 'AAPL', expiration: exp, right: 'X' }, /right/],
        [{ underlying: 'AAPL', expiration: exp, strikes: [ks[0] + 0.5] }, /strikes/],
        [{ underlying: 'AAPL', expiration: exp, strikes: [] }, /strikes/],
        [{ underlying: 'AAPL', expiration: exp, window: 99 }, /window/],
        [{ expiration: exp }, /underlying/],
      ];
      for (const [body, re] of bad) {
        const [r] = await both(st, 'ib.rpc.options.quotes', body, null, 'bad_request');
        assert(re.test(r.error.message), `${JSON.stringify(body)}: ${r.error.message}`);
      }
      await both(st, 'ib.rpc.options.quotes', { underlying: 'NOSUCH', expiration: exp }, null, 'unknown_symbol');
    });
  } finally {
    await st.stop();
  }
  T.done();
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
