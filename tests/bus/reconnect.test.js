// reconnect.test.js — NATS fails and recovers on its own: the responder starts before any server is up
// (retry on failed connect), survives a server kill + restart on the same port, keeps answering, and
// its link events (ib.evt.conn, JSON stream mode) land in a JetStream stream and match
// schemas/conn_event.json — including the 'disconnected' event published while the link was down.
'use strict';
const L = require('../node/bus_lib');
const { assert, eq, te } = L;

(async () => {
  const T = L.runner('bus.reconnect');
  const port = await L.freePort();
  const url = `nats://127.0.0.1:${port}`;
  const connSchema = L.validator()('conn_event.json');

  // the responder first, with no server yet: it must start and retry in the background
  const respP = L.startResponder(url, ['--stream-mode', 'json', '--timeout-ms', '2000']);
  await L.sleep(700);
  let nats = await L.startNats({ port });
  const resp = await respP;
  const nc = await L.connect({ servers: url, maxReconnectAttempts: -1, reconnectTimeWait: 200 });
  const jsm = await nc.jetstreamManager();
  await jsm.streams.add({ name: 'EVT', subjects: ['ib.evt.>'], storage: 'file' });
  const R = new L.Requester(nc);

  const echoUntilOk = async (ms) => {
    const until = Date.now() + ms;
    for (;;) {
      try {
        const { msg } = await R.request('ib.rpc.echo', te.encode('{"n":1}'), { timeoutMs: 1000 });
        if (msg.data.length) return L.jsonOf(msg);
      } catch (e) { /* not yet */ }
      if (Date.now() > until) throw new Error(`no echo within ${ms} ms`);
      await L.sleep(200);
    }
  };

  await T.step('started before the server, serves once it is up', async () => {
    eq((await echoUntilOk(10000)).echo, { n: 1 });
  });

  await T.step('server killed and restarted: requests work again', async () => {
    await nats.stop();
    await L.sleep(1200);
    assert(resp.proc.exitCode === null, 'responder must survive the outage');
    nats = await L.startNats({ port, dir: nats.dir });
    eq((await echoUntilOk(15000)).echo, { n: 1 });
  });

  await T.step('link events stored in JetStream validate against conn_event.json', async () => {
    const until = Date.now() + 10000;
    let events = [];
    while (Date.now() < until) {
      const info = await jsm.streams.info('EVT');
      events = [];
      for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
        const m = await jsm.streams.getMessage('EVT', { seq });
        events.push({ subject: m.subject, body: JSON.parse(L.td.decode(m.data)) });
      }
      if (events.some((e) => e.body.event === 'reconnected') && events.some((e) => e.body.event === 'disconnected')) break;
      await L.sleep(300);
    }
    const names = events.map((e) => e.body.event);
    assert(names.includes('disconnected'), `disconnected event missing: ${names}`);
    assert(names.includes('reconnected'), `reconnected event missing: ${names}`);
    assert(names.indexOf('disconnected') < names.lastIndexOf('reconnected'), `order: ${names}`);
    for (const e of events) {
      eq(e.subject, 'ib.evt.conn');
      assert(connSchema(e.body), `conn event fails schema: ${JSON.stringify(connSchema.errors)} ${JSON.stringify(e.body)}`);
      eq(e.body.source, 'nats');
    }
    const rec = events.find((e) => e.body.event === 'reconnected').body;
    eq(rec.state, 'up');
    eq(rec.url, url);
    assert(rec.ts_ns > 1.6e18, `ts_ns ${rec.ts_ns}`);
  });

  await T.step('graceful stop: exit code 0', async () => {
    eq(await resp.stop(), 0, `responder: ${resp.stderr().slice(-2000)}`);
  });

  await nc.close();
  await nats.stop();
  T.done();
})().catch((e) => { console.error(e); process.exit(1); });
