// json.test.js — a person's view of quotes: JSON requests through a plain NATS client (the
// npm `nats` package standing in for `nats req` / `nats sub`), the JSON mirror (quote_encoding =
// both) and JSON streams (quote_encoding = json, also in the KV cache), validated against schemas/.
'use strict';
const { startStack } = require('../node/stack');
const bus = require('../node/bus_lib');
const { schemas, collect, checkSeq, until } = require('../node/quotes_lib');

const t = bus.runner('quotes.json');
const check = schemas();
const td = new TextDecoder();

(async () => {
  const st = await startStack({ bridgeEnv: { IBB_QUOTE_ENCODING: 'both' } });
  try {
    await t.step('nats req ib.rpc.subscribe {"symbols":["AAPL"],"ttl_s":60}: readable JSON as in the README', async () => {
      const m = await st.nc.request('ib.rpc.subscribe', new TextEncoder().encode('{"symbols":["AAPL"],"ttl_s":60}'), { timeout: 8000 });
      const text = td.decode(m.data);
      const v = JSON.parse(text); // the reply is JSON text, not MessagePack
      check('subscribe_reply.json', v);
      bus.eq(Object.keys(v), ['lease_id', 'ttl_s', 'expires_at', 'instruments']);
      bus.eq(Object.keys(v.instruments[0]), ['key', 'subject', 'state', 'contract']);
      bus.assert(/"subject":"ib\.quote\.AAPL"/.test(text), text);
    });

    await t.step('quote_encoding both: MessagePack on ib.quote.AAPL and the same event as JSON on ib.json.quote.AAPL', async () => {
      const mp = collect(st.nc, 'ib.quote.AAPL');
      const js = collect(st.nc, 'ib.json.quote.AAPL');
      await until(() => mp.events.length >= 3 && js.events.length >= 3, 8000, 'events in both encodings');
      bus.assert(mp.events.every((e) => e.enc === 'msgpack'), 'msgpack stream');
      bus.assert(js.events.every((e) => e.enc === 'json'), 'json mirror');
      for (const e of [...mp.events, ...js.events]) check('quote_event.json', e.v);
      const s = Number(js.events[1].v.seq);
      const twin = mp.events.find((e) => Number(e.v.seq) === s);
      bus.assert(twin, 'same seq in both');
      bus.eq([twin.v.bid, twin.v.ask, twin.v.last, Number(twin.v.recv_ts_ns) > 0], [js.events[1].v.bid, js.events[1].v.ask, js.events[1].v.last, true]);
      checkSeq(js.events);
      mp.stop();
      js.stop();
    });

    await t.step('nats req ib.rpc.quote {"symbol":"AAPL"}: JSON quote with snake_case fields', async () => {
      const m = await st.nc.request('ib.rpc.quote', new TextEncoder().encode('{"symbol":"AAPL"}'), { timeout: 8000 });
      const v = JSON.parse(td.decode(m.data));
      check('quote_reply.json', v);
      bus.eq([v.source, v.key, v.contract.con_id], ['stream', 'AAPL', 265598]);
      for (const k of Object.keys(v)) bus.assert(/^[a-z][a-z0-9_]*$/.test(k), `snake_case ${k}`);
      const e = await st.nc.request('ib.rpc.quote', new TextEncoder().encode('{"symbol":"NOSUCH"}'), { timeout: 8000 });
      bus.eq([e.headers.get('Nats-Service-Error-Code'), JSON.parse(td.decode(e.data)).error.code], ['404', 'unknown_symbol']);
      check('error.json', JSON.parse(td.decode(e.data)));
    });

    await t.step('quote_encoding json: ib.quote.AAPL itself is JSON, and so is the KV value', async () => {
      await st.bridge.stop();
      await st.restartBridge({ IBB_QUOTE_ENCODING: 'json', IBB_WATCHLIST: 'AAPL' });
      await st.waitReady();
      const ev = collect(st.nc, 'ib.quote.AAPL');
      await until(() => ev.events.length >= 2, 8000, 'JSON events');
      bus.assert(ev.events.every((e) => e.enc === 'json'), 'JSON stream');
      for (const e of ev.events) check('quote_event.json', e.v);
      const kv = await st.nc.jetstream().views.kv('ib_quotes');
      const got = await until(async () => {
        const e = await kv.get('AAPL').catch(() => null);
        return e && e.value.length && e.value[0] === 0x7b ? e : null;
      }, 5000, 'JSON KV value');
      const v = JSON.parse(td.decode(got.value));
      check('quote_event.json', v, 'kv value');
      ev.stop();
    });
  } finally {
    try { await st.stop(); } catch (e) { await t.step('clean stop', () => { throw e; }); }
  }
  t.done();
})().catch((e) => { console.error(e); process.exit(1); });
