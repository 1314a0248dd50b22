// service.test.js — the bus request path end to end: a real nats-server, the bus_responder binary
// (a toy service on the ibb_bus API), requests from the nats npm client.
// Encodings both ways, error replies with headers, size limit, deadlines, exactly-once under load,
// and the stream publisher (MessagePack + JSON mirror).
'use strict';
const L = require('../node/bus_lib');
const { assert, eq, te, td, F64 } = L;

const TIMEOUT_MS = 1000; // the responder's request deadline in this test

(async () => {
  const T = L.runner('bus.service');
  const nats = await L.startNats();
  const resp = await L.startResponder(nats.url, ['--timeout-ms', String(TIMEOUT_MS), '--max-payload', '4096',
    '--stream-mode', 'both']);
  const nc = await L.connect({ servers: nats.url });
  const R = new L.Requester(nc);
  const errSchema = L.validator()('error.json');
  const P = 'ib.rpc.';

  const expectError = (msg, status, slug, json) => {
    const h = L.errHeaders(msg);
    eq(h.code, String(status), 'Nats-Service-Error-Code');
    assert(typeof h.text === 'string' && h.text.length > 0, `Nats-Service-Error header missing: ${h.text}`);
    const body = json ? L.jsonOf(msg) : L.plain(L.mpDecode(msg.data));
    assert(json === L.isJsonBody(msg), `reply encoding should be ${json ? 'JSON' : 'MessagePack'}`);
    assert(errSchema(body), `error body fails schema: ${JSON.stringify(errSchema.errors)}`);
    eq(body.error.code, slug, 'error.code');
    eq(body.error.message, h.text, 'message equals the header');
    return body.error;
  };

  await T.step('JSON request -> JSON reply, 64-bit ints exact, tricky strings', async () => {
    const text = '{"id":7,"big":9007199254740993,"neg":-9223372036854775808,"px":185.25,"one":1.0,'
      + '"s":"q\\"b\\\\ \\n\\u0001 é € 😀","arr":[true,null,{}]}';
    const { msg } = await R.request(P + 'echo', te.encode(text));
    assert(!msg.headers, 'no error headers on success');
    const raw = td.decode(msg.data);
    assert(raw.includes('"big":9007199254740993'), `int64 not exact: ${raw}`);
    assert(raw.includes('"neg":-9223372036854775808'), `int64 min not exact: ${raw}`);
    assert(raw.includes('"one":1.0'), `double 1.0 lost its type: ${raw}`);
    const v = JSON.parse(raw);
    eq(v.encoding, 'json');
    eq(v.echo.s, 'q"b\\ \n\u0001 é € 😀');
    eq(v.echo.px, 185.25);
    eq(v.echo.arr, [true, null, {}]);
  });

  await T.step('empty body -> JSON reply', async () => {
    const { msg } = await R.request(P + 'echo');
    eq(L.jsonOf(msg), { echo: {}, encoding: 'json' });
  });

  await T.step('MessagePack request -> MessagePack reply, types preserved', async () => {
    const body = { id: 9, big: 9007199254740993n, umax: 18446744073709551615n, neg: -5, f: new F64(1.0),
      px: 0.1, s: 'é€😀\u0000x', bin: Buffer.from([0, 255, 16]), nested: { a: [1, 2, { b: 'c' }] } };
    const { msg } = await R.request(P + 'echo', L.mpEncode(body));
    assert(!L.isJsonBody(msg), 'reply must be MessagePack');
    const v = L.mpDecode(msg.data);
    eq(v.encoding, 'msgpack');
    eq(v.echo.big, 9007199254740993n);
    eq(v.echo.umax, 18446744073709551615n);
    eq(v.echo.neg, -5);
    assert(v.echo.f instanceof F64 && v.echo.f.v === 1.0, 'float64 1.0 must stay a float');
    eq(L.plain(v.echo.px), 0.1);
    eq(v.echo.s, 'é€😀\u0000x');
    assert(Buffer.isBuffer(v.echo.bin) && v.echo.bin.equals(Buffer.from([0, 255, 16])), 'bin preserved');
    eq(L.plain(v.echo.nested), { a: [1, 2, { b: 'c' }] });
  });

  await T.step('Content-Type header decides', async () => {
    let r = await R.request(P + 'echo', te.encode('{"a":1}'), { ct: 'application/json' });
    eq(L.jsonOf(r.msg).echo, { a: 1 });
    r = await R.request(P + 'echo', L.mpEncode({ a: 1 }), { ct: 'application/msgpack' });
    eq(L.mpDecode(r.msg.data).echo, { a: 1 });
    r = await R.request(P + 'echo', L.mpEncode({ a: 1 }), { ct: 'application/json' });
    const e = expectError(r.msg, 400, 'bad_request', true);
    assert(/malformed JSON/.test(e.message), e.message);
  });

  await T.step('malformed MessagePack -> bad_request in MessagePack with headers', async () => {
    for (const bytes of [[0x81, 0xa1, 0x61], [0xdf, 0xff, 0xff, 0xff, 0xff], [0xc1], [0x81, 0x01, 0x02], [0x80, 0x00]]) {
      const { msg } = await R.request(P + 'echo', Uint8Array.from(bytes));
      const e = expectError(msg, 400, 'bad_request', false);
      assert(/msgpack body/.test(e.message), e.message);
    }
  });

  await T.step('malformed JSON / not a map -> bad_request', async () => {
    let { msg } = await R.request(P + 'echo', te.encode('{"a":'));
    let e = expectError(msg, 400, 'bad_request', true);
    assert(/line 1/.test(e.message), e.message);
    ({ msg } = await R.request(P + 'echo', te.encode('[1,2]')));
    e = expectError(msg, 400, 'bad_request', true);
    assert(/must be a map/.test(e.message), e.message);
    ({ msg } = await R.request(P + 'echo', L.mpEncode([1, 2, 3])));
    expectError(msg, 400, 'bad_request', false);
    ({ msg } = await R.request(P + 'echo', te.encode('{"a":1,"a":2}')));
    expectError(msg, 400, 'bad_request', true);
  });

  await T.step('oversized body -> payload_too_large (413)', async () => {
    const big = te.encode(JSON.stringify({ pad: 'x'.repeat(5000) }));
    let { msg } = await R.request(P + 'echo', big);
    let e = expectError(msg, 413, 'payload_too_large', true);
    assert(/4096/.test(e.message), e.message);
    ({ msg } = await R.request(P + 'echo', L.mpEncode({ pad: 'y'.repeat(5000) })));
    e = expectError(msg, 413, 'payload_too_large', false);
  });

  await T.step('handler errors: slug -> status, ib_code kept or absent', async () => {
    let { msg } = await R.request(P + 'fail', te.encode('{"code":"conflict","message":"dup key","ib_code":201}'));
    let e = expectError(msg, 409, 'conflict', true);
    eq(e.ib_code, 201);
    ({ msg } = await R.request(P + 'fail', L.mpEncode({ code: 'rate_limited', message: 'slow down' })));
    e = expectError(msg, 429, 'rate_limited', false);
    assert(!('ib_code' in e), 'ib_code must be absent');
    for (const [slug, status] of [['not_found', 404], ['unprocessable', 422], ['unavailable', 503], ['whatever', 500]]) {
      ({ msg } = await R.request(P + 'fail', te.encode(JSON.stringify({ code: slug, message: 'm' }))));
      expectError(msg, status, slug, true);
    }
  });

  await T.step('typed getters through the bus', async () => {
    let { msg } = await R.request(P + 'types', te.encode('{"symbol":"AAPL","qty":1e2,"price":185,"flag":true,"legs":[1,2]}'));
    eq(L.jsonOf(msg), { symbol: 'AAPL', qty: 100, price: 185.0, flag: true, legs: 2 });
    ({ msg } = await R.request(P + 'types', te.encode('{"qty":1}')));
    let e = expectError(msg, 400, 'bad_request', true);
    eq(e.message, "field 'symbol' is required (a string of at most 15 bytes)");
    ({ msg } = await R.request(P + 'types', L.mpEncode({ symbol: 'AAPL', qty: 'ten' })));
    e = expectError(msg, 400, 'bad_request', false);
    eq(e.message, "field 'qty' must be an integer");
    ({ msg } = await R.request(P + 'types', te.encode('{"symbol":"AAPL","qty":1.5}')));
    e = expectError(msg, 400, 'bad_request', true);
    assert(/out of range/.test(e.message), e.message);
  });

  await T.step('a reply the writer refuses -> internal (500), both encodings', async () => {
    let { msg } = await R.request(P + 'badreply', te.encode('{}'));
    expectError(msg, 500, 'internal', true);
    ({ msg } = await R.request(P + 'badreply', L.mpEncode({})));
    expectError(msg, 500, 'internal', false);
  });

  await T.step('answering twice: one reply on the wire, second counted', async () => {
    const before = L.plain(L.mpDecode((await R.request(P + 'counters', L.mpEncode({}))).msg.data));
    const { msg, id } = await R.request(P + 'twice', te.encode('{}'));
    eq(L.jsonOf(msg), { answer: 1 });
    await L.sleep(300);
    eq(R.count(id), 1, 'replies received');
    const after = L.plain(L.mpDecode((await R.request(P + 'counters', L.mpEncode({}))).msg.data));
    eq(after.late_replies - before.late_replies, 1, 'late_replies delta');
  });

  await T.step('a handler that never answers -> timeout (504) at the deadline', async () => {
    const { msg, ms, id } = await R.request(P + 'hang', te.encode('{"x":1}'), { timeoutMs: 10000 });
    const e = expectError(msg, 504, 'timeout', true);
    assert(/1000 ms/.test(e.message), e.message);
    assert(ms >= TIMEOUT_MS - 50, `timeout came early: ${ms} ms`);
    assert(ms <= TIMEOUT_MS + 1500, `timeout came late: ${ms} ms`);
    const r2 = await R.request(P + 'hang', L.mpEncode({}), { timeoutMs: 10000 });
    expectError(r2.msg, 504, 'timeout', false);
    await L.sleep(200);
    eq(R.count(id), 1, 'exactly one reply');
  });

  await T.step('a late answer after the deadline is dropped and counted', async () => {
    const before = L.plain(L.mpDecode((await R.request(P + 'counters', L.mpEncode({}))).msg.data));
    const { msg, id } = await R.request(P + 'slow', te.encode('{"delay_ms":1600}'), { timeoutMs: 10000 });
    expectError(msg, 504, 'timeout', true);
    await L.sleep(1000); // the handler answers at 1600 ms: must not reach us
    eq(R.count(id), 1, 'exactly one reply');
    const after = L.plain(L.mpDecode((await R.request(P + 'counters', L.mpEncode({}))).msg.data));
    eq(after.late_replies - before.late_replies, 1, 'late_replies delta');
    eq(after.timeouts - before.timeouts, 1, 'timeouts delta');
  });

  await T.step('200 concurrent requests, mixed, each answered exactly once', async () => {
    const kinds = [];
    const jobs = [];
    for (let i = 0; i < 200; i++) {
      const k = i % 5;
      kinds.push(k);
      let subj;
      let data;
      if (k === 0) { subj = 'echo'; data = te.encode(JSON.stringify({ i })); }
      if (k === 1) { subj = 'echo'; data = L.mpEncode({ i }); }
      if (k === 2) { subj = 'slow'; data = L.mpEncode({ delay_ms: (i * 7) % 400 }); }
      if (k === 3) { subj = 'fail'; data = te.encode(JSON.stringify({ code: 'conflict', message: `n${i}` })); }
      if (k === 4) { subj = i % 10 === 4 ? 'hang' : 'slow'; data = te.encode(i % 10 === 4 ? '{}' : `{"delay_ms":${i % 50}}`); }
      jobs.push(R.request(P + subj, data, { timeoutMs: 10000 }));
    }
    const res = await Promise.all(jobs);
    res.forEach((r, i) => {
      const k = kinds[i];
      if (k === 0) eq(L.jsonOf(r.msg).echo.i, i, `echo json ${i}`);
      if (k === 1) eq(L.mpDecode(r.msg.data).echo.i, i, `echo msgpack ${i}`);
      if (k === 2) eq(L.mpDecode(r.msg.data).slept_ms, (i * 7) % 400, `slow ${i}`);
      if (k === 3) eq(expectError(r.msg, 409, 'conflict', true).message, `n${i}`);
      if (k === 4 && i % 10 === 4) expectError(r.msg, 504, 'timeout', true);
      if (k === 4 && i % 10 !== 4) eq(L.jsonOf(r.msg).slept_ms, i % 50);
    });
    await L.sleep(500);
    res.forEach((r, i) => eq(R.count(r.id), 1, `replies to request ${i}`));
    const c = L.plain(L.mpDecode((await R.request(P + 'counters', L.mpEncode({}))).msg.data));
    eq(c.in_flight, 0, 'nothing left in flight');
  });

  await T.step('stream publisher: MessagePack + JSON mirror, in order, every message', async () => {
    const N = 5000;
    const got = { mp: [], js: [] };
    const s1 = nc.subscribe('ib.quote.AAPL', { callback: (e, m) => got.mp.push(m.data) });
    const s2 = nc.subscribe('ib.json.quote.AAPL', { callback: (e, m) => got.js.push(m.data) });
    await nc.flush();
    const { msg } = await R.request(P + 'stream.publish', te.encode(JSON.stringify({ n: N, key: 'AAPL' })), { timeoutMs: 20000 });
    const r = L.jsonOf(msg);
    eq(r.published, N);
    eq(r.failed, 0);
    const until = Date.now() + 10000;
    while ((got.mp.length < N || got.js.length < N) && Date.now() < until) await L.sleep(50);
    eq(got.mp.length, N, 'msgpack messages');
    eq(got.js.length, N, 'json messages');
    for (let i = 0; i < N; i++) {
      const a = L.plain(L.mpDecode(got.mp[i]));
      const b = JSON.parse(td.decode(got.js[i]));
      eq(a.seq, i + 1, 'msgpack order');
      eq(b, a, `json mirror equals msgpack at ${i}`);
    }
    eq(L.plain(L.mpDecode(got.mp[0])).note, 'tab\t"quoted" é');
    console.log(`     publisher: ${N} x 2 messages in ${(r.elapsed_ns / 1e6).toFixed(1)} ms `
      + `(${Math.round((2 * N) / (r.elapsed_ns / 1e9))} msg/s incl. JSON conversion)`);
    s1.unsubscribe();
    s2.unsubscribe();
  });

  await T.step('graceful stop: exit code 0', async () => {
    const code = await resp.stop();
    eq(code, 0, `responder exit (stderr: ${resp.stderr().slice(-2000)})`);
  });

  await nc.close();
  await nats.stop();
  T.done();
})().catch((e) => { console.error(e); process.exit(1); });
