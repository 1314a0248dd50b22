// stream.test.js — streaming quotes end to end: nats-server + ib-sim + ib-bridge.
// Leases (one reqMktData per instrument, cancel on the last lease, expiry, renewal, line budget),
// ib.quote.<key> events (schema, seq without gaps, full contract), ib.rpc.quote (stream and
// snapshot), IB errors as status, reconnect + 1101 resubscription, the KV last-value cache, bad input.
// Every reply and event is validated against schemas/ in both encodings.
'use strict';
const { startStack } = require('../node/stack');
const bus = require('../node/bus_lib');
const { schemas, collect, checkSeq, simCount, until, norm } = require('../node/quotes_lib');

const t = bus.runner('quotes.stream');
const check = schemas();

(async () => {
  const st = await startStack({
    bridgeEnv: {
      IBB_MD_LINE_BUDGET: '8', IBB_WATCHLIST: 'MSFT', IBB_BACKOFF_MIN_MS: '100', IBB_BACKOFF_MAX_MS: '400',
      IBB_REQUEST_TIMEOUT_MS: '4000',
    },
  });
  const req = (s, body, o) => st.request(`ib.rpc.${s}`, body, o);
  const aapl = collect(st.nc, 'ib.quote.AAPL');
  let lease;
  try {
    await t.step('watchlist instrument streams with no lease', async () => {
      const msft = collect(st.nc, 'ib.quote.MSFT');
      const e = await msft.waitFor((x) => x.v.bid !== undefined, 8000, 'MSFT quote');
      check('quote_event.json', e.v, 'watchlist event');
      bus.eq(e.enc, 'msgpack', 'default stream encoding');
      bus.eq(e.v.contract.symbol, 'MSFT');
      const s = await req('status', {});
      bus.assert(s.data.market_data.leases >= 1 && s.data.market_data.lines_used >= 1, JSON.stringify(s.data.market_data));
      msft.stop();
    });

    await t.step('subscribe AAPL (JSON): reply matches the schema, events arrive with seq and contract', async () => {
      const r = await req('subscribe', { symbols: ['AAPL'], ttl_s: 30 });
      bus.assert(!r.error, JSON.stringify(r.data));
      check('subscribe_reply.json', r.data, 'subscribe reply');
      lease = r.data.lease_id;
      const i = r.data.instruments[0];
      bus.eq([i.key, i.subject, i.contract.con_id, i.state], ['AAPL', 'ib.quote.AAPL', 265598, 'streaming']);
      const exp = Date.parse(r.data.expires_at) - Date.now();
      bus.assert(exp > 25000 && exp <= 31000, `expires_at ${r.data.expires_at}`);
      await until(() => aapl.events.length >= 4, 8000, '4 AAPL events');
      for (const e of aapl.events) check('quote_event.json', e.v, 'AAPL event');
      const last = aapl.events[aapl.events.length - 1].v;
      bus.eq([last.key, last.contract.con_id, last.contract.symbol, last.market_data_type], ['AAPL', 265598, 'AAPL', 'realtime']);
      for (const f of ['bid', 'ask', 'last', 'bid_size', 'ask_size', 'volume', 'close']) bus.assert(typeof last[f] === 'number', `field ${f}`);
      bus.assert(last.ask >= last.bid, 'ask >= bid');
      const now = Date.now() * 1e6;
      bus.assert(Math.abs(Number(last.recv_ts_ns) - now) < 10e9, `recv_ts_ns ${last.recv_ts_ns} far from now`);
      bus.assert(last.last_trade_ts > 1.6e9, 'last_trade_ts epoch seconds');
      checkSeq(aapl.events);
    });

    await t.step('MessagePack subscribe gets a MessagePack reply of the same shape', async () => {
      const r = await req('subscribe', { symbols: ['AAPL', 'AAPL'], ttl_s: 10 }, { msgpack: true });
      bus.assert(r.raw[0] >= 0x80, 'msgpack reply');
      check('subscribe_reply.json', r.data, 'msgpack subscribe reply');
      bus.eq(r.data.instruments.length, 1, 'duplicates counted once');
      const u = await req('unsubscribe', { lease_id: r.data.lease_id }, { msgpack: true });
      check('unsubscribe_reply.json', u.data);
    });

    await t.step('20 consumers leasing one instrument: one reqMktData; the last unsubscribe: one cancelMktData', async () => {
      const mk0 = await simCount(st, 'reqMktData');
      const cx0 = await simCount(st, 'cancelMktData');
      const rs = await Promise.all(Array.from({ length: 20 }, (_, i) =>
        req('subscribe', { symbols: ['NVDA'], ttl_s: 60 }, { msgpack: i % 2 === 1 })));
      const ids = new Set(rs.map((r) => r.data.lease_id));
      bus.eq(ids.size, 20, 'distinct leases');
      for (const r of rs) check('subscribe_reply.json', r.data);
      await bus.sleep(300);
      bus.eq(await simCount(st, 'reqMktData') - mk0, 1, 'reqMktData for 20 leases');
      const us = [];
      for (const id of [...ids].slice(0, 19)) us.push((await req('unsubscribe', { lease_id: id })).data);
      await bus.sleep(300);
      bus.eq(await simCount(st, 'cancelMktData') - cx0, 0, 'no cancel while a lease is left');
      const last = await req('unsubscribe', { lease_id: [...ids][19] });
      check('unsubscribe_reply.json', last.data);
      await until(async () => (await simCount(st, 'cancelMktData')) - cx0 === 1, 5000, 'one cancelMktData');
      await bus.sleep(300);
      bus.eq(await simCount(st, 'cancelMktData') - cx0, 1, 'exactly one cancelMktData');
      bus.eq(await simCount(st, 'reqMktData') - mk0, 1, 'still one reqMktData');
      const again = await req('unsubscribe', { lease_id: [...ids][19] });
      bus.eq([again.error && again.error.code, again.status], ['not_found', 404]);
      check('error.json', again.data);
    });

    await t.step('renewal keeps the lease id and moves the expiry; unknown lease ids are not_found', async () => {
      const r = await req('subscribe', { lease_id: lease, ttl_s: 120 });
      bus.assert(!r.error, JSON.stringify(r.data));
      check('subscribe_reply.json', r.data);
      bus.eq([r.data.lease_id, r.data.instruments.map((i) => i.key)], [lease, ['AAPL']]);
      bus.assert(Date.parse(r.data.expires_at) - Date.now() > 100000, 'expiry moved');
      const bad = await req('subscribe', { lease_id: 'ffffffffffffffffffffffffffffffff', symbols: ['AAPL'] });
      bus.eq([bad.error.code, bad.status], ['not_found', 404]);
      check('error.json', bad.data);
    });

    await t.step('a lease expires: cancelMktData once its ttl has passed', async () => {
      const cx0 = await simCount(st, 'cancelMktData');
      const r = await req('subscribe', { symbols: ['AMD'], ttl_s: 1 });
      bus.assert(!r.error, JSON.stringify(r.data));
      await until(async () => (await simCount(st, 'cancelMktData')) - cx0 === 1, 6000, 'cancel at expiry');
      const u = await req('unsubscribe', { lease_id: r.data.lease_id });
      bus.eq(u.error && u.error.code, 'not_found', 'expired lease is gone');
    });

    await t.step('line budget: a lease past ib.md_line_budget is refused with line_limit before IB sees it', async () => {
      const mk0 = await simCount(st, 'reqMktData');
      const syms = ['AMZN', 'GOOGL', 'META', 'TSLA', 'AVGO', 'COST', 'NFLX'];
      const r = await req('subscribe', { symbols: syms, ttl_s: 10 });
      bus.eq([r.error && r.error.code, r.status], ['line_limit', 429], JSON.stringify(r.data));
      check('error.json', r.data);
      bus.assert(/budget is 8/.test(r.error.message), r.error.message);
      await bus.sleep(200);
      bus.eq(await simCount(st, 'reqMktData') - mk0, 0, 'no reqMktData for a refused lease');
      const ok = await req('subscribe', { symbols: syms.slice(0, 5), ttl_s: 10 });
      bus.assert(!ok.error, 'within budget: ' + JSON.stringify(ok.data));
      await req('unsubscribe', { lease_id: ok.data.lease_id });
    });

    await t.step('ib.rpc.quote: cached stream state, IB snapshot, unknown symbol, both encodings', async () => {
      const q = await req('quote', { symbol: 'AAPL' });
      check('quote_reply.json', q.data, 'stream quote');
      bus.eq([q.data.source, q.data.key], ['stream', 'AAPL']);
      bus.assert(q.data.seq >= 1, 'seq of the stream');
      const mk0 = await simCount(st, 'reqMktData');
      const s = await req('quote', { symbol: 'IBM' }, { msgpack: true });
      bus.assert(s.raw[0] >= 0x80, 'msgpack reply');
      check('quote_reply.json', s.data, 'snapshot quote');
      bus.eq([s.data.source, s.data.seq, s.data.contract.con_id > 0], ['snapshot', 0, true]);
      bus.assert(typeof s.data.bid === 'number' && typeof s.data.last === 'number', 'snapshot has prices');
      bus.eq(await simCount(st, 'reqMktData') - mk0, 1, 'one snapshot request');
      const c = await req('quote', { contract: { symbol: 'IBM', sec_type: 'STK', exchange: 'SMART', currency: 'USD' } });
      bus.eq(c.data.source, 'snapshot', 'contract form');
      const u = await req('quote', { symbol: 'NOSUCH' });
      bus.eq([u.error && u.error.code, u.status, u.error.ib_code], ['unknown_symbol', 404, 200]);
      check('error.json', u.data);
      const b = await req('quote', {});
      bus.eq([b.error && b.error.code, b.status], ['bad_request', 400]);
    });

    await t.step('IB refuses a line (354): the subscribe reply and the subject carry the status', async () => {
      bus.assert((await st.simControl('inject 354 reqMktData')).startsWith('ok'), 'inject');
      const ev = collect(st.nc, 'ib.quote.INTC');
      const r = await req('subscribe', { symbols: ['INTC'], ttl_s: 20 });
      check('subscribe_reply.json', r.data);
      const i = r.data.instruments[0];
      bus.eq([i.state, i.status && i.status.ib_code, i.status && i.status.code], ['failed', 354, 'forbidden'], JSON.stringify(i));
      const e = await ev.waitFor((x) => x.v.status, 5000, 'status event');
      check('quote_event.json', e.v, 'status event');
      bus.eq(e.v.status.ib_code, 354);
      // a later subscribe retries the line; now IB accepts it and the status clears
      const r2 = await req('subscribe', { lease_id: r.data.lease_id });
      bus.eq(r2.data.instruments[0].state, 'streaming', JSON.stringify(r2.data));
      await ev.waitFor((x) => !x.v.status && x.v.bid !== undefined, 5000, 'quote after retry');
      checkSeq(ev.events);
      await req('unsubscribe', { lease_id: r.data.lease_id });
      ev.stop();
    });

    await t.step('bad subscribe input gets clear bad_request errors', async () => {
      const cases = [
        [{}, /symbols/], [{ symbols: 'AAPL' }, /symbols/], [{ symbols: [1] }, /symbols/], [{ symbols: ['AA.PL'] }, /not a valid/],
        [{ symbols: ['AAPL'], ttl_s: 0 }, /ttl_s/], [{ symbols: ['AAPL'], ttl_s: 'x' }, /ttl_s/],
        [{ symbols: Array.from({ length: 101 }, (_, i) => `S${i}`) }, /at most 100/],
        [{ contracts: [{ sec_type: 'STK' }] }, /contracts item 0/], [{ contracts: ['AAPL'] }, /contracts/],
      ];
      for (const [body, re] of cases) {
        const r = await req('subscribe', body);
        bus.eq([r.error && r.error.code, r.status], ['bad_request', 400], JSON.stringify(body));
        bus.assert(re.test(r.error.message), `${JSON.stringify(body)}: ${r.error.message}`);
        check('error.json', r.data);
      }
      const u = await req('subscribe', { symbols: ['NOSUCH'] });
      bus.eq([u.error.code, u.status], ['unknown_symbol', 404]);
      bus.assert(/NOSUCH/.test(u.error.message), u.error.message);
      const g = await req('subscribe', null, { raw: Buffer.from([0xc1, 0x00]) });
      bus.eq(g.status, 400, 'garbage body');
      const nb = await req('unsubscribe', {});
      bus.eq([nb.error.code, nb.status], ['bad_request', 400]);
    });

    await t.step('KV last-value cache holds the latest AAPL quote (MessagePack)', async () => {
      const kv = await st.nc.jetstream().views.kv('ib_quotes');
      const e = await until(async () => { try { return await kv.get('AAPL'); } catch (_) { return null; } }, 5000, 'kv AAPL');
      bus.assert(e && e.value && e.value.length, 'kv value');
      const v = bus.plain(bus.mpDecode(Buffer.from(e.value)));
      check('quote_event.json', v, 'kv value');
      bus.eq(v.key, 'AAPL');
      const lastSeq = Number(aapl.events[aapl.events.length - 1].v.seq);
      bus.assert(Number(v.seq) <= lastSeq && Number(v.seq) >= 1, `kv seq ${v.seq} vs stream ${lastSeq}`);
      const w = await kv.get('MSFT');
      bus.assert(w && w.value.length, 'watchlist instrument in kv');
    });

    await t.step('IB drop: reconnect resubscribes, quotes continue on the same subject, seq continues', async () => {
      const mk0 = await simCount(st, 'reqMktData');
      const n0 = aapl.events.length;
      const seq0 = Number(aapl.events[n0 - 1].v.seq);
      bus.assert((await st.simControl('drop')).startsWith('ok'), 'drop');
      await st.waitReady(10000);
      await aapl.waitFor((e, i) => Number(e.v.seq) > seq0 + 3, 10000, 'events after reconnect');
      checkSeq(aapl.events);
      const mk = await simCount(st, 'reqMktData') - mk0;
      bus.assert(mk >= 2, `AAPL and MSFT subscribed again (${mk})`);
    });

    await t.step('notice 1101 (data lost): every line is subscribed again', async () => {
      const mk0 = await simCount(st, 'reqMktData');
      const seq0 = Number(aapl.events[aapl.events.length - 1].v.seq);
      bus.assert((await st.simControl('reset 1101 1')).startsWith('ok'), 'reset');
      await until(async () => (await simCount(st, 'reqMktData')) - mk0 >= 2, 8000, 'resubscription after 1101');
      await aapl.waitFor((e) => Number(e.v.seq) > seq0 + 2, 8000, 'events after 1101');
      checkSeq(aapl.events);
    });

    await t.step('shutdown cancels the lines at IB', async () => {
      const cx0 = await simCount(st, 'cancelMktData');
      bus.eq(await st.bridge.stop(), 0, 'exit code');
      const cx = await simCount(st, 'cancelMktData') - cx0;
      bus.assert(cx >= 2, `cancelMktData on stop: ${cx}`);
    });
  } finally {
    aapl.stop();
    try { await st.stop(); } catch (e) { await t.step('clean stop', () => { throw e; }); }
  }
  t.done();
})().catch((e) => { console.error(e); process.exit(1); });
