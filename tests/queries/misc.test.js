// misc.test.js — the request/reply endpoints of issue 5 that live outside the queries module:
// ib.rpc.contract (every match), ib.rpc.status, ib.rpc.admin.connect/disconnect, and $SRV.PING/INFO/STATS of
// the real ib-bridge validated against schemas/micro — all in both encodings where they apply.
'use strict';
const bus = require('../node/bus_lib');
const { startStack } = require('../node/stack');
const Q = require('../node/queries_lib');
const { assert, eq } = bus;

(async () => {
  const T = bus.runner('queries.misc');
  const S = Q.schemas();
  const st = await startStack({});
  const gather = async (subject, ms = 400) => {
    const out = [];
    const inbox = `_INBOX.q${Math.random().toString(36).slice(2)}`;
    const sub = st.nc.subscribe(inbox, { callback: (e, m) => { if (!e && m.data.length) out.push(bus.jsonOf(m)); } });
    st.nc.publish(subject, new Uint8Array(), { reply: inbox });
    await bus.sleep(ms);
    sub.unsubscribe();
    return out;
  };
  try {
    await T.step('contract: AAPL in both encodings with every detail field', async () => {
      S.check('contract_request.json', { symbol: 'AAPL' });
      const [j, m] = await Q.both(st, S, 'ib.rpc.contract', { symbol: 'AAPL' }, 'contract_reply.json');
      eq(j.data.count, 1);
      const c = j.data.contracts[0];
      eq([c.key, c.contract.con_id, c.contract.sec_type, c.contract.currency, c.contract.primary_exchange], ['AAPL', 265598, 'STK', 'USD', 'NASDAQ']);
      assert(c.min_tick > 0 && c.long_name.length > 0 && c.trading_hours.length > 0 && c.time_zone.length > 0, JSON.stringify(c));
      eq(Q.num(m.data), Q.num(j.data), 'same answer in MessagePack');
    });

    await T.step('contract: an ambiguous future (no expiry) returns every match', async () => {
      const [j] = await Q.both(st, S, 'ib.rpc.contract', { contract: { symbol: 'ES', sec_type: 'FUT', exchange: 'CME', currency: 'USD' } }, 'contract_reply.json');
      assert(j.data.count >= 2, `matches: ${j.data.count}`);
      const keys = j.data.contracts.map((c) => c.key);
      eq(new Set(keys).size, keys.length, 'distinct keys');
      assert(keys.every((k) => k.startsWith('FUT:ES:')), keys.join(','));
    });

    await T.step('contract: by conId, unknown symbol, bad input', async () => {
      const [j] = await Q.both(st, S, 'ib.rpc.contract', { contract: { con_id: 265598 } }, 'contract_reply.json');
      eq(j.data.contracts[0].contract.symbol, 'AAPL');
      const u = await Q.both(st, S, 'ib.rpc.contract', { symbol: 'NOSUCH' }, null, { error: 'unknown_symbol' });
      eq(u[0].error.ib_code, 200);
      for (const body of [{}, { symbol: 5 }, { symbol: 'A.B' }, { contract: 'AAPL' }, { contract: {} }])
        await Q.both(st, S, 'ib.rpc.contract', body, null, { error: 'bad_request' });
    });

    await T.step('contract: 20 identical concurrent lookups share one IB request; a repeat is served from the cache', async () => {
      const n = async () => ((await st.simStats()).requests || {}).reqContractDetails || 0;
      const before = await n();
      const rs = await Promise.all(Array.from({ length: 20 }, () => st.request('ib.rpc.contract', { symbol: 'INTC' })));
      for (const r of rs) eq(r.data.count, 1, 'every request answered with the contract');
      eq(await n(), before + 1, 'one reqContractDetails for 20 identical requests');
      eq((await st.request('ib.rpc.contract', { symbol: 'INTC' })).data.contracts[0].contract.symbol, 'INTC', 'repeat');
      eq(await n(), before + 1, 'the repeat did not ask IB');
    });

    await T.step('status in both encodings matches the schema', async () => {
      const [j, m] = await Q.both(st, S, 'ib.rpc.status', {}, 'status_reply.json');
      eq([j.data.connected, j.data.ib.state, j.data.ib.server_version, j.data.nats.connected], [true, 'ready', 176, true]);
      eq(j.data.ib.accounts, ['DU1234567']);
      eq(m.data.ib.client_id, j.data.ib.client_id);
      const e = await st.request('ib.rpc.status'); // empty body -> JSON
      S.check('status_reply.json', e.data);
    });

    await T.step('admin.disconnect then admin.connect: replies match the schema, status follows, queries answer ib_unavailable meanwhile', async () => {
      S.check('admin_request.json', {});
      const d = await st.request('ib.rpc.admin.disconnect', {});
      S.check('admin_reply.json', d.data);
      eq([d.data.action, d.data.state], ['disconnect', 'disconnected']);
      const s = await st.request('ib.rpc.status', {}, { msgpack: true });
      S.check('status_reply.json', s.data);
      eq(s.data.connected, false);
      const c = await Q.both(st, S, 'ib.rpc.candles', { symbol: 'AAPL', duration: '2 D', bar_size: '1 hour' }, null, { error: 'ib_unavailable' });
      eq(c[0].status, 503);
      await Q.both(st, S, 'ib.rpc.contract', { symbol: 'MSFT' }, null, { error: 'ib_unavailable' });
      const p = await st.request('ib.rpc.positions', {});
      S.check('positions_reply.json', p.data);
      eq(p.data.live, false, 'positions from memory say they are not live');
      const up = await st.request('ib.rpc.admin.connect', {}, { msgpack: true });
      S.check('admin_reply.json', up.data);
      eq(up.data.action, 'connect');
      await st.waitReady();
      const again = await st.request('ib.rpc.candles', { symbol: 'AAPL', duration: '2 D', bar_size: '1 hour' });
      assert(!again.error, JSON.stringify(again.error));
    });

    const micro = { PING: S.get('micro/ping_response.json'), INFO: S.get('micro/info_response.json'), STATS: S.get('micro/stats_response.json') };
    for (const verb of ['PING', 'INFO', 'STATS']) {
      await T.step(`$SRV.${verb} of the real ib-bridge (bare, by name, by name and id) matches the micro schema`, async () => {
        const all = await gather(`$SRV.${verb}`);
        eq(all.length, 1, `replies to $SRV.${verb}`);
        const named = await gather(`$SRV.${verb}.ib-bridge`);
        eq(named.length, 1);
        const one = await gather(`$SRV.${verb}.ib-bridge.${all[0].id}`);
        eq(one.length, 1);
        for (const r of [...all, ...named, ...one]) {
          assert(micro[verb](r), `${verb}: ${JSON.stringify(micro[verb].errors)} in ${JSON.stringify(r).slice(0, 400)}`);
          eq([r.type, r.name], [`io.nats.micro.v1.${verb.toLowerCase()}_response`, 'ib-bridge']);
        }
        eq((await gather(`$SRV.${verb}.other`, 200)).length, 0);
      });
    }

    await T.step('$SRV.INFO lists the endpoints of issue 5 with their subjects; STATS counts their requests and errors', async () => {
      const [info] = await gather('$SRV.INFO.ib-bridge');
      const eps = Object.fromEntries(info.endpoints.map((e) => [e.name, e.subject]));
      for (const [name, subject] of [['candles', 'ib.rpc.candles'], ['contract', 'ib.rpc.contract'], ['positions', 'ib.rpc.positions'],
        ['account', 'ib.rpc.account'], ['status', 'ib.rpc.status'], ['admin_connect', 'ib.rpc.admin.connect'],
        ['admin_disconnect', 'ib.rpc.admin.disconnect']]) eq(eps[name], subject, `endpoint ${name}`);
      const [stats] = await gather('$SRV.STATS.ib-bridge');
      const c = stats.endpoints.find((e) => e.name === 'candles');
      assert(c.num_requests >= 3 && c.num_errors >= 2, JSON.stringify(c));
      assert(c.processing_time > 0 && c.average_processing_time > 0, 'processing time');
      const ct = stats.endpoints.find((e) => e.name === 'contract');
      assert(ct.num_errors >= 10 && /bad_request|unavailable|unknown/.test(ct.last_error), JSON.stringify(ct));
    });
  } finally {
    await T.step('ib-bridge stops cleanly', () => st.stop());
  }
  T.done();
})().catch((e) => { console.error(e); process.exit(1); });
