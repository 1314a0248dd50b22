// micro.test.js — hand-rolled NATS micro discovery: $SRV.PING / INFO / STATS (bare, .<name>, .<name>.<id>)
// from two bus_responder instances, validated against schemas/micro/*.json (Ajv, draft 2020-12).
'use strict';
const L = require('../node/bus_lib');
const { assert, eq, te } = L;

(async () => {
  const T = L.runner('bus.micro');
  const nats = await L.startNats();
  const a = await L.startResponder(nats.url, ['--id', 'inst-a']);
  const b = await L.startResponder(nats.url, []); // generated id
  const nc = await L.connect({ servers: nats.url });
  const R = new L.Requester(nc);
  const load = L.validator();
  const schema = { PING: load('micro/ping_response.json'), INFO: load('micro/info_response.json'),
    STATS: load('micro/stats_response.json') };
  const types = { PING: 'io.nats.micro.v1.ping_response', INFO: 'io.nats.micro.v1.info_response',
    STATS: 'io.nats.micro.v1.stats_response' };

  // Collects every reply to one request for `ms` (discovery is a scatter-gather).
  const gather = async (subject, ms = 500) => {
    const inbox = `${R.prefix}.g${Math.random().toString(36).slice(2)}`;
    const out = [];
    // an empty message is the server's "no responders" status, not a service reply
    const sub = nc.subscribe(inbox, { callback: (e, m) => { if (m.data.length) out.push(L.jsonOf(m)); } });
    nc.publish(subject, new Uint8Array(), { reply: inbox });
    await L.sleep(ms);
    sub.unsubscribe();
    return out;
  };

  await T.step('generated id is a NUID', async () => {
    assert(/^[A-Za-z0-9]{16,}$/.test(b.id), `id ${b.id}`);
    assert(b.id !== 'inst-a');
  });

  for (const verb of ['PING', 'INFO', 'STATS']) {
    await T.step(`$SRV.${verb} (3 subject forms) validate against the micro schema`, async () => {
      const all = await gather(`$SRV.${verb}`);
      eq(all.length, 2, `replies to $SRV.${verb}`);
      const named = await gather(`$SRV.${verb}.ib-bridge`);
      eq(named.length, 2, `replies to $SRV.${verb}.ib-bridge`);
      const one = await gather(`$SRV.${verb}.ib-bridge.inst-a`);
      eq(one.length, 1, `replies to $SRV.${verb}.ib-bridge.inst-a`);
      eq(one[0].id, 'inst-a');
      const none = await gather(`$SRV.${verb}.other-service`, 300);
      eq(none.length, 0, 'another service name gets no reply');
      for (const r of [...all, ...named, ...one]) {
        assert(schema[verb](r), `${verb} reply fails schema: ${JSON.stringify(schema[verb].errors)} in ${JSON.stringify(r)}`);
        eq(r.type, types[verb]);
        eq(r.name, 'ib-bridge');
        eq(r.metadata, { role: 'test-responder', lang: 'c' });
      }
      const bad = { ...one[0], version: 'v1' };
      assert(!schema[verb](bad), 'the schema must reject a non-semver version');
      eq(all.map((r) => r.id).sort(), [a.id, b.id].sort(), 'both instances answer');
    });
  }

  await T.step('INFO lists every endpoint with subject and queue group', async () => {
    const [info] = await gather('$SRV.INFO.ib-bridge.inst-a');
    const eps = Object.fromEntries(info.endpoints.map((e) => [e.name, e]));
    eq(eps.echo.subject, 'ib.rpc.echo');
    eq(eps.publish.subject, 'ib.rpc.stream.publish');
    eq(eps.echo.queue_group, 'q');
    eq(info.description, 'bus test responder (toy endpoints)');
    eq(info.endpoints.length, 9);
  });

  await T.step('STATS counts requests, errors, last_error and processing time', async () => {
    // the queue group spreads requests over both instances: count the sum
    for (let i = 0; i < 6; i++) await R.request('ib.rpc.echo', te.encode('{}'));
    await R.request('ib.rpc.fail', te.encode('{"code":"conflict","message":"on purpose"}'));
    await R.request('ib.rpc.echo', te.encode('{"a":'));
    const stats = await gather('$SRV.STATS.ib-bridge');
    eq(stats.length, 2);
    const sum = (name, field) => stats.reduce((s, r) => s + r.endpoints.find((e) => e.name === name)[field], 0);
    eq(sum('echo', 'num_requests'), 7);
    eq(sum('echo', 'num_errors'), 1);
    eq(sum('fail', 'num_errors'), 1);
    assert(sum('echo', 'processing_time') > 0, 'processing_time');
    const lastFail = stats.map((r) => r.endpoints.find((e) => e.name === 'fail').last_error).find((s) => s);
    eq(lastFail, '409:conflict: on purpose');
    for (const r of stats) assert(Date.parse(r.started) > Date.now() - 600000, `started ${r.started}`);
  });

  await T.step('both instances stop cleanly', async () => {
    eq(await a.stop(), 0, `a: ${a.stderr().slice(-1500)}`);
    eq(await b.stop(), 0, `b: ${b.stderr().slice(-1500)}`);
    const after = await gather('$SRV.PING', 300);
    eq(after.length, 0, 'no discovery replies after stop');
  });

  await nc.close();
  await nats.stop();
  T.done();
})().catch((e) => { console.error(e); process.exit(1); });
