// candles.test.js — ib.rpc.candles against ib-sim over a real nats-server: both encodings validated
// against schemas/candles_reply.json, the cache, validation before any IB request, end times, the payload
// limit, and the adapter serving on after bad input.
'use strict';
const bus = require('../node/bus_lib');
const { startStack } = require('../node/stack');
const Q = require('../node/queries_lib');
const { assert, eq } = bus;

(async () => {
  const T = bus.runner('queries.candles');
  const S = Q.schemas();
  const st = await startStack({});
  const hist = async () => (await st.simStats()).historical_requests || 0;
  try {
    await T.step('candles in both encodings match the schema; the second is served from the cache', async () => {
      const body = { symbol: 'AAPL', duration: '1 D', bar_size: '1 hour', what_to_show: 'TRADES', use_rth: true };
      S.check('candles_request.json', body);
      const [j, m] = await Q.both(st, S, 'ib.rpc.candles', body, 'candles_reply.json');
      assert(j.data.count > 0 && j.data.bars.length === j.data.count, `bars: ${j.data.count}`);
      eq(j.data.contract.con_id, 265598);
      eq(j.data.cached, false);
      eq(m.data.cached, true, 'identical request within 15 s');
      eq(Q.num(m.data.bars), Q.num(j.data.bars), 'cached bars equal the first answer');
      for (let i = 1; i < j.data.bars.length; i++) assert(j.data.bars[i].t > j.data.bars[i - 1].t, 'bars in time order');
      const b = j.data.bars[0];
      assert(b.l <= b.o && b.o <= b.h && b.l <= b.c && b.c <= b.h, `ohlc ${JSON.stringify(b)}`);
      eq(await hist(), 1, 'one IB request for the two');
    });

    await T.step('spellings are normalised (5 min, lower-case what_to_show, integer use_rth) and MIDPOINT has null volume', async () => {
      const r = await st.request('ib.rpc.candles', { symbol: 'MSFT', duration: '2 D', bar_size: '5 min', what_to_show: 'midpoint', use_rth: 0 });
      assert(!r.error, JSON.stringify(r.error));
      S.check('candles_reply.json', r.data);
      eq([r.data.bar_size, r.data.what_to_show, r.data.use_rth, r.data.duration], ['5 mins', 'MIDPOINT', false, '2 D']);
      assert(r.data.bars.length > 0 && r.data.bars[0].v === null && r.data.bars[0].wap === null, 'no volume for MIDPOINT');
    });

    await T.step('daily bars and an ISO end with an offset (converted to UTC)', async () => {
      const [j] = await Q.both(st, S, 'ib.rpc.candles', { symbol: 'SPY', duration: '1 M', bar_size: '1 day', end: '2024-03-01T11:00:00-05:00' }, 'candles_reply.json');
      eq(j.data.end, '2024-03-01T16:00:00Z');
      assert(j.data.bars.length >= 15, `daily bars: ${j.data.bars.length}`);
      const last = j.data.bars[j.data.bars.length - 1];
      assert(last.t <= Date.parse('2024-03-01T16:00:00Z') / 1000, 'last bar before the end');
      eq(last.t % 86400, 0, 'daily bar time is 00:00 UTC of its date');
    });

    await T.step('a contract object and a default request (duration 1 D, 5 mins, TRADES)', async () => {
      const r = await st.request('ib.rpc.candles', { contract: { symbol: 'IBM', sec_type: 'STK', exchange: 'SMART', currency: 'USD' } });
      assert(!r.error, JSON.stringify(r.error));
      S.check('candles_reply.json', r.data);
      eq([r.data.key, r.data.duration, r.data.bar_size, r.data.what_to_show], ['IBM', '1 D', '5 mins', 'TRADES']);
    });

    const before = await hist();
    const bad = [
      [{ symbol: 'AAPL', bar_size: '7 mins' }, 'bar_size'],
      [{ symbol: 'AAPL', bar_size: 5 }, 'bar_size'],
      [{ symbol: 'AAPL', duration: '1 X' }, 'duration'],
      [{ symbol: 'AAPL', duration: 'one day' }, 'duration'],
      [{ symbol: 'AAPL', duration: '0 D' }, 'duration'],
      [{ symbol: 'AAPL', duration: '400 D' }, 'duration'],
      [{ symbol: 'AAPL', duration: '1 D', bar_size: '1 secs' }, 'step table'],
      [{ symbol: 'AAPL', duration: '3600 S', bar_size: '1 secs' }, 'step table'],
      [{ symbol: 'AAPL', duration: '1 D', bar_size: '30 secs' }, 'step table'],
      [{ symbol: 'AAPL', duration: '60 S', bar_size: '1 hour' }, 'longer than the duration'],
      [{ symbol: 'AAPL', duration: '1 Y', bar_size: '1 min' }, 'calendar'],
      [{ symbol: 'AAPL', what_to_show: 'PRICES' }, 'what_to_show'],
      [{ symbol: 'AAPL', what_to_show: 'ADJUSTED_LAST', end: '2024-01-05T00:00:00Z' }, 'ADJUSTED_LAST'],
      [{ symbol: 'AAPL', end: '05/01/2024' }, 'end'],
      [{ symbol: 'AAPL', end: '2024-02-31T00:00:00Z' }, 'end'],
      [{ symbol: 'AAPL', end: '2999-01-01T00:00:00Z' }, 'end'],
      [{ symbol: 'AAPL', end: 20240105 }, 'end'],
      [{ symbol: 'AAPL', use_rth: 'yes' }, 'use_rth'],
      [{ symbol: 'AA PL' }, 'symbol'],
      [{ symbol: 42 }, 'symbol'],
      [{}, 'symbol'],
      [{ duration: '1 D' }, 'symbol'],
    ];
    await T.step(`${bad.length} invalid requests get bad_request naming the problem, in both encodings, before any IB request`, async () => {
      for (const [body, word] of bad) {
        const rs = await Q.both(st, S, 'ib.rpc.candles', body, null, { error: 'bad_request' });
        for (const r of rs) {
          assert(r.status === 400, `status ${r.status}`);
          assert(r.error.message.includes(word) || (word === 'symbol' && /symbol|instrument|contract/.test(r.error.message)),
            `${JSON.stringify(body)}: message "${r.error.message}" should mention ${word}`);
        }
      }
      eq(await hist(), before, 'no historical request reached ib-sim');
    });

    await T.step('malformed bodies get bad_request', async () => {
      for (const raw of [Buffer.from('{"symbol":'), Buffer.from('[1,2]'), Buffer.from([0xc1]), Buffer.from('"AAPL"')]) {
        const r = await st.request('ib.rpc.candles', null, { raw });
        eq(r.error && r.error.code, 'bad_request', `body ${raw.toString('hex')}`);
        S.check('error.json', r.data);
      }
    });

    await T.step('an unknown symbol is unknown_symbol (IB 200)', async () => {
      const rs = await Q.both(st, S, 'ib.rpc.candles', { symbol: 'NOSUCH', duration: '1 D', bar_size: '1 hour' }, null, { error: 'unknown_symbol' });
      eq(rs[0].error.ib_code, 200);
    });

    await T.step('an IB error on the request (injected 321) becomes bad_request with ib_code; a 162 pacing from IB becomes pacing with retry_after_ms', async () => {
      eq((await st.simControl('inject 321 reqHistoricalData')).slice(0, 2), 'ok');
      let r = await st.request('ib.rpc.candles', { symbol: 'KO', duration: '1 D', bar_size: '1 hour' });
      eq([r.error && r.error.code, r.error && r.error.ib_code], ['bad_request', 321]);
      eq((await st.simControl('inject 162 reqHistoricalData')).slice(0, 2), 'ok');
      r = await st.request('ib.rpc.candles', { symbol: 'PEP', duration: '1 D', bar_size: '1 hour' });
      S.check('error.json', r.data);
      eq([r.error && r.error.code, r.error && r.error.ib_code], ['pacing', 162], JSON.stringify(r.data));
      assert(r.error.retry_after_ms >= 1000, 'retry_after_ms');
      eq(r.status, 429);
    });

    await T.step('a reply over the NATS max_payload is refused with payload_too_large naming the limit', async () => {
      const r = await st.request('ib.rpc.candles', { symbol: 'AAPL', duration: '1 M', bar_size: '1 min', use_rth: false }, { timeout: 20000 });
      S.check('error.json', r.data);
      eq(r.error && r.error.code, 'payload_too_large', JSON.stringify(Q.num(r.data)).slice(0, 300));
      assert(/max_payload of 1048576 bytes/.test(r.error.message), r.error.message);
      eq(r.status, 413);
    });

    await T.step('the adapter keeps serving: a fresh request still answers, status is healthy', async () => {
      const r = await st.request('ib.rpc.candles', { symbol: 'NVDA', duration: '1 D', bar_size: '30 mins' });
      assert(!r.error, JSON.stringify(r.error));
      S.check('candles_reply.json', r.data);
      const s = await st.request('ib.rpc.status', {});
      S.check('status_reply.json', s.data);
      eq(s.data.connected, true);
      eq(((await st.simStats()).errors || {})['162'] || 0, 1, 'only the injected 162');
    });
  } finally {
    await T.step('ib-bridge stops cleanly', () => st.stop());
  }
  T.done();
})().catch((e) => { console.error(e); process.exit(1); });
