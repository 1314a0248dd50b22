// depth_ticks_bars.test.js — streams beyond level 1 end to end (nats-server + ib-sim + ib-bridge over TCP):
// ib.rpc.subscribe kinds depth / ticks / bars. 20 consumers of one book, one tick stream and one bar
// stream cost one IB request each; the budgets answer line_limit before IB's 309 / 10190 / 101 (ib-sim
// counts none); the book published on ib.depth.AAPL equals ib-sim's own book (control `depthbook`)
// after 10,000 row operations, and again after a 317 reset; a second tick type of one instrument is
// paced (IB's 15 s rule, ib-sim counts no 322) and joins the same subject with seq unbroken; bars are
// subscribed again after an ib-sim restart; bad input names its field. Every event is validated against
// schemas/ in both encodings (nats.quote_encoding both: MessagePack + the JSON mirror).
'use strict';
const { startStack } = require('../node/stack');
const bus = require('../node/bus_lib');
const { schemas, collect, checkSeq, simCount, until, norm } = require('../node/quotes_lib');

const t = bus.runner('quotes.depth_ticks_bars');
const check = schemas();

(async () => {
  const st = await startStack({
    simArgs: ['--tick-rate', '400', '--max-tick-by-tick', '3', '--max-lines', '4'],
    bridgeEnv: { IBB_QUOTE_ENCODING: 'both', IBB_MD_LINE_BUDGET: '4', IBB_BACKOFF_MIN_MS: '100', IBB_BACKOFF_MAX_MS: '300' },
  });
  const sub = (body, o) => st.request('ib.rpc.subscribe', body, o);
  const depth = collect(st.nc, 'ib.depth.AAPL');
  const depthJs = collect(st.nc, 'ib.json.depth.AAPL');
  const ticks = collect(st.nc, 'ib.ticks.AAPL');
  const ticksJs = collect(st.nc, 'ib.json.ticks.AAPL');
  const bars = collect(st.nc, 'ib.bars.AAPL');
  const barsJs = collect(st.nc, 'ib.json.bars.AAPL');
  const errs = async () => (await st.simStats()).errors || {};
  const leases = { depth: [], ticks: [], bars: [] };
  try {
    await t.step('IB refuses a book (injected 354): the subscribe reply says so, the lease frees it', async () => {
      bus.assert((await st.simControl('inject 354 reqMktDepth')).startsWith('ok'), 'inject');
      const r = await sub({ symbols: ['IBM'], kind: 'depth', ttl_s: 60 });
      bus.assert(!r.error, JSON.stringify(r.data));
      check('subscribe_reply.json', r.data, 'subscribe reply');
      const i = r.data.instruments[0];
      bus.eq([i.state, i.status && i.status.ib_code, i.status && i.status.code], ['failed', 354, 'forbidden'], JSON.stringify(i));
      bus.assert(!(await st.request('ib.rpc.unsubscribe', { lease_id: r.data.lease_id })).error, 'unsubscribe');
    });

    await t.step('20 consumers of one book, one tick stream, one bar stream: one IB request each', async () => {
      const kinds = [
        ['depth', { kind: 'depth', rows: 10 }], ['ticks', { kind: 'ticks', type: 'last' }], ['bars', { kind: 'bars' }],
      ];
      for (const [k, extra] of kinds) {
        const rs = await Promise.all(Array.from({ length: 20 }, (_, i) =>
          sub({ symbols: ['AAPL'], ttl_s: 60, ...extra }, { msgpack: i % 2 === 1 })));
        for (const r of rs) {
          bus.assert(!r.error, JSON.stringify(r.data));
          check('subscribe_reply.json', r.data, `${k} subscribe reply`);
          bus.eq([r.data.kind, r.data.instruments[0].subject, r.data.instruments[0].contract.con_id], [k, `ib.${k}.AAPL`, 265598]);
          leases[k].push(r.data.lease_id);
        }
        bus.eq(new Set(leases[k]).size, 20, 'one lease per consumer');
      }
      bus.eq(rsDefault(await sub({ symbols: ['AAPL'], kind: 'depth', ttl_s: 60 })), 10, 'rows default 10');
      const counts = async () => [await simCount(st, 'reqMktDepth'), await simCount(st, 'reqTickByTickData'),
        await simCount(st, 'reqRealTimeBars')];
      await until(async () => (await counts()).join() === '2,1,1', 4000, 'the three requests at ib-sim');
      await bus.sleep(300);
      bus.eq(await counts(), [2, 1, 1], 'ib-sim saw one request per stream (and the refused IBM book)');
      const s = await st.request('ib.rpc.status', {});
      bus.eq(s.data.market_data.lines_used, 1, 'only the bars take a market-data line');
    });

    await t.step('a lease_id alone renews a depth lease (no new IB request)', async () => {
      const r = await sub({ lease_id: leases.depth[0], ttl_s: 90 }, { msgpack: true });
      bus.assert(!r.error, JSON.stringify(r.data));
      check('subscribe_reply.json', r.data, 'renewal reply');
      bus.eq([r.data.lease_id, r.data.kind, r.data.rows, r.data.ttl_s, r.data.instruments[0].subject],
        [leases.depth[0], 'depth', 10, 90, 'ib.depth.AAPL']);
      bus.eq(await simCount(st, 'reqMktDepth'), 2, 'no new reqMktDepth (AAPL, and the refused IBM)');
    });

    await t.step('events in both encodings match depth_event / ticks_event / bar_event', async () => {
      await until(() => depth.events.length >= 3 && depthJs.events.length >= 3 && ticks.events.length >= 3
        && ticksJs.events.length >= 3, 8000, 'depth and tick events');
      await until(() => bars.events.length >= 1 && barsJs.events.length >= 1, 8000, 'a 5-second bar');
      bus.eq([depth.events[0].enc, depthJs.events[0].enc], ['msgpack', 'json']);
      for (const [c, id] of [[depth, 'depth_event.json'], [depthJs, 'depth_event.json'], [ticks, 'ticks_event.json'],
        [ticksJs, 'ticks_event.json'], [bars, 'bar_event.json'], [barsJs, 'bar_event.json']]) {
        for (const e of c.events) check(id, e.v, `${id} (${e.enc})`);
      }
      const d = norm(depth.events[depth.events.length - 1].v);
      bus.eq([d.key, d.rows, d.bids.length, d.asks.length], ['AAPL', 10, 10, 10]);
      bus.assert(d.bids[0].price < d.asks[0].price && d.bids[0].market_maker, JSON.stringify(d.bids[0]));
      for (let i = 1; i < 10; i++) bus.assert(d.bids[i].price < d.bids[i - 1].price && d.asks[i].price > d.asks[i - 1].price, 'sorted');
      const tk = norm(ticks.events[0].v);
      bus.eq([tk.type, typeof tk.price, typeof tk.exchange, tk.unreported], ['last', 'number', 'string', false]);
      const b = norm(bars.events[0].v);
      bus.eq([b.time % 5, b.what_to_show], [0, 'TRADES']);
      bus.assert(b.low <= b.open && b.open <= b.high && b.count >= 0, JSON.stringify(b));
      checkSeq(depth.events);
      checkSeq(ticks.events);
    });

    await t.step('budgets answer line_limit before IB refuses (ib-sim counts no 309 / 10190 / 101)', async () => {
      for (const s of ['MSFT', 'IBM']) {
        bus.assert(!(await sub({ symbols: [s], kind: 'depth', ttl_s: 60 })).error, `depth ${s}`);
      }
      let r = await sub({ symbols: ['NVDA'], kind: 'depth', ttl_s: 60 });
      bus.eq(r.data.error && r.data.error.code, 'line_limit', JSON.stringify(r.data));
      bus.assert(/ib\.depth_budget/.test(r.data.error.message), r.data.error.message);
      r = await sub({ symbols: ['MSFT'], kind: 'depth', rows: 5, ttl_s: 60 });
      bus.eq(r.data.error && r.data.error.code, 'line_limit', 'other rows = another IB request');
      // ticks: AAPL last (held), AAPL bid_ask (paced: 15 s after AAPL's first request), MSFT last
      r = await sub({ symbols: ['AAPL'], kind: 'ticks', type: 'bid_ask', ttl_s: 60 });
      bus.assert(!r.error, JSON.stringify(r.data));
      bus.eq(r.data.instruments[0].state, 'paced', 'a second tick-by-tick request for AAPL within 15 s waits');
      leases.ticks.push(r.data.lease_id);
      bus.assert(!(await sub({ symbols: ['MSFT'], kind: 'ticks', ttl_s: 60 })).error, 'ticks MSFT');
      r = await sub({ symbols: ['IBM'], kind: 'ticks', ttl_s: 60 });
      bus.eq(r.data.error && r.data.error.code, 'line_limit', JSON.stringify(r.data));
      bus.assert(/ib\.tick_by_tick_budget/.test(r.data.error.message), r.data.error.message);
      // bars share the market-data lines with quotes: budget 4 = AAPL bars + MSFT bars + IBM bars + one quote
      bus.assert(!(await sub({ symbols: ['MSFT', 'IBM'], kind: 'bars', ttl_s: 60 })).error, 'bars MSFT IBM');
      bus.assert(!(await sub({ symbols: ['NVDA'], ttl_s: 60 })).error, 'a quote line');
      r = await sub({ symbols: ['TSLA'], kind: 'bars', ttl_s: 60 });
      bus.eq(r.data.error && r.data.error.code, 'line_limit', JSON.stringify(r.data));
      r = await sub({ symbols: ['TSLA'], ttl_s: 60 });
      bus.eq(r.data.error && r.data.error.code, 'line_limit', 'bars count against quote lines');
      const e = await errs();
      bus.eq([e['309'] || 0, e['10190'] || 0, e['101'] || 0, e['322'] || 0, e['162'] || 0], [0, 0, 0, 0, 0], JSON.stringify(e));
      const s = await st.request('ib.rpc.status', {});
      check('status_reply.json', s.data, 'status reply');
      bus.eq(s.data.market_data.lines_used, 4, JSON.stringify(s.data.market_data));
      const ms = s.data.market_data.streams;
      bus.eq([ms.depth_used, ms.depth_budget, ms.tick_by_tick_used, ms.tick_by_tick_budget, ms.bars_used, ms.bars_budget, ms.paced],
        [3, 3, 3, 3, 3, 4, 1], JSON.stringify(ms));
      bus.assert(ms.depth_events > 0 && ms.tick_events > 0 && ms.bar_events > 0, JSON.stringify(ms));
    });

    await t.step('bad input: the error names the field', async () => {
      const cases = [
        [{ symbols: ['AAPL'], kind: 'level3' }, /'kind'/],
        [{ symbols: ['AAPL'], kind: 7 }, /kind/],
        [{ symbols: ['AAPL'], kind: 'depth', rows: 0 }, /'rows' must be 1 to 50/],
        [{ symbols: ['AAPL'], kind: 'depth', rows: 51 }, /'rows' must be 1 to 50/],
        [{ symbols: ['AAPL'], kind: 'depth', rows: 'ten' }, /rows/],
        [{ symbols: ['AAPL'], kind: 'ticks', type: 'trades' }, /'type' must be/],
        [{ symbols: ['AAPL'], kind: 'bars', what_to_show: 'BID_ASK' }, /'what_to_show' must be/],
        [{ symbols: ['OPT:AAPL:SMART:USD:20261218:C:200:100'], kind: 'ticks' }, /'kind'.*options/],
        [{ kind: 'depth' }, /symbols/],
      ];
      for (const [body, re] of cases) {
        for (const msgpack of [false, true]) {
          const r = await sub(body, { msgpack });
          bus.eq(r.data.error && r.data.error.code, 'bad_request', JSON.stringify(body));
          check('error.json', r.data, 'error reply');
          bus.assert(re.test(r.data.error.message), `${JSON.stringify(body)}: ${r.data.error.message}`);
        }
      }
      const r = await sub({ symbols: ['NOSUCHSYM'], kind: 'depth' });
      bus.eq(r.data.error && r.data.error.code, 'unknown_symbol', JSON.stringify(r.data));
    });

    await t.step('the book equals ib-sim\'s own after 10,000 row operations, and again after a 317 reset', async () => {
      const ops0 = (await st.simStats()).depth_ops;
      await until(async () => (await st.simStats()).depth_ops - ops0 >= 10000, 25000, '10,000 depth operations');
      bus.assert((await st.simControl('reset 1102 4')).startsWith('ok'), 'pause the market');
      const same = async (what) => {
        await bus.sleep(400);
        const line = await st.simControl('depthbook AAPL 10');
        bus.assert(line.startsWith('ok '), line);
        const sim = JSON.parse(line.slice(3));
        const mine = norm(depth.events[depth.events.length - 1].v);
        const rows = (side) => side.map((r) => [r.price, r.size, r.market_maker]);
        bus.eq(JSON.stringify([rows(mine.bids), rows(mine.asks)]), JSON.stringify([sim.bids, sim.asks]), what);
        const snap = await st.request('ib.rpc.depth', { symbol: 'AAPL' }, { msgpack: true });
        check('depth_event.json', snap.data, 'ib.rpc.depth reply');
        bus.eq(JSON.stringify([rows(snap.data.bids), rows(snap.data.asks)]), JSON.stringify([sim.bids, sim.asks]), `${what} (ib.rpc.depth)`);
        bus.eq(Number(snap.data.seq), Number(mine.seq), 'ib.rpc.depth answers the last published book');
      };
      await same('book after 10,000 operations');
      const n = depth.events.length;
      bus.assert(/^ok depthreset 3/.test(await st.simControl('depthreset')), 'depthreset');
      await until(() => depth.events.length > n, 4000, 'the book after 317');
      await same('book rebuilt after 317');
      checkSeq(depth.events);
      const miss = await st.request('ib.rpc.depth', { symbol: 'TSLA' });
      bus.eq(miss.data.error && miss.data.error.code, 'line_limit', 'no TSLA book, and no room for a lease of its own');
    });

    await t.step('the paced bid_ask request goes out after 15 s and joins ib.ticks.AAPL, seq unbroken', async () => {
      await ticks.waitFor((e) => e.v.type === 'bid_ask', 20000, 'a bid_ask tick');
      const types = new Set(ticks.events.map((e) => e.v.type));
      bus.assert(types.has('last') && types.has('bid_ask'), [...types].join());
      checkSeq(ticks.events);
      bus.eq((await errs())['322'] || 0, 0, 'ib-sim saw no request inside its 15 s window');
    });

    await t.step('unsubscribing 19 of 20 keeps the book; the 20th cancels it at IB', async () => {
      const cx0 = await simCount(st, 'cancelMktDepth');
      for (const id of leases.depth.slice(0, 19)) bus.assert(!(await st.request('ib.rpc.unsubscribe', { lease_id: id })).error, 'unsubscribe');
      bus.eq(await simCount(st, 'cancelMktDepth'), cx0, 'still leased');
      bus.assert(!(await st.request('ib.rpc.unsubscribe', { lease_id: leases.depth[19] })).error, 'unsubscribe');
      bus.assert(!(await st.request('ib.rpc.unsubscribe', { lease_id: leases.defaultDepth })).error, 'unsubscribe');
      await until(async () => (await simCount(st, 'cancelMktDepth')) === cx0 + 1, 4000, 'cancelMktDepth');
    });

    await t.step('notice 1101 (data lost): the bars are subscribed again', async () => {
      const rb0 = await simCount(st, 'reqRealTimeBars');
      bus.assert((await st.simControl('reset 1101 1')).startsWith('ok'), 'reset');
      await until(async () => (await simCount(st, 'reqRealTimeBars')) >= rb0 + 3, 6000, 'bars requested again after 1101');
    });

    await t.step('after an ib-sim restart the bars (and ticks) are subscribed again on the same subject', async () => {
      const rb0 = await simCount(st, 'reqRealTimeBars');
      const last = norm(bars.events[bars.events.length - 1].v);
      bus.assert((await st.simControl('restart 1')).startsWith('ok'), 'restart');
      await until(async () => (await simCount(st, 'reqRealTimeBars')) >= rb0 + 3, 12000, 'bars requested again');
      await bars.waitFor((e) => Number(e.v.time) > last.time && e.v.key === 'AAPL' && Number(e.v.seq) > last.seq, 12000, 'a bar after the restart');
      checkSeq(bars.events);
      const e = await errs();
      bus.eq([e['101'] || 0, e['162'] || 0, e['322'] || 0], [0, 0, 0], JSON.stringify(e));
    });
  } finally {
    for (const c of [depth, depthJs, ticks, ticksJs, bars, barsJs]) c.stop();
    try { await st.stop(); } catch (e) { await t.step('clean stop', () => { throw e; }); }
  }
  t.done();

  function rsDefault(r) {
    bus.assert(!r.error, JSON.stringify(r.data));
    leases.defaultDepth = r.data.lease_id;
    return r.data.rows;
  }
})().catch((e) => { console.error(e); process.exit(1); });
