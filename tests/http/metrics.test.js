// ib-bridge-http /metrics against the real stack (nats-server, ib-sim, ib-bridge, the gateway): after
// traffic (a WebSocket lease, REST quotes, an order placed on the bus) every adapter metric is there
// with HELP and TYPE, the exposition parses strictly (tests/node/prom_text.js), the figures agree with
// ib.rpc.status and with ib-sim's own counters, a scrape does not wait for a dead ib-bridge, and every
// expression of the Grafana dashboard (nats/grafana-ib-bridge.json) names an exported metric.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const npm = require('../node/npm');
const WebSocket = npm('ws');
const h = require('../node/http_harness');
const prom = require('../node/prom_text');

const READ = 'metrics-read-token';
let nats, be, gw;

// Every family the gateway exports once ib-bridge has answered (HA ones only with an `ha` object).
const ADAPTER = [
  'ibb_adapter_status_up', 'ibb_adapter_status_age_seconds', 'ibb_adapter_status_failures_total', 'ibb_adapter_uptime_seconds',
  'ibb_adapter_info', 'ibb_adapter_nats_connected',
  'ibb_ib_connected', 'ibb_ib_degraded', 'ibb_ib_server_version', 'ibb_ib_state', 'ibb_ib_reconnects_total', 'ibb_ib_stalls_total',
  'ibb_ib_decode_errors_total', 'ibb_ib_unknown_skipped_total', 'ibb_ib_messages_received_total', 'ibb_ib_messages_sent_total',
  'ibb_ib_keepalives_total', 'ibb_ib_requests_dropped_total',
  'ibb_md_lines_used', 'ibb_md_line_budget', 'ibb_md_snapshots_in_flight', 'ibb_md_leases',
  'ibb_pacing_queue', 'ibb_pacing_queue_cancel', 'ibb_historical_queue', 'ibb_historical_in_flight', 'ibb_historical_window_used',
  'ibb_orders_ready', 'ibb_orders_unsettled', 'ibb_orders_store_backlog', 'ibb_orders_store_backlog_oldest_seconds',
  'ibb_orders_store_write_retries_total', 'ibb_orders_store_write_conflicts_total',
  'ibb_orders_final_total', 'ibb_order_ack_duration_seconds', 'ibb_quote_events_total', 'ibb_quote_kv_writes_total',
  'ibb_quote_kv_write_errors_total',
];
const GATEWAY = [
  'ibb_http_requests_total', 'ibb_http_request_duration_seconds', 'ibb_http_bus_rtt_seconds', 'ibb_http_bus_timeouts_total',
  'ibb_http_bus_no_responders_total', 'ibb_http_bus_errors_total', 'ibb_http_bus_pending', 'ibb_http_bus_up', 'ibb_http_ws_clients',
  'ibb_http_ws_symbols', 'ibb_http_ws_quotes_received_total', 'ibb_http_ws_messages_sent_total', 'ibb_http_ws_quotes_conflated_total',
  'ibb_ha_instances',
];
const HA = ['ibb_ha_enabled', 'ibb_ha_epoch', 'ibb_ha_takeovers_total', 'ibb_ha_role', 'ibb_ha_leader_since_timestamp_seconds'];

async function scrape() {
  const r = await h.curl(`${gw.base}/metrics`);
  assert.equal(r.status, 200, r.body);
  assert.match(r.headers['content-type'], /^text\/plain; version=0\.0\.4/);
  return { text: r.body, fams: prom.parse(r.body) };
}

// Waits until the gateway's cached status shows `pred` (it refreshes once a second).
async function until(pred, what, ms = 8000) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    last = await scrape();
    if (pred(last.fams)) return last;
    await h.sleep(200);
  }
  assert.fail(`metrics never showed ${what}:\n${last && last.text}`);
}

test.before(async () => {
  nats = await h.startNats();
  be = await h.startBackend(nats.url, 'ib', { simArgs: ['--tick-rate', '20'] });
  gw = await h.startGateway(nats.url, { HTTP_READ_TOKENS: READ, HTTP_TRADE_TOKENS: 'metrics-trade-token' });
});
test.after(async () => { await h.stopAll(); });

test('the strict parser refuses what Prometheus would', () => {
  assert.throws(() => prom.parse('x 1\n'), /before its TYPE/);
  assert.throws(() => prom.parse('# HELP a_total h\n# TYPE a_total gauge\na_total 1\n'), /_total on a gauge/);
  assert.throws(() => prom.parse('# HELP a h\n# TYPE a counter\na 1\n'), /must end in _total/);
  assert.throws(() => prom.parse('# HELP a h\n# TYPE a gauge\na{l="x} 1\n'), /unterminated|bad label/);
  assert.throws(() => prom.parse('# HELP a h\n# TYPE a gauge\na 1x\n'), /bad value/);
  assert.throws(() => prom.parse('# HELP a h\n# TYPE a histogram\na_bucket{le="1"} 2\na_bucket{le="+Inf"} 1\na_sum 0\na_count 1\n'), /cumulative/);
  assert.throws(() => prom.parse('# TYPE a gauge\na 1\n'), /HELP and TYPE/);
});

test('after traffic: every metric with HELP/TYPE, values agree with ib.rpc.status and ib-sim', async () => {
  // traffic: a WebSocket lease on AAPL, REST quotes, an order placed on the bus
  const ws = new WebSocket(`ws://127.0.0.1:${gw.port}/ws/quotes/AAPL`, { headers: { Authorization: `Bearer ${READ}` } });
  const gotQuote = new Promise((resolve) => ws.on('message', (d) => { if (JSON.parse(d).type === 'quote') resolve(); }));
  await gotQuote;
  const q = await h.curl(`${gw.base}/quotes/MSFT`, { headers: { Authorization: `Bearer ${READ}` } });
  assert.equal(q.status, 200, q.body);
  const simBefore = await be.simStats();
  const placed = await h.busRequest(nats.url, 'ib.rpc.order.place',
    { client_order_id: 'metrics-1', symbol: 'AAPL', side: 'BUY', qty: 3, type: 'LMT', limit_price: 1 });
  assert.ok(placed.order_id > 0, JSON.stringify(placed));

  // the cache catches up: two leases (AAPL by WebSocket, MSFT held for REST), lines in use
  const { fams, text } = await until((f) => prom.value(f, 'ibb_md_leases') >= 2 && prom.value(f, 'ibb_adapter_status_up') === 1 &&
    prom.value(f, 'ibb_order_ack_duration_seconds_count') >= 1, 'two leases and the order acknowledged');
  for (const name of [...ADAPTER, ...GATEWAY, ...HA]) {
    const f = fams.get(name);
    assert.ok(f, `${name} missing from /metrics:\n${text}`);
    assert.ok(f.help.length > 5 && f.type, `${name} has HELP and TYPE`);
    assert.ok(f.samples.length > 0, `${name} has a sample`);
  }
  // base units: no _ms / _us / _milliseconds names
  for (const name of fams.keys()) assert.doesNotMatch(name, /_(ms|us|milliseconds|microseconds)(_|$)/, name);

  // against ib.rpc.status asked now (fields that do not move by themselves)
  const st = await be.status();
  const v = (n, l) => prom.value(fams, n, l);
  assert.equal(v('ibb_ib_connected'), st.connected ? 1 : 0);
  assert.equal(v('ibb_ib_server_version'), st.ib.server_version);
  assert.equal(v('ibb_ib_reconnects_total'), st.ib.stats.reconnects);
  assert.equal(v('ibb_md_line_budget'), st.market_data.line_budget);
  assert.equal(v('ibb_md_leases', { kind: 'stream' }), st.market_data.leases);
  assert.deepEqual(st.market_data.lease_list.flatMap((l) => l.keys).sort(), ['AAPL', 'MSFT']);
  assert.equal(v('ibb_md_lines_used'), st.market_data.lines_used);
  assert.equal(v('ibb_orders_ready'), st.orders_ready ? 1 : 0);
  assert.equal(v('ibb_ib_state', { state: 'ready' }), 1);
  // HA, as the status says it (this instance runs without HA: enabled 0, active, epoch 0)
  assert.equal(v('ibb_ha_enabled'), st.ha.enabled ? 1 : 0);
  assert.equal(v('ibb_ha_enabled'), 0);
  assert.equal(v('ibb_ha_epoch'), st.ha.epoch);
  assert.equal(v('ibb_ha_takeovers_total'), st.ha.takeovers);
  assert.equal(v('ibb_ha_role', { instance: st.ha.instance, role: st.ha.role }), 1);
  assert.equal(v('ibb_ha_instances'), 1, 'one ib-bridge answers $SRV.PING');
  assert.equal(v('ibb_ha_instance_epoch', { instance: st.ha.instance, role: 'active' }), 0);
  assert.equal(v('ibb_ib_state', { state: 'backoff' }), 0);
  assert.equal(v('ibb_adapter_info', { version: st.version, trading_mode: st.ib.trading_mode }), 1);
  // counters only grow: the cached copy is at most the live figure, and not older than ~2 s of traffic
  assert.ok(v('ibb_ib_messages_received_total') <= st.ib.stats.msgs_in);
  assert.ok(v('ibb_ib_messages_received_total') > 0);
  assert.ok(v('ibb_ib_messages_sent_total') <= st.ib.stats.msgs_out);
  assert.ok(v('ibb_adapter_status_age_seconds') >= 0 && v('ibb_adapter_status_age_seconds') < 2.5);

  // the order's acknowledgement is in the round-trip histogram; quote events flowed
  const ack = fams.get('ibb_order_ack_duration_seconds');
  assert.equal(prom.value(fams, 'ibb_order_ack_duration_seconds_count'), st.orders.ack_rtt.count);
  assert.ok(st.orders.ack_rtt.count >= 1, JSON.stringify(st.orders));
  assert.ok(ack.samples.some((x) => x.name.endsWith('_bucket') && x.labels.le === '0.001'), 'bounds in seconds');
  for (const s of ['filled', 'cancelled', 'rejected'])
    assert.equal(v('ibb_orders_final_total', { status: s }), st.orders.final[s], s);
  assert.ok(v('ibb_quote_events_total') > 0 && v('ibb_quote_events_total') <= st.market_data.quote_events);
  assert.equal(v('ibb_quote_kv_write_errors_total'), 0);

  // against ib-sim's own counters: the lines it serves are the lines ib-bridge says it uses
  const sim = await be.simStats();
  assert.equal(v('ibb_md_lines_used'), sim.market_data_lines, JSON.stringify(sim));
  // the order reached ib-sim: its placeOrder count grew by one, and ib-bridge sent at least that message
  const placeKey = Object.keys(sim.requests).find((k) => /place/i.test(k));
  assert.ok(placeKey, `ib-sim counts placeOrder: ${JSON.stringify(sim.requests)}`);
  assert.equal(sim.requests[placeKey] - (simBefore.requests[placeKey] || 0), 1);
  // ib-bridge's messages out cover every request ib-sim counted (handshake + requests)
  const after = await until((f) => prom.value(f, 'ibb_ib_messages_sent_total') >= Object.values(sim.requests).reduce((a, b) => a + b, 0),
    'messages sent covering ib-sim requests');
  assert.ok(prom.value(after.fams, 'ibb_ib_messages_sent_total') > 0);
  ws.close();
});

test('/ws/events: needs the read token, streams order events, replays the last ones to a new client', async () => {
  const open = (headers) => {
    const ws = new WebSocket(`ws://127.0.0.1:${gw.port}/ws/events`, { headers });
    ws.msgs = [];
    ws.on('message', (d) => ws.msgs.push(JSON.parse(d)));
    ws.closed = new Promise((resolve) => ws.on('close', (code) => resolve(code)));
    return ws;
  };
  const waitFor = async (ws, pred, what, ms = 3000) => {
    const end = Date.now() + ms;
    while (Date.now() < end) { const m = ws.msgs.find(pred); if (m) return m; await h.sleep(20); }
    assert.fail(`${what}: got ${JSON.stringify(ws.msgs.slice(-5))}`);
  };
  assert.equal(await open({}).closed, 4401, 'no token: closed 4401');
  const a = open({ Authorization: `Bearer ${READ}` });
  await waitFor(a, (m) => m.type === 'events', 'end of replay');
  const placed = await h.busRequest(nats.url, 'ib.rpc.order.place',
    { client_order_id: 'events-1', symbol: 'MSFT', side: 'SELL', qty: 2, type: 'LMT', limit_price: 9999 });
  const ev = await waitFor(a, (m) => m.type === 'order' && m.data.order_id === placed.order_id, 'order event');
  assert.equal(ev.data.client_order_id, 'events-1');
  assert.equal(ev.data.side, 'SELL');
  const b = open({ Authorization: `Bearer ${READ}` });
  await waitFor(b, (m) => m.type === 'events', 'end of replay (second client)');
  const i = b.msgs.findIndex((m) => m.type === 'order' && m.data.order_id === placed.order_id);
  assert.ok(i >= 0 && i < b.msgs.findIndex((m) => m.type === 'events'), 'the order event is replayed before the marker');
  a.close();
  b.close();
});

test('a scrape never waits for ib-bridge: stopped, /metrics answers at once and says so', async () => {
  await h.stop(be.bridge);
  const t0 = Date.now();
  const { fams } = await scrape();
  assert.ok(Date.now() - t0 < 500, `scrape took ${Date.now() - t0} ms`);
  assert.ok(fams.has('ibb_md_leases'), 'the last known figures stay');
  const { fams: later } = await until((f) => prom.value(f, 'ibb_adapter_status_up') === 0, 'status_up 0', 10000);
  assert.ok(prom.value(later, 'ibb_adapter_status_age_seconds') >= 5);
  assert.ok(prom.value(later, 'ibb_adapter_status_failures_total') >= 1);
});

test('Grafana dashboard: every expression names an exported metric', async () => {
  const file = path.join(h.ROOT, 'nats/grafana-ib-bridge.json');
  const dash = JSON.parse(fs.readFileSync(file, 'utf8'));
  const exported = new Set([...ADAPTER, ...GATEWAY, ...HA]);
  const { fams } = await scrape();
  for (const name of fams.keys()) exported.add(name);
  const FN = new Set(['rate', 'increase', 'sum', 'max', 'min', 'avg', 'by', 'without', 'histogram_quantile', 'clamp_min', 'le']);
  let n = 0;
  for (const p of dash.panels) {
    assert.ok(p.targets && p.targets.length, `panel "${p.title}" has queries`);
    for (const t of p.targets) {
      n++;
      const names = (t.expr.replace(/\[[^\]]*\]/g, '').replace(/\{[^}]*\}/g, '').match(/[a-zA-Z_:][a-zA-Z0-9_:]*/g) || [])
        .filter((w) => !FN.has(w) && !/^\d/.test(w));
      const metrics = names.filter((w) => w.startsWith('ibb_'));
      assert.ok(metrics.length > 0, `"${p.title}": ${t.expr} names no ibb_ metric`);
      assert.deepEqual(names.filter((w) => !w.startsWith('ibb_') && !/^(state|reason|route|status|instance|role|kind)$/.test(w)), [],
        `"${p.title}": ${t.expr} has unknown words`);
      for (const m of metrics) {
        const base = m.replace(/_(bucket|sum|count)$/, '');
        assert.ok(exported.has(m) || (exported.has(base) && fams.get(base)?.type === 'histogram'),
          `"${p.title}": ${m} is not exported`);
      }
    }
  }
  assert.ok(n >= 15, `the dashboard has ${n} queries`);
});

test('the gateway stops cleanly (under the sanitizers: no report, no leak of the cached status)', async () => {
  assert.equal(await h.stop(gw.proc), 0, `clean exit:\n${gw.proc.log.slice(-3000)}`);
});
