// orders_discovery_interop.test.js — ib-sim's what-if orders, execution filters, symbol search and scanner
// (PROTOCOL.md §3.16, §3.18, §3.19) against a TWS API client nobody here wrote (@stoqey/ib). Needs IB_SIM_BIN.
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const npm = require("../node/npm");
const { EventName, OrderAction, OrderType, SecType, ScanCode } = npm("@stoqey/ib");
const lib = require("../node/sim_lib");

const stk = (symbol) => ({ symbol, secType: SecType.STK, exchange: "SMART", currency: "USD" });

async function poll(fn, ms, what) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await fn()) return;
    await lib.sleep(20);
  }
  throw new Error(`timeout waiting for ${what}`);
}

function collect(ib, event, filter) {
  const got = [];
  ib.on(event, (...args) => { if (!filter || filter(...args)) got.push(args); });
  return got;
}

test("what-if, executions filter, symbol search, scanner through @stoqey/ib", { timeout: 60000 }, async (t) => {
  const sim = await lib.startSim(["--seed", "3", "--log-level", "warn"]);
  t.after(() => lib.stopSim(sim));
  const c = await lib.connectClient(sim.port, 51);
  const ib = c.ib;

  // what-if: two openOrders (unset margins, then numbers), no order at ib-sim
  const id = c.nextValidId;
  const oos = collect(ib, EventName.openOrder, (oid) => oid === id);
  const before = await lib.stats(sim);
  ib.placeOrder(id, stk("AAPL"), { action: OrderAction.BUY, totalQuantity: 100, orderType: OrderType.LMT, lmtPrice: 180, whatIf: true, transmit: true });
  await poll(() => oos.length >= 2, 5000, "two what-if openOrders");
  const state = oos[1][3];
  assert.equal(state.initMarginChange, 5400, `30 % of 18000: ${JSON.stringify(state)}`);
  assert.ok(state.equityWithLoanBefore > 0 && state.minCommission > 0, JSON.stringify(state));
  assert.ok(oos[0][3].initMarginChange === undefined || oos[0][3].initMarginChange > 1e300, "the first answer has no margins");
  assert.equal(oos[1][2].whatIf, true, "whatIf echoed");
  assert.equal((await lib.stats(sim)).orders, before.orders, "no order created");

  // execution filter: two fills, a filter on symbol and side
  const fills = collect(ib, EventName.orderStatus, (oid, status) => status === "Filled");
  ib.placeOrder(id + 1, stk("MSFT"), { action: OrderAction.BUY, totalQuantity: 3, orderType: OrderType.MKT, transmit: true });
  ib.placeOrder(id + 2, stk("AAPL"), { action: OrderAction.SELL, totalQuantity: 2, orderType: OrderType.MKT, transmit: true });
  await poll(() => new Set(fills.map((f) => f[0])).size >= 2, 5000, "two fills");
  const ex = collect(ib, EventName.execDetails, (rid) => rid === 77);
  const exEnd = collect(ib, EventName.execDetailsEnd, (rid) => rid === 77);
  ib.reqExecutions(77, { symbol: "MSFT", side: "BUY" });
  await poll(() => exEnd.length === 1, 5000, "execDetailsEnd");
  assert.deepEqual(ex.map((e) => [e[1].symbol, e[2].side, e[2].shares]), [["MSFT", "BOT", 3]]);

  // symbol search
  const ss = collect(ib, EventName.symbolSamples);
  ib.reqMatchingSymbols(78, "MSF");
  await poll(() => ss.length === 1, 5000, "symbolSamples");
  assert.equal(ss[0][0], 78);
  const d = ss[0][1].find((x) => x.contract.symbol === "MSFT");
  assert.ok(d, JSON.stringify(ss[0][1]));
  assert.equal(d.contract.conId, 272093);
  assert.equal(d.contract.primaryExch, "NASDAQ");
  assert.deepEqual(d.derivativeSecTypes, ["OPT"]);

  // scanner parameters and one scan
  const xml = collect(ib, EventName.scannerParameters);
  ib.reqScannerParameters();
  await poll(() => xml.length === 1, 5000, "scannerParameters");
  assert.match(xml[0][0], /<scanCode>MOST_ACTIVE<\/scanCode>/);
  const rows = collect(ib, EventName.scannerData, (rid) => rid === 79);
  const end = collect(ib, EventName.scannerDataEnd, (rid) => rid === 79);
  ib.reqScannerSubscription(79, { instrument: "STK", locationCode: "STK.US.MAJOR", scanCode: ScanCode.TOP_PERC_GAIN, numberOfRows: 5 });
  await poll(() => end.length === 1, 5000, `scannerDataEnd (errors ${JSON.stringify(c.errors)}, rows ${rows.length})`);
  const own = (await lib.control(sim, "scan TOP_PERC_GAIN")).replace(/^ok ?/, "").split(",").slice(0, 5);
  assert.deepEqual(rows.map((r) => r[2].contract.symbol), own, "ib-sim's own ranking");
  assert.deepEqual(rows.map((r) => r[1]), [0, 1, 2, 3, 4], "ranks");
  ib.cancelScannerSubscription(79);
  await poll(async () => ((await lib.stats(sim)).requests.cancelScannerSubscription || 0) === 1, 5000, "cancel");
  assert.deepEqual(c.decodeErrors, [], "the client decoded everything");
  ib.disconnect();
});
