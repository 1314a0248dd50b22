// wave2_interop.test.js — market depth (PROTOCOL.md §3.12), tick-by-tick (§3.13), real-time bars (§3.14) and
// options (§3.15) of ib-sim, against a TWS API client nobody here wrote (@stoqey/ib 1.6.10). Needs IB_SIM_BIN.
//
// @stoqey/ib 1.6.10 and these messages, compared with the official decoder (ibapi 10.41
// processMarketDepthMsg / processMarketDepthL2Msg / processTickByTickMsg):
//  - updateMktDepth / updateMktDepthL2: same fields and the same isSmartDepth gate (sv >= 146); the
//    library keeps no book, so the test applies the operations itself (a side is an ordered list,
//    insert / delete at `position` shift the rows below: PROTOCOL.md §3.12).
//  - tickByTick: same layouts and attribute bits; the library reads `time` with readStr, so it hands
//    out a string for every type although its typings say number for BidAsk and MidPoint.
//  - cancelMktDepth sends isSmartDepth from sv 146, as the official client.
//  - realtimeBar: same 11 fields (time read as an int).
//  - securityDefinitionOptionParameter: same layout; expirations and strikes come as arrays, and the
//    multiplier as a number although the typings say string.
//  - tickOptionComputation at sv >= 156: same 12 fields; the library maps impliedVol to undefined only
//    when it is exactly -1, where the official decoder takes any negative value as "not computed".
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const npm = require("../node/npm");
const { EventName } = npm("@stoqey/ib");
const lib = require("../node/sim_lib");

const stk = (symbol, exchange = "SMART") => ({ symbol, secType: "STK", exchange, currency: "USD" });

/** A client's copy of one depth subscription, built from the operations as IB documents them. */
class Book {
  constructor() { this.sides = [[], []]; this.ops = [0, 0, 0]; this.makers = new Set(); this.smart = new Set(); }
  apply(position, operation, side, price, size, marketMaker, isSmartDepth) {
    const rows = this.sides[side];
    assert.ok(side === 0 || side === 1, `side ${side}`);
    if (operation === 0) {
      assert.ok(position <= rows.length, `insert at ${position} of ${rows.length}`);
      rows.splice(position, 0, { price, size });
    } else if (operation === 1) {
      assert.ok(position < rows.length, `update at ${position} of ${rows.length}`);
      rows[position] = { price, size };
    } else {
      assert.equal(operation, 2);
      assert.ok(position < rows.length, `delete at ${position} of ${rows.length}`);
      rows.splice(position, 1);
    }
    this.ops[operation]++;
    if (marketMaker !== undefined) this.makers.add(marketMaker);
    if (isSmartDepth !== undefined) this.smart.add(isSmartDepth);
  }
  clear() { this.sides = [[], []]; }
  check(rows) {
    const [asks, bids] = this.sides;
    assert.ok(bids.length > 0 && asks.length > 0, "both sides have rows");
    assert.ok(bids.length <= rows && asks.length <= rows, `at most ${rows} rows`);
    for (let i = 1; i < bids.length; i++) assert.ok(bids[i].price < bids[i - 1].price, "bids descend");
    for (let i = 1; i < asks.length; i++) assert.ok(asks[i].price > asks[i - 1].price, "asks ascend");
    assert.ok(bids[0].price < asks[0].price, `not crossed: ${bids[0].price} < ${asks[0].price}`);
    for (const r of [...bids, ...asks]) assert.ok(r.size > 0, "sizes positive");
  }
}

function trackDepth(ib) {
  const books = new Map();
  const book = (id) => { if (!books.has(id)) books.set(id, new Book()); return books.get(id); };
  ib.on(EventName.updateMktDepth, (id, pos, op, side, price, size) => book(id).apply(pos, op, side, price, size));
  ib.on(EventName.updateMktDepthL2, (id, pos, mm, op, side, price, size, smart) =>
    book(id).apply(pos, op, side, price, size, mm, smart));
  return book;
}

test("market depth through @stoqey/ib: books, 309, 310, 317", { timeout: 90000 }, async (t) => {
  const sim = await lib.startSim(["--seed", "5", "--tick-rate", "300", "--log-level", "warn"]);
  t.after(() => lib.stopSim(sim));
  const a = await lib.connectClient(sim.port, 41);
  const b = await lib.connectClient(sim.port, 42);
  const bookA = trackDepth(a.ib), bookB = trackDepth(b.ib);
  a.ib.on(EventName.error, (err, code, id) => { if (code === 317) bookA(id).clear(); });
  b.ib.on(EventName.error, (err, code, id) => { if (code === 317) bookB(id).clear(); });

  a.ib.reqMktDepth(101, stk("AAPL"), 10, true);          // SMART depth: updateMktDepthL2
  b.ib.reqMktDepth(201, stk("AAPL"), 5, true);
  b.ib.reqMktDepth(202, stk("MSFT", "ISLAND"), 3, false); // one exchange: updateMktDepth
  await lib.sleep(1500);
  bookA(101).check(10);
  bookB(201).check(5);
  bookB(202).check(3);
  const ops = bookA(101).ops;
  assert.ok(ops[0] >= 20 && ops[1] > 0 && ops[2] > 0, `inserts, updates and deletes: ${ops}`);
  assert.deepEqual([...bookA(101).smart], [true], "isSmartDepth on every L2 row");
  assert.ok(bookA(101).makers.size > 1, "market makers named");
  assert.equal(bookB(202).makers.size, 0, "an exchange book comes as updateMktDepth");

  // the 4th subscription is refused with 309 (3 by default, as IB)
  a.ib.reqMktDepth(102, stk("NVDA"), 10, true);
  const e309 = await lib.waitError(a, 309, 102);
  assert.match(e309.msg, /Max number \(3\) of market depth requests/);
  // SMART without SMART depth: 10092
  b.ib.cancelMktDepth(202, false);
  await lib.sleep(200);
  a.ib.reqMktDepth(103, stk("NVDA"), 10, false);
  await lib.waitError(a, 10092, 103);
  a.ib.cancelMktDepth(999, true);
  await lib.waitError(a, 310, 999);
  // the control port's faults apply: an injected 354 answers the next reqMktDepth
  assert.match(await lib.control(sim, "inject 354 reqMktDepth"), /^ok inject 354 reqMktDepth/);
  a.ib.reqMktDepth(105, stk("NVDA"), 5, true);
  await lib.waitError(a, 354, 105);

  // with the market paused (nightly reset 1102), both clients hold ib-sim's book: B's 5 rows are A's first 5
  assert.match(await lib.control(sim, "reset 1102 3"), /^ok/);
  await lib.sleep(600);
  const [asksA, bidsA] = bookA(101).sides, [asksB, bidsB] = bookB(201).sides;
  assert.deepEqual(bidsB, bidsA.slice(0, 5), "same bids");
  assert.deepEqual(asksB, asksA.slice(0, 5), "same asks");

  // 317: each subscription is told to empty its book, then gets it again from inserts (still paused)
  const inserts = bookA(101).ops[0];
  assert.equal(await lib.control(sim, "depthreset"), "ok depthreset 2");
  await lib.waitError(a, 317, 101);
  await lib.waitError(b, 317, 201);
  await lib.sleep(400);
  assert.equal(bookA(101).ops[0], inserts + bookA(101).sides[0].length + bookA(101).sides[1].length);
  bookA(101).check(10);
  assert.deepEqual(bookB(201).sides[1], bookA(101).sides[1].slice(0, 5), "same bids after the reset");

  const st = await lib.stats(sim);
  assert.equal(st.depth_subscriptions, 2);
  assert.equal(st.max_depth, 3);
  assert.equal(st.depth_resets, 2);
  assert.ok(st.depth_ops > 100);
  assert.equal(st.errors["309"], 1);
  assert.equal(st.errors["317"], 2);
  assert.equal(st.requests.reqMktDepth, 6);
  assert.deepEqual(a.decodeErrors, []);
  assert.deepEqual(b.decodeErrors, []);
  a.ib.disconnect();
  b.ib.disconnect();
});

test("tick-by-tick through @stoqey/ib: four types, 10190, one request per instrument per N s", { timeout: 90000 },
  async (t) => {
    const sim = await lib.startSim(["--seed", "6", "--tick-rate", "300", "--max-tick-by-tick", "3",
      "--tbt-pacing-s", "2", "--log-level", "warn"]);
    t.after(() => lib.stopSim(sim));
    const c = await lib.connectClient(sim.port, 43);
    const ib = c.ib;
    const last = [], bidask = [], mid = [];
    ib.on(EventName.tickByTickAllLast, (id, type, time, price, size, attr, exchange, cond) =>
      last.push({ id, type, time, price, size, attr, exchange, cond }));
    ib.on(EventName.tickByTickBidAsk, (id, time, bid, ask, bidSize, askSize, attr) =>
      bidask.push({ id, time, bid, ask, bidSize, askSize, attr }));
    ib.on(EventName.tickByTickMidPoint, (id, time, m) => mid.push({ id, time, m }));

    ib.reqTickByTickData(1, stk("AAPL"), "Last", 0, false);
    ib.reqTickByTickData(2, stk("MSFT"), "BidAsk", 0, true);
    ib.reqTickByTickData(3, stk("NVDA"), "MidPoint", 0, false);
    ib.reqTickByTickData(4, stk("AMZN"), "AllLast", 0, false);
    await lib.waitError(c, 10190, 4);
    await lib.sleep(1200);
    const l1 = last.filter((e) => e.id === 1);
    assert.ok(l1.length > 10, `Last ticks: ${l1.length}`);
    for (const e of l1) {
      assert.equal(e.type, 1);
      assert.ok(e.price > 0 && e.size > 0);
      assert.equal(e.exchange, "NASDAQ");
      assert.equal(e.attr.unreported, false);
      assert.ok(Math.abs(Number(e.time) - Date.now() / 1000) < 30, "epoch seconds");
    }
    const ba = bidask.filter((e) => e.id === 2);
    assert.ok(ba.length > 5, `BidAsk ticks: ${ba.length}`);
    for (const e of ba) assert.ok(e.bid < e.ask && e.bidSize > 0 && e.askSize > 0);
    for (let i = 1; i < ba.length; i++)   // ignoreSize: a tick only when a price moved
      assert.ok(ba[i].bid !== ba[i - 1].bid || ba[i].ask !== ba[i - 1].ask, "ignoreSize");
    const m3 = mid.filter((e) => e.id === 3);
    assert.ok(m3.length > 5, `MidPoint ticks: ${m3.length}`);
    for (let i = 1; i < m3.length; i++) assert.notEqual(m3[i].m, m3[i - 1].m, "a midpoint tick when it moved");

    // one request per instrument per 2 s here (15 s by default): the next NVDA request is refused with 322
    ib.cancelTickByTickData(3);
    ib.reqTickByTickData(5, stk("NVDA"), "AllLast", 0, false);
    await lib.waitError(c, 322, 5);
    await lib.sleep(2100);
    ib.reqTickByTickData(6, stk("NVDA"), "AllLast", 0, false);
    await lib.sleep(1500);
    const all = last.filter((e) => e.id === 6);
    assert.ok(all.length > 10, `AllLast ticks: ${all.length}`);
    assert.ok(all.every((e) => e.type === 2));
    const odd = all.filter((e) => e.attr.unreported);
    assert.ok(odd.length > 0, "AllLast carries unreported odd lots");
    assert.ok(odd.every((e) => e.exchange === "FINRA" && e.size < 100));

    const st = await lib.stats(sim);
    assert.equal(st.tick_by_tick_subscriptions, 3);
    assert.equal(st.max_tick_by_tick, 3);
    assert.ok(st.tick_by_tick_events >= last.length + bidask.length + mid.length);
    assert.equal(st.errors["10190"], 1);
    assert.equal(st.errors["322"], 1);
    assert.deepEqual(c.decodeErrors, []);
    ib.disconnect();
  });

test("real-time bars through @stoqey/ib: 5-second bars on the clock, equal to the historical 5 secs bars",
  { timeout: 90000 }, async (t) => {
    const sim = await lib.startSim(["--seed", "7", "--log-level", "warn"]);
    t.after(() => lib.stopSim(sim));
    const c = await lib.connectClient(sim.port, 44);
    const ib = c.ib;
    const bars = [];
    ib.on(EventName.realtimeBar, (id, time, open, high, low, close, volume, wap, count) =>
      bars.push({ id, time, open, high, low, close, volume, wap, count }));
    ib.reqRealTimeBars(7, stk("AAPL"), 5, "TRADES", false);
    ib.reqRealTimeBars(8, { symbol: "EUR", secType: "CASH", exchange: "IDEALPRO", currency: "USD" }, 5, "MIDPOINT",
      false);
    ib.reqRealTimeBars(9, stk("AAPL"), 10, "TRADES", false);
    await lib.waitError(c, 321, 9);
    await lib.waitFor(ib, EventName.realtimeBar, (id) => id === 7 && bars.filter((b) => b.id === 7).length >= 2,
      15000, "two AAPL bars");
    for (const b of bars) {
      assert.equal(b.time % 5, 0, "on the 5 s grid");
      assert.ok(b.time <= Date.now() / 1000 - 5 + 1, "sent when its 5 s have ended");
      assert.ok(b.high >= Math.max(b.open, b.close) && b.low <= Math.min(b.open, b.close));
    }
    const aapl = bars.filter((b) => b.id === 7);
    assert.equal(aapl[1].time - aapl[0].time, 5, "consecutive");
    assert.ok(aapl.every((b) => b.volume > 0 && b.count > 0 && b.wap > 0), "TRADES: volume, WAP, count");
    const fx = bars.filter((b) => b.id === 8);
    assert.ok(fx.length >= 1 && fx.every((b) => b.volume === -1), "MIDPOINT: no volume");

    // the same interval from reqHistoricalData (5 secs, epoch dates) is the same bar
    const hist = [];
    ib.on(EventName.historicalData, (id, time, open, high, low, close, volume) => {
      if (id === 70 && !String(time).startsWith("finished")) hist.push({ time: Number(time), open, high, low, close, volume });
    });
    const done = lib.waitFor(ib, EventName.historicalData, (id, time) => id === 70 && String(time).startsWith("finished"),
      8000, "historical end");
    ib.reqHistoricalData(70, stk("AAPL"), "", "60 S", "5 secs", "TRADES", 0, 2, false);
    await done;
    const same = hist.find((h) => h.time === aapl[0].time);
    assert.ok(same, `a historical bar at ${aapl[0].time}`);
    for (const k of ["open", "high", "low", "close", "volume"]) assert.equal(same[k], aapl[0][k], k);

    // IB's 60 new requests in 10 minutes: the 61st is refused (162 pacing)
    for (let i = 0; i < 58; i++) {
      ib.reqRealTimeBars(100 + i, stk("MSFT"), 5, "TRADES", false);
      ib.cancelRealTimeBars(100 + i);
    }
    ib.reqRealTimeBars(200, stk("MSFT"), 5, "TRADES", false);
    const e = await lib.waitError(c, 162, 200, 15000);
    assert.match(e.msg, /pacing violation/);
    const st = await lib.stats(sim);
    assert.equal(st.real_time_bar_subscriptions, 2);
    assert.ok(st.real_time_bars >= 3);
    assert.equal(st.market_data_lines, 2, "real-time bars count as market-data lines");
    assert.deepEqual(c.decodeErrors, []);
    ib.disconnect();
  });

test("options through @stoqey/ib: the chain, greeks for in- and out-of-the-money options, 200", { timeout: 90000 },
  async (t) => {
    const sim = await lib.startSim(["--seed", "8", "--tick-rate", "20", "--log-level", "warn"]);
    t.after(() => lib.stopSim(sim));
    const c = await lib.connectClient(sim.port, 45);
    const ib = c.ib;
    const chain = [];
    ib.on(EventName.securityDefinitionOptionParameter, (id, exchange, conId, tradingClass, multiplier, exps, strikes) =>
      chain.push({ id, exchange, conId, tradingClass, multiplier, exps, strikes }));
    const end = lib.waitFor(ib, EventName.securityDefinitionOptionParameterEnd, (id) => id === 11, 8000, "chain end");
    ib.reqSecDefOptParams(11, "AAPL", "", "STK", 265598);
    await end;
    assert.deepEqual(chain.map((e) => e.exchange), ["SMART", "CBOE"]);
    const smart = chain[0];
    assert.equal(smart.conId, 265598);
    assert.equal(smart.tradingClass, "AAPL");
    assert.equal(Number(smart.multiplier), 100);   // the library hands out a number despite its typings
    assert.ok(smart.exps.length >= 5 && smart.exps.every((e) => /^\d{8}$/.test(e)), `expirations ${smart.exps}`);
    assert.deepEqual([...smart.exps].sort(), smart.exps, "ascending");
    assert.equal(smart.strikes.length, 51);
    assert.deepEqual(chain[1].strikes, smart.strikes, "the same chain on CBOE");
    const exchOnly = [];
    ib.on(EventName.securityDefinitionOptionParameter, (id, exchange) => { if (id === 12) exchOnly.push(exchange); });
    const end2 = lib.waitFor(ib, EventName.securityDefinitionOptionParameterEnd, (id) => id === 12, 8000, "end 12");
    ib.reqSecDefOptParams(12, "AAPL", "CBOE", "STK", 265598);
    await end2;
    assert.deepEqual(exchOnly, ["CBOE"]);
    ib.reqSecDefOptParams(13, "NOPE", "", "STK", 0);
    await lib.waitError(c, 200, 13);

    // greeks: an in-the-money call and an out-of-the-money put of the second expiration
    let spot;
    const bidSeen = lib.waitFor(ib, EventName.tickPrice, (id, type, price) => id === 1 && type === 1 && (spot = price) > 0);
    ib.reqMktData(1, stk("AAPL"), "", false, false);
    await bidSeen;
    const exp = smart.exps[3];
    const below = smart.strikes.filter((k) => k < spot * 0.96);
    const itmCall = below[below.length - 1], otmPut = below[below.length - 1];
    const opt = (strike, right) => ({ symbol: "AAPL", secType: "OPT", exchange: "SMART", currency: "USD",
      lastTradeDateOrContractMonth: exp, strike, right, multiplier: 100 });
    const comps = [];
    ib.on(EventName.tickOptionComputation, (id, type, attrib, iv, delta, price, pvDiv, gamma, vega, theta, und) =>
      comps.push({ id, type, attrib, iv, delta, price, pvDiv, gamma, vega, theta, und }));
    ib.reqMktData(2, opt(itmCall, "C"), "", false, false);
    ib.reqMktData(3, opt(otmPut, "P"), "", false, false);
    ib.reqMktData(4, opt(itmCall + 0.01, "C"), "", false, false);
    await lib.waitError(c, 200, 4);
    ib.reqMktData(5, { ...opt(itmCall, "C"), lastTradeDateOrContractMonth: "20200117" }, "", false, false);
    await lib.waitError(c, 200, 5);
    await lib.sleep(1500);
    for (const id of [2, 3]) {
      const mine = comps.filter((e) => e.id === id);
      assert.deepEqual([...new Set(mine.map((e) => e.type))].sort((a, b) => a - b), [10, 11, 12, 13]);
      for (const e of mine) {
        for (const k of ["iv", "delta", "price", "pvDiv", "gamma", "vega", "theta", "und"])
          assert.ok(Number.isFinite(e[k]), `${id} type ${e.type}: ${k} = ${e[k]}`);
        assert.ok(e.iv > 0.05 && e.iv < 2, `iv ${e.iv}`);
        assert.ok(e.gamma > 0 && e.vega > 0 && e.theta < 0 && (e.price > 0 || e.type === 10),
          JSON.stringify(e));   // a far option's bid may be 0
        assert.ok(Math.abs(e.und - spot) / spot < 0.05, "underlying price");
      }
    }
    const model = (id) => comps.filter((e) => e.id === id && e.type === 13).pop();
    assert.ok(model(2).delta > 0.6 && model(2).delta < 1, `ITM call delta ${model(2).delta}`);
    assert.ok(model(2).price > spot - itmCall, "a call is worth at least its intrinsic value (no dividends)");
    assert.ok(model(3).delta < 0 && model(3).delta > -0.4, `OTM put delta ${model(3).delta}`);
    const st = await lib.stats(sim);
    assert.equal(st.market_data_lines, 3, "options take market-data lines");
    assert.equal(st.requests.reqSecDefOptParams, 3);
    assert.deepEqual(c.decodeErrors, []);
    ib.disconnect();
  });
