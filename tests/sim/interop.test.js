// interop.test.js — ib-sim against a TWS API client nobody here wrote (@stoqey/ib 1.6.10).
// Runs every check of the ib-sim issue, then the same checks after a restart injected through the
// control port (the client reconnects and sees its orders again), then the determinism check.
// Fails on any decoding error the library reports. Needs IB_SIM_BIN.
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const npm = require("../node/npm");
const { EventName } = npm("@stoqey/ib");
const lib = require("../node/sim_lib");

const AAPL = { symbol: "AAPL", secType: "STK", exchange: "SMART", currency: "USD" };
const MSFT = { symbol: "MSFT", secType: "STK", exchange: "SMART", currency: "USD" };
const SUMMARY_TAGS = [
  "NetLiquidation", "TotalCashValue", "BuyingPower", "AvailableFunds", "ExcessLiquidity",
  "GrossPositionValue", "RealizedPnL", "UnrealizedPnL",
];

function collect(ib, event, filter) {
  const out = [];
  const on = (...a) => {
    if (!filter || filter(...a)) out.push(a);
  };
  ib.on(event, on);
  out.stop = () => ib.off(event, on);
  return out;
}

async function historical(ib, reqId, end, dur, bar, what, rth) {
  const bars = [];
  const finished = lib.waitFor(ib, EventName.historicalData,
    (id, date) => id === reqId && String(date).startsWith("finished"), 10000, "historicalData end");
  const on = (id, date, o, h, l, c, v, count) => {
    if (id === reqId && !String(date).startsWith("finished")) bars.push({ date, o, h, l, c, v, count });
  };
  ib.on(EventName.historicalData, on);
  ib.reqHistoricalData(reqId, AAPL, end, dur, bar, what, rth, 1, false);
  await finished;
  ib.off(EventName.historicalData, on);
  return bars;
}

/** Every check of the issue, on a connected client. `round` keeps request ids and dates apart. */
async function runChecks(sim, c, round) {
  const ib = c.ib;
  const base = round * 100000;

  // connect: nextValidId and managedAccounts
  assert.ok(c.nextValidId > 0, "nextValidId");
  assert.match(c.accounts, /^DU\d+/, "managedAccounts");
  const account = c.accounts.split(",")[0];

  // streaming AAPL: bid < ask
  const mdId = base + 1001;
  let bid, ask;
  let pairs = 0;
  const ticks = collect(ib, EventName.tickPrice, (id) => id === mdId);
  const enough = lib.waitFor(ib, EventName.tickPrice, (id, type, price) => {
    if (id !== mdId) return false;
    if (type === 1) bid = price;
    if (type === 2) ask = price;
    if (bid !== undefined && ask !== undefined) {
      assert.ok(bid < ask, `bid ${bid} < ask ${ask}`);
      pairs++;
    }
    return pairs >= 8;
  }, 10000, "8 AAPL quotes");
  ib.reqMktData(mdId, AAPL, "", false, false);
  await enough;
  ticks.stop();
  assert.ok(ticks.length >= 8);
  ib.cancelMktData(mdId);

  // snapshot ends with tickSnapshotEnd
  const snapId = base + 1002;
  const snapTicks = collect(ib, EventName.tickPrice, (id) => id === snapId);
  const snapEnd = lib.waitFor(ib, EventName.tickSnapshotEnd, (id) => id === snapId, 8000, "tickSnapshotEnd");
  ib.reqMktData(snapId, MSFT, "", true, false);
  await snapEnd;
  snapTicks.stop();
  assert.ok(snapTicks.some(([, type]) => type === 1) && snapTicks.some(([, type]) => type === 2), "snapshot has bid+ask");

  // historical bars in order with the right count: 1 day of RTH hourly bars = 09:30, 10:00 ... 15:00
  const end = `2024010${2 + round} 16:00:00 US/Eastern`;
  const bars = await historical(ib, base + 2001, end, "1 D", "1 hour", "TRADES", 1);
  assert.equal(bars.length, 7, "7 hourly RTH bars");
  for (let i = 0; i < bars.length; i++) {
    const b = bars[i];
    assert.ok(b.l <= Math.min(b.o, b.c) && b.h >= Math.max(b.o, b.c), "OHLC consistent");
    if (i) assert.ok(b.date > bars[i - 1].date, "bars in order");
  }
  assert.match(bars[0].date, /09:30:00/);
  const fiveMin = await historical(ib, base + 2002, end, "1 D", "5 mins", "MIDPOINT", 1);
  assert.equal(fiveMin.length, 78, "78 five-minute RTH bars");
  assert.equal(fiveMin[0].o, bars[0].o, "hourly and 5-min bars come from the same walk");

  // error 162: the identical request again within 15 s is a pacing violation
  ib.reqHistoricalData(base + 2003, AAPL, end, "1 D", "1 hour", "TRADES", 1, 1, false);
  await lib.waitError(c, 162, base + 2003);

  // contract details
  const cdId = base + 3001;
  const details = collect(ib, EventName.contractDetails, (id) => id === cdId);
  const cdEnd = lib.waitFor(ib, EventName.contractDetailsEnd, (id) => id === cdId, 8000, "contractDetailsEnd");
  ib.reqContractDetails(cdId, AAPL);
  await cdEnd;
  details.stop();
  assert.equal(details.length, 1);
  assert.equal(details[0][1].contract.conId, 265598);
  assert.equal(details[0][1].minTick, 0.01);
  assert.ok(details[0][1].tradingHours.length > 10);

  // error 200 for an unknown symbol
  ib.reqContractDetails(base + 3002, { symbol: "NOSUCHSYM", secType: "STK", exchange: "SMART", currency: "USD" });
  await lib.waitError(c, 200, base + 3002);

  // a market order: orderStatus Filled, execDetails, commissionReport
  let orderId = c.nextValidId + round * 10;
  const mktId = orderId++;
  const execs = collect(ib, EventName.execDetails, (reqId, contract, exec) => exec.orderId === mktId);
  const comms = collect(ib, EventName.commissionReport);
  const filled = lib.waitFor(ib, EventName.orderStatus, (id, status) => id === mktId && status === "Filled",
    8000, "orderStatus Filled");
  ib.placeOrder(mktId, AAPL, { action: "BUY", totalQuantity: 100, orderType: "MKT", tif: "DAY", transmit: true });
  const [, , filledQty, remaining, avgPrice] = await filled;
  assert.equal(filledQty, 100);
  assert.equal(remaining, 0);
  assert.ok(avgPrice > 0);
  await lib.sleep(100);
  execs.stop();
  comms.stop();
  assert.ok(execs.length >= 1, "execDetails");
  assert.equal(execs.reduce((s, [, , e]) => s + e.shares, 0), 100);
  const execIds = new Set(execs.map(([, , e]) => e.execId));
  assert.ok(comms.some(([cr]) => execIds.has(cr.execId) && cr.commission > 0), "commissionReport");

  // a limit order away from the market rests, then is cancelled
  const lmtId = orderId++;
  const lmtPrice = Math.round(bid * 0.8 * 100) / 100;
  const submitted = lib.waitFor(ib, EventName.orderStatus, (id, status) => id === lmtId && status === "Submitted",
    8000, "orderStatus Submitted");
  ib.placeOrder(lmtId, AAPL, { action: "BUY", totalQuantity: 10, orderType: "LMT", lmtPrice, tif: "GTC", transmit: true });
  await submitted;
  const openOrders = collect(ib, EventName.openOrder);
  const ooEnd = lib.waitFor(ib, EventName.openOrderEnd, () => true, 8000, "openOrderEnd");
  ib.reqOpenOrders();
  await ooEnd;
  openOrders.stop();
  assert.ok(openOrders.some(([id, , order]) => id === lmtId && order.lmtPrice === lmtPrice), "resting order listed");
  const cancelled = lib.waitFor(ib, EventName.orderStatus, (id, status) => id === lmtId && status === "Cancelled",
    8000, "orderStatus Cancelled");
  ib.cancelOrder(lmtId);
  await cancelled;
  await lib.waitError(c, 202, lmtId);

  // a resting order that stays, to be seen again after the restart
  const keepId = orderId++;
  const kept = lib.waitFor(ib, EventName.orderStatus, (id, status) => id === keepId && status === "Submitted");
  ib.placeOrder(keepId, AAPL, { action: "BUY", totalQuantity: 5, orderType: "LMT", lmtPrice: Math.round(bid * 0.7 * 100) / 100,
    tif: "GTC", transmit: true, orderRef: `keep-${round}` });
  await kept;

  // positions and account summary reflect the fill
  const positions = collect(ib, EventName.position);
  const posEnd = lib.waitFor(ib, EventName.positionEnd, () => true, 8000, "positionEnd");
  ib.reqPositions();
  await posEnd;
  positions.stop();
  ib.cancelPositions();
  const aapl = positions.find(([acct, contract]) => acct === account && contract.conId === 265598);
  assert.ok(aapl, "AAPL position");
  assert.equal(aapl[2], 100 * (round + 1), "position size");

  const sumId = base + 4001;
  const summary = collect(ib, EventName.accountSummary, (id) => id === sumId);
  const sumEnd = lib.waitFor(ib, EventName.accountSummaryEnd, (id) => id === sumId, 8000, "accountSummaryEnd");
  ib.reqAccountSummary(sumId, "All", SUMMARY_TAGS.join(","));
  await sumEnd;
  summary.stop();
  ib.cancelAccountSummary(sumId);
  const v = {};
  for (const [, acct, tag, value, ccy] of summary) if (acct === account) v[tag] = { value: +value, ccy };
  for (const tag of SUMMARY_TAGS) assert.ok(v[tag], `summary tag ${tag}`);
  assert.ok(v.GrossPositionValue.value > 0, "GrossPositionValue > 0");
  assert.ok(v.TotalCashValue.value < 1000000, "cash spent");
  assert.ok(Math.abs(v.NetLiquidation.value - (v.TotalCashValue.value + v.GrossPositionValue.value)) < 0.05,
    "NetLiquidation = cash + stock value");
  assert.ok(v.RealizedPnL.value < 0, "commissions are in realized P&L");
  assert.equal(v.NetLiquidation.ccy, "USD");

  // account updates carry the portfolio row
  const portfolio = collect(ib, EventName.updatePortfolio);
  const dlEnd = lib.waitFor(ib, EventName.accountDownloadEnd, (a) => a === account, 8000, "accountDownloadEnd");
  ib.reqAccountUpdates(true, account);
  await dlEnd;
  portfolio.stop();
  ib.reqAccountUpdates(false, account);
  assert.ok(portfolio.some(([contract, pos]) => contract.conId === 265598 && pos === 100 * (round + 1)), "portfolio row");

  // executions replay
  const exId = base + 5001;
  const replay = collect(ib, EventName.execDetails, (id) => id === exId);
  const exEnd = lib.waitFor(ib, EventName.execDetailsEnd, (id) => id === exId, 8000, "execDetailsEnd");
  ib.reqExecutions(exId, { clientId: undefined, acctCode: "", time: "", symbol: "", secType: "", exchange: "", side: "" });
  await exEnd;
  replay.stop();
  assert.ok(replay.some(([, , e]) => e.orderId === mktId), "execution replayed");
  return { lastOrderId: orderId, keepId };
}

/** Error 101: the line past the limit (default 100 lines). */
async function checkLineLimit(sim, clientId) {
  const c = await lib.connectClient(sim.port, clientId);
  try {
    const symbols = ["AAPL", "MSFT", "AMZN", "NVDA", "META", "TSLA", "IBM", "JPM", "KO", "PEP"];
    for (let i = 0; i < 100; i++)
      c.ib.reqMktData(9000 + i, { ...AAPL, symbol: symbols[i % symbols.length] }, "", false, false);
    c.ib.reqMktData(9100, AAPL, "", false, false);
    const e = await lib.waitError(c, 101, 9100, 15000);
    assert.equal(e.reqId, 9100);
    assert.ok(!c.errors.some((x) => x.code === 101 && x.reqId !== 9100), "only the 101st line is refused");
    const st = await lib.stats(sim);
    assert.equal(st.market_data_lines, 100);
    assert.deepEqual(c.decodeErrors, []);
  } finally {
    c.ib.disconnect();
  }
}

test("ib-sim interop with @stoqey/ib", { timeout: 120000 }, async (t) => {
  const sim = await lib.startSim(["--seed", "7", "--tick-rate", "40"]);
  t.after(() => lib.stopSim(sim));
  let c = await lib.connectClient(sim.port, 11);
  let state;

  await t.test("every check of the issue", async () => {
    state = await runChecks(sim, c, 0);
    assert.deepEqual(c.decodeErrors, [], "no decoding errors");
  });

  await t.test("client id in use gives 326 and a close", async () => {
    await assert.rejects(lib.connectClient(sim.port, 11, 5000), (err) => {
      assert.ok(err.ctx && err.ctx.infos.some((i) => i.code === 326), "326 before the close");
      return true;
    });
  });

  await t.test("the same checks after a restart through the control port", async () => {
    const disconnected = lib.waitFor(c.ib, EventName.disconnected, () => true, 5000, "disconnect");
    assert.match(await lib.control(sim, "restart 1"), /^ok restart 1/);
    await disconnected;
    assert.deepEqual(c.decodeErrors, []);
    // reconnect with the same client id once the listener is back
    let c2;
    for (let i = 0; i < 50 && !c2; i++) {
      await lib.sleep(200);
      c2 = await lib.connectClient(sim.port, 11, 3000).catch(() => undefined);
    }
    assert.ok(c2, "reconnected");
    c = c2;
    assert.ok(c.nextValidId >= state.lastOrderId, "order ids keep increasing across the restart");
    // the resting order is still there
    const open = collect(c.ib, EventName.openOrder);
    const end = lib.waitFor(c.ib, EventName.openOrderEnd, () => true, 8000, "openOrderEnd");
    c.ib.reqAllOpenOrders();
    await end;
    open.stop();
    assert.ok(open.some(([id, , order, st]) => id === state.keepId && order.orderRef === "keep-0" &&
      st.status === "Submitted"), "the client sees its order again");
    await runChecks(sim, c, 1);
    assert.deepEqual(c.decodeErrors, [], "no decoding errors");
    const st = await lib.stats(sim);
    assert.ok(st.fills >= 2 && st.orders >= 6 && st.requests.placeOrder >= 6, "counters");
    assert.ok(st.errors["162"] >= 2 && st.errors["200"] >= 2, "errors by code");
  });

  await t.test("error 101 past the line limit", async () => {
    c.ib.disconnect();
    await checkLineLimit(sim, 12);
  });
});

async function firstTicks(seed, n) {
  const sim = await lib.startSim(["--seed", String(seed), "--tick-rate", "100"]);
  try {
    const c = await lib.connectClient(sim.port, 1);
    const seq = [];
    const done = new Promise((resolve) => {
      const rec = (kind) => (id, type, value) => {
        if (id !== 1 || seq.length >= n) return;
        seq.push(`${kind}:${type}:${value}`);
        if (seq.length === n) resolve();
      };
      c.ib.on(EventName.tickPrice, rec("p"));
      c.ib.on(EventName.tickSize, rec("s"));
    });
    c.ib.reqMktData(1, AAPL, "", false, false);
    await done;
    const bars = await historical(c.ib, 2, "20240105 16:00:00 US/Eastern", "2 D", "30 mins", "TRADES", 0);
    c.ib.disconnect();
    assert.deepEqual(c.decodeErrors, []);
    return { seq, bars: JSON.stringify(bars) };
  } finally {
    await lib.stopSim(sim);
  }
}

test("determinism: the same seed gives identical streams", { timeout: 60000 }, async () => {
  const a = await firstTicks(42, 150);
  const b = await firstTicks(42, 150);
  const other = await firstTicks(43, 150);
  assert.deepEqual(a.seq, b.seq, "tick streams");
  assert.equal(a.bars, b.bars, "historical bars");
  assert.notDeepEqual(a.seq, other.seq, "another seed gives another stream");
});

// Not 103..144: there the official decoders (Python serverVersion >= MODELS_SUPPORT, Java version >= 34 &&
// serverVersion >= MODELS_SUPPORT) read openOrder's modelCode, which @stoqey/ib 1.6.10 skips (it compares the
// message version 34 with MODELS_SUPPORT 103). ib-sim follows the official layout; the codec's own round trip
// at every version 100..176 is tests/fuzz/test_regressions.c (reply::open_order_round_trips_at_every_version).
test("--server-version: older layouts decode in @stoqey/ib", { timeout: 60000 }, async () => {
  for (const sv of [170, 145, 100]) {
    const sim = await lib.startSim(["--server-version", String(sv), "--tick-rate", "50", "--log-level", "warn"]);
    try {
      const c = await lib.connectClient(sim.port, 1);
      const ib = c.ib;
      assert.equal(ib.serverVersion, sv);
      const seen = new Set();
      ib.on(EventName.all, (name) => seen.add(name));
      const filled = lib.waitFor(ib, EventName.orderStatus, (id, st) => id === c.nextValidId && st === "Filled");
      ib.reqMktData(1, AAPL, "233", false, false);
      ib.reqContractDetails(2, { symbol: "ES", secType: "FUT", exchange: "CME", currency: "USD" });
      ib.reqHistoricalData(3, AAPL, "20240105 16:00:00 US/Eastern", "1 D", "1 hour", "TRADES", 1, 1, false);
      ib.placeOrder(c.nextValidId, AAPL, { action: "BUY", totalQuantity: 100, orderType: "MKT", tif: "DAY", transmit: true });
      await filled;
      const end = lib.waitFor(ib, EventName.accountDownloadEnd);
      ib.reqPositions();
      ib.reqAccountSummary(4, "All", "NetLiquidation");
      ib.reqAccountUpdates(true, "");
      await end;
      await lib.sleep(200);
      for (const ev of ["tickPrice", "contractDetails", "historicalData", "openOrder", "execDetails", "commissionReport",
        "position", "accountSummary", "updatePortfolio"])
        assert.ok(seen.has(ev), `sv ${sv}: ${ev}`);
      assert.deepEqual(c.decodeErrors, [], `sv ${sv}: no decoding errors`);
      ib.disconnect();
    } finally {
      await lib.stopSim(sim);
    }
  }
});
