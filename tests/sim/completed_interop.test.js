// completed_interop.test.js — reqCompletedOrders and the `newday` control command, against a TWS API client
// nobody here wrote (@stoqey/ib 1.6.10). Needs IB_SIM_BIN.
//
// @stoqey/ib 1.6.10 and completedOrder (in 101) at the sim's server version (176), compared with the
// official decoder (PROTOCOL.md §3.16; ibapi 10.41 decoder.processCompletedOrderMsg):
//  - the library decodes completedOrder with the legacy message version set to Number.MAX_VALUE, as the
//    official one does with UNSET_INTEGER, so every `version >= N` gate is open. Same field order,
//    same gates otherwise (PEG BENCH, conditions >= 102, cashQty >= 111, dontUseAutoPriceForHedge >= 141,
//    isOmsContainer >= 145, PEG BEST/MID >= 170, customerAccount >= 183, professionalCustomer >= 184).
//  - one difference: faProfile (#31). The official decoder reads it when serverVersion < 177
//    (FA_PROFILE_DESUPPORT); the library's readFAParams compares the *message version* with 177, which
//    for completedOrder is MAX_VALUE, so it never reads it below 177. Every later field then shifts by
//    one; scaleSubsLevelSize (2147483647) lands in scalePriceIncrement, which pulls 7 scale fields, and
//    the message ends early: "Underrun error on COMPLETED_ORDER". The live IB Gateway captures of
//    §3.16 (sv 173) break the library the same way, so this is the library's gate, not ib-sim's layout.
//  - the library never reads `submitter` (>= 198); not claimed by ib-sim.
// The test shows the underrun as it is, then removes field #31 before the library's decoder runs (the
// one field it forgets) and checks that everything else decodes to the right values with no leftover.
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const net = require("node:net");
const path = require("node:path");
const npm = require("../node/npm");
const { IBApi } = npm("@stoqey/ib");
const { EventName } = npm("@stoqey/ib");
const { Decoder } = npm("@stoqey/ib/dist/core/io/decoder");
const lib = require("../node/sim_lib");

const AAPL = { symbol: "AAPL", secType: "STK", exchange: "SMART", currency: "USD" };
const FA_PROFILE_DESUPPORT = 177;
const FA_PROFILE_INDEX = 30;   // #31, counted after the message id the library has already read

/** Makes the library skip faProfile below 177, as the official decoder reads it; returns an undo. */
function skipFaProfile() {
  const original = Decoder.prototype.decodeMsg_COMPLETED_ORDER;
  Decoder.prototype.decodeMsg_COMPLETED_ORDER = function patched() {
    const end = this.dataQueue.indexOf(undefined);
    const fields = end < 0 ? this.dataQueue.length : end;
    if (this.serverVersion < FA_PROFILE_DESUPPORT && fields > FA_PROFILE_INDEX)
      this.dataQueue.splice(FA_PROFILE_INDEX, 1);
    return original.call(this);
  };
  return () => { Decoder.prototype.decodeMsg_COMPLETED_ORDER = original; };
}

/** A one-shot fake gateway at sv 176 that sends the given server->client field lists after startApi. */
async function fakeGateway(messages) {
  const frame = (fields) => {
    const body = Buffer.from(fields.map((f) => f + "\0").join(""), "latin1");
    const len = Buffer.alloc(4);
    len.writeUInt32BE(body.length);
    return Buffer.concat([len, body]);
  };
  const server = net.createServer((sock) => {
    let stage = 0;
    sock.on("data", () => {
      if (stage === 0) sock.write(frame(["176", "20261204 10:00:00 US/Eastern"]));
      else if (stage === 1) {
        sock.write(Buffer.concat([frame(["15", "1", "DU1236109"]), frame(["9", "1", "1"]), ...messages.map(frame)]));
      }
      stage++;
    });
    sock.on("error", () => {});
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return server;
}

/** reqCompletedOrders: resolves the completedOrder events up to completedOrdersEnd. */
async function completedOrders(ib, apiOnly) {
  const got = [];
  const on = (contract, order, state) => got.push({ contract, order, state });
  ib.on(EventName.completedOrder, on);
  const end = lib.waitFor(ib, EventName.completedOrdersEnd, () => true, 8000, "completedOrdersEnd");
  ib.reqCompletedOrders(apiOnly);
  await end;
  ib.off(EventName.completedOrder, on);
  return got;
}

async function executions(ib, reqId) {
  const got = [];
  const on = (id, contract, exec) => { if (id === reqId) got.push(exec); };
  ib.on(EventName.execDetails, on);
  const end = lib.waitFor(ib, EventName.execDetailsEnd, (id) => id === reqId, 8000, "execDetailsEnd");
  ib.reqExecutions(reqId, { acctCode: "", time: "", symbol: "", secType: "", exchange: "", side: "" });
  await end;
  ib.off(EventName.execDetails, on);
  return got;
}

async function openOrders(ib) {
  const got = [];
  const on = (id, contract, order, state) => got.push({ id, order, state });
  ib.on(EventName.openOrder, on);
  const end = lib.waitFor(ib, EventName.openOrderEnd, () => true, 8000, "openOrderEnd");
  ib.reqAllOpenOrders();
  await end;
  ib.off(EventName.openOrder, on);
  return got;
}

function status(ib, id, want) {
  return lib.waitFor(ib, EventName.orderStatus, (i, st) => i === id && st === want, 8000, `order ${id} ${want}`);
}

test("reqCompletedOrders and newday with @stoqey/ib", { timeout: 90000 }, async (t) => {
  const sim = await lib.startSim(["--seed", "11", "--tick-rate", "40", "--log-level", "warn"]);
  t.after(() => lib.stopSim(sim));
  const c = await lib.connectClient(sim.port, 31);
  const ib = c.ib;
  assert.equal(ib.serverVersion, 176);
  let id = c.nextValidId;
  const mktId = id++, lmtId = id++, dayId = id++, gtcId = id++;

  // a market order that fills, a limit order cancelled, a DAY and a GTC order left working
  let bid;
  const quote = lib.waitFor(ib, EventName.tickPrice, (i, type, price) => i === 1 && type === 1 && (bid = price) > 0);
  ib.reqMktData(1, AAPL, "", false, false);
  await quote;
  ib.cancelMktData(1);
  const far = (f) => Math.round(bid * f * 100) / 100;
  let filled = status(ib, mktId, "Filled");
  ib.placeOrder(mktId, AAPL, { action: "BUY", totalQuantity: 7, orderType: "MKT", tif: "DAY", transmit: true,
    orderRef: "co-fill" });
  await filled;
  const submitted = status(ib, lmtId, "Submitted");
  ib.placeOrder(lmtId, AAPL, { action: "BUY", totalQuantity: 3, orderType: "LMT", lmtPrice: far(0.8), tif: "DAY",
    transmit: true, orderRef: "co-cancel" });
  await submitted;
  const cancelled = status(ib, lmtId, "Cancelled");
  ib.cancelOrder(lmtId);
  await cancelled;
  const working = Promise.all([status(ib, dayId, "Submitted"), status(ib, gtcId, "Submitted")]);
  ib.placeOrder(dayId, AAPL, { action: "BUY", totalQuantity: 2, orderType: "LMT", lmtPrice: far(0.7), tif: "DAY",
    transmit: true, orderRef: "co-day" });
  ib.placeOrder(gtcId, AAPL, { action: "BUY", totalQuantity: 2, orderType: "LMT", lmtPrice: far(0.7), tif: "GTC",
    transmit: true, orderRef: "co-gtc" });
  await working;

  await t.test("unpatched, the library underruns on completedOrder at 176 (its faProfile gate)", async () => {
    const got = await completedOrders(ib, false);
    assert.equal(got.length, 0);
    const underruns = c.decodeErrors.filter((m) => /Underrun error on COMPLETED_ORDER/.test(m));
    assert.equal(underruns.length, 2, `one per completed order: ${JSON.stringify(c.decodeErrors)}`);
    assert.equal(underruns.length, c.decodeErrors.length, "no other decoding error");
    c.decodeErrors.length = 0;
  });

  await t.test("the live IB Gateway capture of §3.16 breaks the library the same way", async () => {
    const vectors = fs.readFileSync(path.join(__dirname, "../ib/vectors/completed_orders.jsonl"), "utf8")
      .split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l));
    const aapl = vectors.find((v) => v.message.startsWith("completedOrder (101) AAPL"));
    const server = await fakeGateway([aapl.fields, ["102"]]);
    const raw = new IBApi({ host: "127.0.0.1", port: server.address().port, clientId: 1 });
    const errors = [];
    raw.on(EventName.error, (err) => errors.push(err && err.message ? err.message : String(err)));
    const end = lib.waitFor(raw, EventName.completedOrdersEnd, () => true, 8000, "completedOrdersEnd");
    raw.connect();
    await end;
    raw.disconnect();
    server.close();
    assert.ok(errors.some((m) => /Underrun error on COMPLETED_ORDER/.test(m)), JSON.stringify(errors));
  });

  const undo = skipFaProfile();
  t.after(undo);

  await t.test("the filled and the cancelled order, with orderRef, status, permId, filled quantity", async () => {
    const got = await completedOrders(ib, true);
    assert.deepEqual(c.decodeErrors, [], "no decoding errors, no leftover fields");
    assert.deepEqual(got.map((g) => g.order.orderRef), ["co-fill", "co-cancel"]);
    const [fill, cancel] = got;
    assert.equal(fill.state.status, "Filled");
    assert.equal(fill.state.completedStatus, "Filled Size: 7");
    assert.match(fill.state.completedTime, /^\d{8} \d\d:\d\d:\d\d America\/New_York$/);
    assert.equal(Number(fill.order.filledQuantity), 7);
    assert.equal(Number(fill.order.totalQuantity), 7);
    assert.equal(fill.order.action, "BUY");
    assert.equal(fill.order.orderType, "MKT");
    assert.match(fill.order.account, /^DU\d+/);
    assert.equal(fill.contract.symbol, "AAPL");
    assert.equal(fill.contract.conId, 265598);
    assert.equal(cancel.state.status, "Cancelled");
    assert.equal(cancel.state.completedStatus, "Cancelled by Trader");
    assert.equal(Number(cancel.order.filledQuantity), 0);
    assert.equal(cancel.order.lmtPrice, far(0.8));
    // perm ids are the ones openOrder / execDetails gave
    const execs = await executions(ib, 501);
    const permFill = execs.find((e) => e.orderId === mktId).permId;
    assert.ok(permFill > 0);
    assert.equal(fill.order.permId, permFill);
    assert.ok(cancel.order.permId > 0 && cancel.order.permId !== permFill);
    const st = await lib.stats(sim);
    assert.equal(st.requests.reqCompletedOrders, 2);
    assert.equal(st.completed_orders, 2);
  });

  await t.test("newday keep-completed: executions forgotten, completed orders kept, DAY orders gone", async () => {
    assert.match(await lib.control(sim, "newday keep-completed"),
      /^ok newday forgot_orders=1 forgot_executions=\d+ kept_working=1 kept_completed=2$/);
    assert.equal((await executions(ib, 502)).length, 0, "no executions on the new day");
    const got = await completedOrders(ib, false);
    assert.deepEqual(got.map((g) => [g.order.orderRef, g.state.status]), [["co-fill", "Filled"], ["co-cancel", "Cancelled"]]);
    const open = await openOrders(ib);
    assert.deepEqual(open.map((o) => o.order.orderRef), ["co-gtc"], "the GTC order works on, the DAY order is gone");
    assert.deepEqual(c.decodeErrors, []);
  });

  await t.test("newday: completed orders forgotten too; ids keep counting", async () => {
    assert.match(await lib.control(sim, "newday"), /^ok newday forgot_orders=2 forgot_executions=0 kept_working=1 kept_completed=0$/);
    assert.equal((await completedOrders(ib, false)).length, 0);
    const next = lib.waitFor(ib, EventName.nextValidId, () => true, 8000, "nextValidId");
    ib.reqIds(1);
    const [nextId] = await next;
    assert.ok(nextId > gtcId, `nextValidId ${nextId} above every id used`);
    // a forgotten id is not free again: IB never reuses an order id of a client
    ib.placeOrder(dayId, AAPL, { action: "BUY", totalQuantity: 1, orderType: "MKT", tif: "DAY", transmit: true });
    await lib.waitError(c, 103, dayId);
    // a new order on the new day fills and is the day's only completed order
    filled = status(ib, nextId, "Filled");
    ib.placeOrder(nextId, AAPL, { action: "SELL", totalQuantity: 7, orderType: "MKT", tif: "DAY", transmit: true,
      orderRef: "co-day2" });
    await filled;
    const got = await completedOrders(ib, true);
    assert.deepEqual(got.map((g) => [g.order.orderRef, g.state.status]), [["co-day2", "Filled"]]);
    const st = await lib.stats(sim);
    assert.equal(st.working_orders, 1);
    assert.equal(st.completed_orders, 1);
    assert.deepEqual(c.decodeErrors, []);
    ib.disconnect();
  });
});
