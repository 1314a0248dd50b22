// faults.test.js — ib-sim's gateway rules and fault injection, driven by raw TWS sockets and
// @stoqey/ib: version negotiation, 50 msg/s rate limit (100 + disconnect), 32-client limit,
// malformed requests, control-port faults (drop, reset 1101/1102, stall, garbage, inject),
// delayed market data, keepUpToDate, and the high-tick-rate configuration. Needs IB_SIM_BIN.
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const net = require("node:net");
const npm = require("../node/npm");
const { EventName } = npm("@stoqey/ib");
const lib = require("../node/sim_lib");

const AAPL_FIELDS = ["0", "AAPL", "STK", "", "", "", "", "SMART", "", "USD", "", ""];
const reqMktData = (id, snapshot = "0", contract = AAPL_FIELDS) =>
  ["1", "11", String(id), ...contract, "0", "", snapshot, "0", ""];
const isError = (code, id) => (m) => m[0] === "4" && m[3] === String(code) && (id === undefined || m[2] === String(id));

test("ib-sim gateway rules and faults", { timeout: 110000 }, async (t) => {
  const sim = await lib.startSim(["--seed", "3", "--tick-rate", "20", "--max-clients", "4", "--hist-update-ms", "200"]);
  t.after(() => lib.stopSim(sim));

  await t.test("handshake: version reply, managedAccounts, nextValidId, farm notices", async () => {
    const c = new lib.RawClient(sim.port);
    await c.connect(1, "v100..193");
    await c.waitMsg(isError(2158));
    const first = c.msgs[0];
    assert.equal(first.length, 2, "serverVersion + connectionTime");
    assert.equal(first[0], "176", "negotiated down to 176");
    assert.match(first[1], /^\d{8} \d\d:\d\d:\d\d /);
    const order = c.msgs.slice(1).map((m) => (m[0] === "4" ? m[3] : m[0]));
    assert.deepEqual(order, ["15", "9", "2104", "2106", "2158"]);
    assert.match(c.msgs[1][2], /^DU/);
    assert.equal(c.msgs[3].length, 6, "error layout at 176: 4|2|id|code|msg|json");
    c.close();
    const old = new lib.RawClient(sim.port);
    await old.connect(2, "v100..150");
    await old.waitMsg((m) => m[0] === "9");
    assert.equal(old.msgs[0][0], "150", "an older client gets its own maximum");
    old.close();
  });

  await t.test("rate limit: error 100, then a disconnect for a client that keeps exceeding it", async () => {
    const c = new lib.RawClient(sim.port);
    await c.connect(3);
    await c.waitMsg((m) => m[0] === "9");
    for (let i = 0; i < 60; i++) c.send(["49", "1"]);
    const e = await c.waitMsg(isError(100, -1));
    assert.match(e[4], /Max rate of messages per second has been exceeded/);
    assert.ok(c.msgs.filter((m) => m[0] === "49").length >= 50, "requests under the limit are answered");
    for (let k = 0; k < 3 && !c.closed; k++) {
      await lib.sleep(1100);
      for (let i = 0; i < 60 && !c.closed; i++) c.send(["49", "1"]);
    }
    await c.waitClosed(5000);
    assert.ok(c.msgs.filter(isError(100)).length >= 2);
  });

  await t.test("malformed requests get 321 and the session stays; a bad frame closes it", async () => {
    const c = new lib.RawClient(sim.port);
    await c.connect(4);
    await c.waitMsg((m) => m[0] === "9");
    c.send(["1", "11"]);                                   // truncated reqMktData
    c.send(["3", "12", "x"]);                              // placeOrder with 3 fields
    await c.waitMsg(isError(321));
    c.send(["49", "1"]);
    await c.waitMsg((m) => m[0] === "49");
    const bad = Buffer.alloc(8);
    bad.writeUInt32BE(0x7fffffff);                       // over 16 MiB
    c.sendRaw(bad);
    await c.waitClosed();
    const st = await lib.stats(sim);
    assert.ok(st.decode_errors >= 2 && st.errors["321"] >= 2);
  });

  await t.test("at most --max-clients clients; the next one is closed", async () => {
    const cs = [];
    for (let i = 0; i < 4; i++) {
      const c = new lib.RawClient(sim.port);
      await c.connect(100 + i);
      await c.waitMsg((m) => m[0] === "9");
      cs.push(c);
    }
    const extra = new lib.RawClient(sim.port);
    await extra.connect(200);
    await extra.waitClosed();
    assert.equal(extra.msgs.length, 0);
    assert.ok((await lib.stats(sim)).rejected_clients >= 1);
    cs.forEach((c) => c.close());
    await lib.sleep(200);
  });

  await t.test("market data: line counting, delayed types, snapshot end, errors 300/322", async () => {
    const c = new lib.RawClient(sim.port);
    await c.connect(5);
    await c.waitMsg((m) => m[0] === "9");
    c.send(["59", "1", "3"]);                              // delayed
    c.send(reqMktData(7));
    await c.waitMsg((m) => m[0] === "58" && m[2] === "7" && m[3] === "3");
    await c.waitMsg((m) => m[0] === "1" && m[2] === "7" && m[3] === "66");
    assert.ok(!c.msgs.some((m) => m[0] === "1" && m[2] === "7" && m[3] === "1"), "no live bid ids when delayed");
    assert.ok(c.msgs.filter((m) => m[0] === "1").every((m) => m.length === 7 && m[1] === "6"), "tickPrice v6, 7 fields");
    assert.equal((await lib.stats(sim)).market_data_lines, 1);
    c.send(reqMktData(7));
    await c.waitMsg(isError(322, 7));
    c.send(["59", "1", "1"]);
    await c.waitMsg((m) => m[0] === "58" && m[2] === "7" && m[3] === "1");
    c.send(reqMktData(8, "1"));
    await c.waitMsg((m) => m[0] === "57" && m[2] === "8");
    c.send(["2", "2", "7"]);
    c.send(["2", "2", "12345"]);
    await c.waitMsg(isError(300, 12345));
    c.send(reqMktData(9, "0", ["0", "NOPE", "STK", "", "", "", "", "SMART", "", "USD", "", ""]));
    await c.waitMsg(isError(200, 9));
    await lib.sleep(50);
    assert.equal((await lib.stats(sim)).market_data_lines, 0, "cancel frees the line");
    c.close();
  });

  await t.test("historical keepUpToDate updates and cancel (366 for an unknown id)", async () => {
    const c = new lib.RawClient(sim.port);
    await c.connect(6);
    await c.waitMsg((m) => m[0] === "9");
    c.send(["20", "31", ...AAPL_FIELDS, "0", "", "5 mins", "3600 S", "0", "MIDPOINT", "2", "1", ""]);
    const h = await c.waitMsg((m) => m[0] === "17" && m[1] === "31");
    const n = +h[4];
    assert.equal(h.length, 5 + n * 8, "17|reqId|start|end|n|bars x 8");
    const u = await c.waitMsg((m) => m[0] === "90" && m[1] === "31");
    assert.equal(u.length, 10, "90|reqId|barCount|date|o|c|h|l|wap|volume");
    c.send(["25", "1", "31"]);
    c.send(["25", "1", "32"]);
    await c.waitMsg(isError(366, 32));
    c.close();
  });

  await t.test("orders: rejects, IOC, modify, stops, partial fills, realized P&L", async () => {
    const c = await lib.connectClient(sim.port, 31);
    const ib = c.ib;
    const AAPL = { symbol: "AAPL", secType: "STK", exchange: "SMART", currency: "USD" };
    let bid, ask;
    const snap = lib.waitFor(ib, EventName.tickSnapshotEnd, (id) => id === 70);
    const onTick = (id, type, price) => {
      if (id === 70 && type === 1) bid = price;
      if (id === 70 && type === 2) ask = price;
    };
    ib.on(EventName.tickPrice, onTick);
    ib.reqMktData(70, AAPL, "", true, false);
    await snap;
    ib.off(EventName.tickPrice, onTick);
    assert.ok(bid > 0 && ask > bid);
    let id = c.nextValidId;
    const status = (oid, st) => lib.waitFor(ib, EventName.orderStatus, (i, s) => i === oid && s === st, 8000, `${oid} ${st}`);
    const order = (o) => ({ tif: "DAY", transmit: true, ...o });

    // rejects
    ib.placeOrder(id, AAPL, order({ action: "BUY", totalQuantity: 10, orderType: "LMT" }));
    await lib.waitError(c, 201, id++);
    ib.placeOrder(id, AAPL, order({ action: "BUY", totalQuantity: 10, orderType: "MOC" }));
    await lib.waitError(c, 201, id++);
    ib.placeOrder(id, AAPL, order({ action: "BUY", totalQuantity: 10, orderType: "LMT", lmtPrice: 100.001 }));
    await lib.waitError(c, 110, id++);
    ib.placeOrder(id, AAPL, order({ action: "BUY", totalQuantity: 0, orderType: "MKT" }));
    await lib.waitError(c, 201, id++);

    // IOC far from the market: cancelled, nothing filled
    const ioc = id++;
    const iocDone = status(ioc, "Cancelled");
    ib.placeOrder(ioc, AAPL, order({ action: "BUY", totalQuantity: 10, orderType: "LMT", lmtPrice: Math.round(bid * 50) / 100, tif: "IOC" }));
    const [, , iocFilled] = await iocDone;
    assert.equal(iocFilled, 0);

    // a resting limit modified to a marketable price fills
    const mod = id++;
    const rested = status(mod, "Submitted");
    ib.placeOrder(mod, AAPL, order({ action: "BUY", totalQuantity: 100, orderType: "LMT", lmtPrice: Math.round(bid * 90) / 100 }));
    await rested;
    const modFilled = status(mod, "Filled");
    ib.placeOrder(mod, AAPL, order({ action: "BUY", totalQuantity: 100, orderType: "LMT", lmtPrice: Math.round(ask * 101) / 100 }));
    const [, , , , modAvg] = await modFilled;
    assert.ok(modAvg <= Math.round(ask * 101) / 100, "filled at or better than the limit");

    // a buy stop below the market triggers at once; one far above waits as PreSubmitted
    const stopNow = id++;
    const stopFilled = status(stopNow, "Filled");
    ib.placeOrder(stopNow, AAPL, order({ action: "BUY", totalQuantity: 100, orderType: "STP", auxPrice: Math.round(ask * 95) / 100 }));
    await stopFilled;
    const stopLater = id++;
    const waiting = status(stopLater, "PreSubmitted");
    ib.placeOrder(stopLater, AAPL, order({ action: "BUY", totalQuantity: 100, orderType: "STP LMT",
      auxPrice: Math.round(ask * 150) / 100, lmtPrice: Math.round(ask * 151) / 100, tif: "GTC" }));
    await waiting;
    await lib.sleep(300);
    assert.ok(!c.errors.some((e) => e.reqId === stopLater), "stop limit accepted");

    // a large market order fills in several executions, with a partial status first
    const big = id++;
    const statuses = [];
    const onStatus = (i, st, filled) => { if (i === big) statuses.push([st, filled]); };
    ib.on(EventName.orderStatus, onStatus);
    const execs = [];
    const onExec = (r, ct, e) => { if (e.orderId === big) execs.push(e); };
    ib.on(EventName.execDetails, onExec);
    const bigFilled = status(big, "Filled");
    ib.placeOrder(big, AAPL, order({ action: "BUY", totalQuantity: 20000, orderType: "MKT" }));
    await bigFilled;
    ib.off(EventName.orderStatus, onStatus);
    ib.off(EventName.execDetails, onExec);
    assert.ok(execs.length >= 2, `several executions (${execs.length})`);
    assert.equal(execs[execs.length - 1].cumQty, 20000);
    assert.ok(statuses.some(([st, f]) => st === "Submitted" && f > 0 && f < 20000), "a partial fill status");

    // closing part of the position reports realized P&L on the commission report
    const sell = id++;
    const comm = [];
    const onComm = (cr) => comm.push(cr);
    ib.on(EventName.commissionReport, onComm);
    const sold = status(sell, "Filled");
    ib.placeOrder(sell, AAPL, order({ action: "SELL", totalQuantity: 100, orderType: "MKT" }));
    await sold;
    await lib.sleep(100);
    ib.off(EventName.commissionReport, onComm);
    assert.ok(comm.some((cr) => typeof cr.realizedPNL === "number" && Number.isFinite(cr.realizedPNL)), "realized P&L");

    // a reused lower order id is a duplicate; cancelling twice gives 161
    ib.placeOrder(ioc, AAPL, order({ action: "BUY", totalQuantity: 1, orderType: "MKT" }));
    await lib.waitError(c, 104, ioc);
    ib.placeOrder(c.nextValidId, AAPL, order({ action: "BUY", totalQuantity: 1, orderType: "MKT" }));
    await lib.waitError(c, 103, c.nextValidId);
    ib.cancelOrder(stopLater);
    await status(stopLater, "Cancelled");
    ib.cancelOrder(stopLater);
    await lib.waitError(c, 161, stopLater);
    ib.cancelOrder(999999);
    await lib.waitError(c, 135, 999999);
    assert.deepEqual(c.decodeErrors, []);
    ib.disconnect();
  });

  await t.test("control: inject, garbage, stall, reset 1102 / 1101, drop", async () => {
    const c = await lib.connectClient(sim.port, 21);
    const ib = c.ib;
    // inject
    assert.match(await lib.control(sim, "inject 10197 reqMktData"), /^ok inject 10197 reqMktData/);
    ib.reqMktData(50, { symbol: "AAPL", secType: "STK", exchange: "SMART", currency: "USD" }, "", false, false);
    await lib.waitError(c, 10197, 50);
    assert.match(await lib.control(sim, "inject 1 bogusRequest"), /^error/);
    // stall: no answer while stalled, then everything arrives
    assert.match(await lib.control(sim, "stall 1"), /^ok stall 1/);
    const t0 = Date.now();
    const time = lib.waitFor(ib, EventName.currentTime, () => true, 5000, "currentTime");
    ib.reqCurrentTime();
    await time;
    assert.ok(Date.now() - t0 >= 700, "answered only after the stall");
    // reset 1102: 1100, paused, then 1102 and the subscription continues
    ib.reqMktData(51, { symbol: "MSFT", secType: "STK", exchange: "SMART", currency: "USD" }, "", false, false);
    await lib.waitFor(ib, EventName.tickPrice, (id) => id === 51);
    assert.match(await lib.control(sim, "reset 1102 1"), /^ok reset 1102 1/);
    await lib.waitError(c, 1100);
    await lib.waitError(c, 1102, undefined, 5000);
    await lib.waitFor(ib, EventName.tickPrice, (id) => id === 51, 5000, "ticks after 1102");
    assert.equal((await lib.stats(sim)).market_data_lines, 1);
    // reset 1101: subscriptions are dropped
    assert.match(await lib.control(sim, "reset 1101 1"), /^ok reset 1101 1/);
    await lib.waitError(c, 1101, undefined, 5000);
    assert.equal((await lib.stats(sim)).market_data_lines, 0, "1101: data lost");
    // garbage: the library reports a decoding error
    assert.deepEqual(c.decodeErrors, []);
    assert.match(await lib.control(sim, "garbage fields"), /^ok/);
    for (let i = 0; i < 100 && c.decodeErrors.length === 0; i++) await lib.sleep(20);
    assert.ok(c.decodeErrors.length > 0, "malformed frame detected by the client");
    // drop
    const gone = lib.waitFor(ib, EventName.disconnected, () => true, 5000, "disconnected");
    assert.match(await lib.control(sim, "drop"), /^ok dropped/);
    await gone;
    await lib.sleep(100);
    const st = await lib.stats(sim);
    assert.equal(st.connections, 0);
    assert.ok(st.errors["1100"] >= 2 && st.errors["10197"] === 1);
    assert.match(await lib.control(sim, "nonsense"), /^error unknown command/);
  });
});

test("random requests and bytes never crash or hang ib-sim", { timeout: 60000 }, async (t) => {
  const sim = await lib.startSim(["--rate-limit", "0", "--log-level", "error", "--hist-update-ms", "100"]);
  t.after(() => lib.stopSim(sim));
  let seed = 12345;
  const rnd = (n) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  const ids = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "15", "16", "17", "20", "25", "49", "58", "59", "61", "62",
    "63", "64", "71", "99", "-1", "x"];
  const words = ["", "0", "1", "-1", "2", "AAPL", "ES", "EUR", "STK", "FUT", "CASH", "SMART", "USD", "BUY", "SELL", "MKT",
    "LMT", "STP LMT", "PEG BEST", "PEG BENCH", "BAG", "GTC", "IOC", "1 D", "5 mins", "TRADES", "BID_ASK", "2147483647",
    "1.7976931348623157E308", "Infinity", "99999999", "185.5", "abc", "20240105 16:00:00 US/Eastern", "1 secs",
    "9223372036854775807", "-99999999999999999999", "All", "$LEDGER"];
  // well-formed client requests (the official encoder's output at 176) with 1-3 fields replaced
  const vectors = require("node:fs").readFileSync(process.env.IBB_VECTORS ||
    require("node:path").join(__dirname, "../ib/vectors/vectors.jsonl"), "utf8").trim().split("\n").map(JSON.parse);
  const templates = vectors.filter((v) => v.direction === "client->server" && v.server_version === 176).map((v) => v.fields);
  assert.ok(templates.length >= 15);
  {
    const c = new lib.RawClient(sim.port);
    await c.connect(499);
    await c.waitMsg((m) => m[0] === "9");
    for (let i = 0; i < 3000 && !c.closed; i++) {
      const f = templates[rnd(templates.length)].slice();
      if (f[0] === "71") continue;
      for (let k = rnd(3) + 1; k > 0; k--) f[1 + rnd(f.length - 1)] = words[rnd(words.length)];
      c.send(f);
      if (i % 500 === 0) await lib.sleep(20);
    }
    c.send(["49", "1"]);
    await c.waitMsg((m) => m[0] === "49", 15000);
    c.close();
  }
  for (let conn = 0; conn < 6; conn++) {
    const c = new lib.RawClient(sim.port);
    await c.connect(500 + conn);
    await c.waitMsg((m) => m[0] === "9");
    for (let i = 0; i < 400 && !c.closed; i++) {
      const n = rnd(130);
      const f = [ids[rnd(ids.length)]];
      for (let k = 0; k < n; k++) f.push(words[rnd(words.length)]);
      c.send(f);
    }
    if (conn % 2) c.sendRaw(Buffer.from([0, 0, 0, 3, 0x31, 0x32, 0x33]));   // a payload without NUL
    await lib.sleep(100);
    c.close();
  }
  // raw bytes before the handshake, and a handshake that is not one
  for (const junk of [Buffer.from("GET / HTTP/1.1\r\n\r\n"), Buffer.from([0x41, 0x50, 0x49, 0, 0xff, 0xff, 0xff, 0xff])]) {
    const s = net.connect(sim.port, "127.0.0.1");
    await new Promise((r) => s.on("connect", r));
    s.write(junk);
    await new Promise((r) => { s.on("close", r); s.on("error", r); setTimeout(r, 1000); });
    s.destroy();
  }
  const st = await lib.stats(sim);
  assert.ok(st.decode_errors > 100, "malformed requests were seen and answered");
  const ok = new lib.RawClient(sim.port);
  await ok.connect(600);
  ok.send(["49", "1"]);
  await ok.waitMsg((m) => m[0] === "49");
  ok.close();
});

// The rate itself is a benchmark figure (scripts/bench), never a pass/fail threshold here: this test
// only proves that the high-rate configuration streams on 50 lines and the client gets the ticks.
test("high tick rate: 50 lines at 1,500 ticks/s each stream to a raw client", { timeout: 60000 }, async (t) => {
  const sim = await lib.startSim(["--tick-rate", "1500", "--log-level", "warn"]);
  t.after(() => lib.stopSim(sim));
  const syms = ["AAPL", "MSFT", "AMZN", "NVDA", "GOOGL", "GOOG", "META", "TSLA", "AVGO", "COST", "NFLX", "AMD", "INTC",
    "CSCO", "PEP", "ADBE", "QCOM", "TXN", "AMGN", "SBUX", "PYPL", "ADP", "INTU", "MU", "JPM", "V", "MA", "JNJ", "WMT",
    "PG", "UNH", "HD", "XOM", "CVX", "BAC", "KO", "PFE", "MRK", "ABBV", "ORCL", "CRM", "DIS", "IBM", "GE", "CAT",
    "BA", "GS", "MS", "WFC", "NKE"];
  // a raw reader that only counts frames (no per-message allocation)
  let frames = 0, pending = Buffer.alloc(0);
  const sock = net.connect(sim.port, "127.0.0.1");
  const send = (fields) => {
    const p = Buffer.from(fields.map((f) => f + "\0").join(""));
    const len = Buffer.alloc(4);
    len.writeUInt32BE(p.length);
    sock.write(Buffer.concat([len, p]));
  };
  sock.on("data", (d) => {
    let buf = pending.length ? Buffer.concat([pending, d]) : d;
    let off = 0;
    while (buf.length - off >= 4) {
      const n = buf.readUInt32BE(off);
      if (buf.length - off < 4 + n) break;
      off += 4 + n;
      frames++;
    }
    pending = buf.subarray(off);
  });
  await new Promise((r) => sock.on("connect", r));
  const hdr = Buffer.alloc(4);
  hdr.writeUInt32BE(9);
  sock.write(Buffer.concat([Buffer.from("API\0", "binary"), hdr, Buffer.from("v100..176")]));
  send(["71", "2", "77", ""]);
  await lib.sleep(200);
  syms.forEach((s, i) => send(["1", "11", String(i + 1), "0", s, "STK", "", "", "", "", "SMART", "", "USD", "", "", "0", "", "0", "0", ""]));
  await lib.sleep(500);
  const s0 = await lib.stats(sim);
  const f0 = frames, t0 = Date.now();
  await lib.sleep(2000);
  const s1 = await lib.stats(sim);
  const secs = (Date.now() - t0) / 1000;
  const simRate = (s1.ticks - s0.ticks) / secs;
  const clientRate = (frames - f0) / secs;
  sock.destroy();
  t.diagnostic(`ticks/s sent by ib-sim: ${Math.round(simRate)}, received by the client: ${Math.round(clientRate)}`);
  assert.equal(s1.market_data_lines, 50);
  assert.ok(s1.ticks > s0.ticks, "ib-sim generated ticks");
  assert.ok(frames > f0, "the client received ticks");
});
