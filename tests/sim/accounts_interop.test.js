// accounts_interop.test.js — P&L (PROTOCOL.md §3.10) and the multi-account subscriptions (§3.17) of ib-sim
// with two accounts, against a TWS API client nobody here wrote (@stoqey/ib). Needs IB_SIM_BIN.
//
// The fill of one account shows in that account's reqPnL / reqPnLSingle / reqPositionsMulti /
// reqAccountUpdatesMulti and nowhere else, and agrees with ib-sim's own P&L (control port `pnl`) to the
// cent; IB's unset realized P&L of a position that never closed anything arrives as the library's
// unset value; an unknown account is refused (321). @stoqey/ib hands out accountUpdateMultiEnd's reqId as
// a string (it reads it with readStr); the other messages decode as the official decoder does.
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const npm = require("../node/npm");
const { EventName } = npm("@stoqey/ib");
const lib = require("../node/sim_lib");

const AAPL = { symbol: "AAPL", secType: "STK", exchange: "SMART", currency: "USD" };
const cents = (x) => Math.round(x * 100);
const unset = (x) => x === undefined || x === null || x >= 1e300;

test("two accounts through @stoqey/ib: P&L, single P&L, positions and values per account", { timeout: 60000 },
  async (t) => {
    const sim = await lib.startSim(["--seed", "9", "--accounts", "DU111,DU222", "--log-level", "warn"]);
    t.after(() => lib.stopSim(sim));
    const c = await lib.connectClient(sim.port, 46);
    t.after(() => c.ib.disconnect());
    const ib = c.ib;
    assert.equal(c.accounts, "DU111,DU222", "managedAccounts lists both");

    const filled = lib.waitFor(ib, EventName.orderStatus, (id, status) => id === c.nextValidId && status === "Filled");
    ib.placeOrder(c.nextValidId, AAPL, { action: "BUY", totalQuantity: 100, orderType: "MKT", tif: "DAY", transmit: true, account: "DU222" });
    await filled;
    const own = JSON.parse(await lib.control(sim, "pnl"));
    assert.equal(own.DU222.positions["265598"].position, 100);
    assert.deepEqual(own.DU111.positions, {}, "nothing in DU111");

    const pnl = lib.waitFor(ib, EventName.pnl, (id) => id === 1);
    ib.reqPnL(1, "DU222", "");
    const [, daily, unreal, realized] = await pnl;
    assert.deepEqual([cents(daily), cents(unreal), cents(realized)],
      [cents(own.DU222.daily), cents(own.DU222.unrealized), cents(own.DU222.realized)]);
    assert.ok(realized < 0, "the commission is realized");
    const single = lib.waitFor(ib, EventName.pnlSingle, (id) => id === 2);
    ib.reqPnLSingle(2, "DU222", "", 265598);
    const [, pos, sDaily, sUnreal, sRealized, value] = await single;
    const p = own.DU222.positions["265598"];
    assert.deepEqual([pos, cents(sDaily), cents(sUnreal), cents(value)], [100, cents(p.daily), cents(p.unrealized), cents(p.value)]);
    assert.ok(unset(sRealized), `no closing trade: realized P&L unset (${sRealized})`);
    assert.equal(p.realized, null);

    for (const [id, acct, want] of [[3, "DU222", 1], [4, "DU111", 0]]) {
      const rows = [];
      const on = (reqId, account, model, contract, position, avgCost) => { if (reqId === id) rows.push({ account, contract, position, avgCost }); };
      ib.on(EventName.positionMulti, on);
      const end = lib.waitFor(ib, EventName.positionMultiEnd, (r) => r === id);
      ib.reqPositionsMulti(id, acct, "");
      await end;
      ib.off(EventName.positionMulti, on);
      assert.equal(rows.length, want, `${acct}: ${JSON.stringify(rows)}`);
      for (const r of rows) assert.deepEqual([r.account, r.contract.conId, r.position], [acct, 265598, 100]);
      ib.cancelPositionsMulti(id);
    }

    const values = {};
    const onValue = (reqId, account, model, key, value) => { if (reqId === 5) values[key] = { account, value }; };
    ib.on(EventName.accountUpdateMulti, onValue);
    // the library reads accountUpdateMultiEnd's reqId with readStr: a string despite its typings
    const vend = lib.waitFor(ib, EventName.accountUpdateMultiEnd, (r) => Number(r) === 5);
    ib.reqAccountUpdatesMulti(5, "DU111", "", true);
    await vend;
    ib.off(EventName.accountUpdateMulti, onValue);
    assert.equal(values.NetLiquidation.account, "DU111");
    assert.equal(Number(values.GrossPositionValue.value), 0, "DU111 holds nothing");
    assert.ok(Number(values.NetLiquidation.value) > 0);
    ib.cancelAccountUpdatesMulti(5);

    ib.reqPnL(6, "DU999", "");
    await lib.waitError(c, 321, 6);
    ib.cancelPnL(1);
    ib.cancelPnLSingle(2);
    const stats = JSON.parse(await lib.control(sim, "stats"));
    for (const k of ["reqPnL", "reqPnLSingle", "reqPositionsMulti", "reqAccountUpdatesMulti", "cancelPnL"])
      assert.ok(stats.requests[k] >= 1, `${k} reached ib-sim: ${JSON.stringify(stats.requests)}`);
    assert.equal(stats.decode_errors, 0);
    assert.deepEqual(c.decodeErrors, []);
  });
