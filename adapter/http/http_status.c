/* http_status.c — the gateway's cached copy of ib.rpc.status and its Prometheus form.
 *
 * The tick asks ib.rpc.status once a second (never two at a time); the newest answer is kept as a
 * jansson object owned by httpApp (app->status) and replaced whole. A scrape of /metrics only reads
 * that copy, so it never waits for ib-bridge, IB or the bus: when ib-bridge stops answering, the
 * copy ages (ibb_adapter_status_age_seconds) and ibb_adapter_status_up drops to 0.
 *
 * Names follow Prometheus conventions: counters end in _total, durations are seconds, kinds are
 * labels. Every figure comes from a field of schemas/status_reply.json; a field the reply lacks (an
 * older ib-bridge, or `ha` without HA) is left out rather than invented. Loop thread only. */
#include <inttypes.h>
#include <jansson.h>
#include <string.h>

#include "http_app.h"
#include "http_mpjson.h"
#include "ibb_log.h"

#define STATUS_EVERY_US 1000000
#define STATUS_TIMEOUT_MS 1500
#define STATUS_STALE_US 5000000 /* no answer for this long: ibb_adapter_status_up 0 */

static void on_status_reply(void *arg, const httpBusReply *rep)
{
    httpApp *app = arg;
    app->status_handle = 0;
    if (rep->status != IBB_OK || rep->err_code) {
        app->status_failures++;
        return;
    }
    json_t *root = NULL;
    if (rep->len && rep->data[0] == '{') {
        root = json_loadb(rep->data, rep->len, 0, NULL);
    } else {
        busBuf b;
        busBuf_Init(&b);
        if (http_msgpackToJson(rep->data, rep->len, &b) == IBB_OK)
            root = json_loadb(busBuf_CStr(&b), b.len, 0, NULL);
        busBuf_Free(&b);
    }
    if (!json_is_object(root) || json_is_object(json_object_get(root, "error"))) {
        json_decref(root);
        app->status_failures++;
        return;
    }
    json_decref(app->status);
    app->status = root;
    app->status_at_us = http_nowUs();
    app->status_polls++;
}

void http_statusTick(httpApp *app)
{
    int64_t now = http_nowUs();
    if (app->status_handle || app->draining ||
        (app->status_asked_us && now - app->status_asked_us < STATUS_EVERY_US))
        return;
    app->status_asked_us = now;
    char subject[160];
    snprintf(subject, sizeof subject, "%s.rpc.status", app->cfg->nats.subject_prefix);
    if (httpBus_Request(app->bus, subject, "{}", 2, STATUS_TIMEOUT_MS, on_status_reply, app,
                        &app->status_handle) != IBB_OK)
        app->status_handle = 0;
}

void http_statusFree(httpApp *app)
{
    httpBus_Cancel(app->bus, app->status_handle);
    app->status_handle = 0;
    json_decref(app->status);
    app->status = NULL;
}

int http_statusFresh(const httpApp *app)
{
    return app->status && http_nowUs() - app->status_at_us < STATUS_STALE_US;
}

/* ---------------------------------------------------------------- rendering */

/* The value at a dotted path ("ib.stats.msgs_in"), or NULL. */
static json_t *at(json_t *root, const char *path)
{
    char key[64];
    json_t *v = root;
    while (v && *path) {
        size_t n = strcspn(path, ".");
        if (n >= sizeof key)
            return NULL;
        memcpy(key, path, n);
        key[n] = '\0';
        v = json_object_get(v, key);
        path += n + (path[n] == '.');
    }
    return v;
}

static int number(json_t *v, double *out)
{
    if (json_is_boolean(v))
        *out = json_is_true(v);
    else if (json_is_number(v))
        *out = json_number_value(v);
    else
        return 0;
    return 1;
}

static void head(busBuf *out, const char *name, const char *type, const char *help)
{
    busBuf_Printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void sample(busBuf *out, const char *name, const char *labels, double v)
{
    busBuf_Printf(out, "%s%s %.17g\n", name, labels, v);
}

typedef struct statusMetric {
    const char *name, *type, *path, *help;
} statusMetric;

/* One figure of ib.rpc.status each. */
static const statusMetric SIMPLE[] = {
    {"ibb_adapter_uptime_seconds", "gauge", "uptime_s", "Seconds since ib-bridge started."},
    {"ibb_ib_connected", "gauge", "connected",
     "1 when the IB link is up and ready (ib.rpc.status connected)."},
    {"ibb_ib_degraded", "gauge", "ib.degraded", "1 between IB's 1100 (connectivity lost) and 1101/1102."},
    {"ibb_ib_server_version", "gauge", "ib.server_version",
     "IB server version from the handshake (0 before)."},
    {"ibb_ib_reconnects_total", "counter", "ib.stats.reconnects", "IB connections re-established."},
    {"ibb_ib_stalls_total", "counter", "ib.stats.stalls", "IB links declared stalled (no bytes in time)."},
    {"ibb_ib_decode_errors_total", "counter", "ib.stats.decode_errors", "IB messages that failed to decode."},
    {"ibb_ib_unknown_skipped_total", "counter", "ib.stats.unknown_skipped",
     "IB messages of unknown type skipped."},
    {"ibb_ib_messages_received_total", "counter", "ib.stats.msgs_in", "Messages received from IB."},
    {"ibb_ib_messages_sent_total", "counter", "ib.stats.msgs_out", "Messages sent to IB."},
    {"ibb_ib_keepalives_total", "counter", "ib.stats.keepalives", "Keepalive requests sent to IB."},
    {"ibb_adapter_nats_connected", "gauge", "nats.connected",
     "1 when ib-bridge itself is connected to NATS."},
    {"ibb_md_lines_used", "gauge", "market_data.lines_used",
     "IB market-data lines in use (streams plus snapshots in flight)."},
    {"ibb_md_line_budget", "gauge", "market_data.line_budget", "IB market-data lines ib-bridge may use."},
    {"ibb_md_snapshots_in_flight", "gauge", "market_data.snapshots_in_flight",
     "Snapshot requests holding a line."},
    {"ibb_depth_used", "gauge", "market_data.streams.depth_used", "Market-depth subscriptions held at IB."},
    {"ibb_depth_budget", "gauge", "market_data.streams.depth_budget",
     "Market-depth subscriptions ib-bridge may hold (ib.depth_budget)."},
    {"ibb_tick_by_tick_used", "gauge", "market_data.streams.tick_by_tick_used",
     "Tick-by-tick subscriptions held at IB."},
    {"ibb_tick_by_tick_budget", "gauge", "market_data.streams.tick_by_tick_budget",
     "Tick-by-tick subscriptions ib-bridge may hold (ib.tick_by_tick_budget)."},
    {"ibb_bars_used", "gauge", "market_data.streams.bars_used",
     "Real-time-bar subscriptions held at IB (each also a market-data line)."},
    {"ibb_bars_budget", "gauge", "market_data.streams.bars_budget",
     "Market-data lines real-time bars share with quotes (ib.md_line_budget)."},
    {"ibb_streams_paced", "gauge", "market_data.streams.paced",
     "Tick-by-tick and bar requests waiting for IB's pacing."},
    {"ibb_depth_events_total", "counter", "market_data.streams.depth_events", "Order-book events published."},
    {"ibb_tick_events_total", "counter", "market_data.streams.tick_events", "Tick-by-tick events published."},
    {"ibb_bar_events_total", "counter", "market_data.streams.bar_events", "Real-time bar events published."},
    {"ibb_pacing_queue", "gauge", "pacing.queue",
     "Requests waiting in the outbound message-rate token bucket."},
    {"ibb_pacing_queue_cancel", "gauge", "pacing.queue_cancel",
     "Cancel requests waiting in the token bucket."},
    {"ibb_historical_queue", "gauge", "pacing.historical_queue",
     "Historical jobs waiting for IB's pacing rules."},
    {"ibb_historical_in_flight", "gauge", "pacing.historical_in_flight",
     "Historical requests sent, not answered."},
    {"ibb_historical_window_used", "gauge", "pacing.historical_window_used",
     "Historical requests in the last 10 minutes (IB allows 60)."},
    {"ibb_orders_ready", "gauge", "orders_ready",
     "1 when the order store exists and earlier records are settled."},
    {"ibb_orders_unsettled", "gauge", "orders.unsettled",
     "Order records of an earlier run still being settled."},
    {"ibb_orders_store_backlog", "gauge", "orders.store_backlog.queued",
     "Idempotency-record writes JetStream has not acknowledged yet."},
    {"ibb_orders_store_backlog_oldest_seconds", "gauge", "orders.store_backlog.oldest_ms",
     "Age of the oldest unacknowledged idempotency-record write."},
    {"ibb_orders_store_write_retries_total", "counter", "orders.store_backlog.retries",
     "Idempotency-record writes retried after an error."},
    {"ibb_orders_store_write_conflicts_total", "counter", "orders.store_backlog.conflicts",
     "Revision-checked record writes that met a newer stored state."},
    {"ibb_quote_events_total", "counter", "market_data.quote_events",
     "Quote events ib-bridge published on the bus."},
    {"ibb_quote_kv_writes_total", "counter", "market_data.kv_writes", "Writes to the quote KV bucket sent."},
    {"ibb_quote_kv_write_errors_total", "counter", "market_data.kv_write_errors",
     "Quote KV writes the NATS connection refused."},
    {"ibb_ha_enabled", "gauge", "ha.enabled", "1 when ib-bridge runs with high availability."},
    {"ibb_ha_epoch", "gauge", "ha.epoch", "HA leadership epoch of the answering instance."},
    {"ibb_ha_takeovers_total", "counter", "ha.takeovers", "HA takeovers seen by the answering instance."},
    {"ibb_ha_leader_since_timestamp_seconds", "gauge", "ha.leader_since_ns",
     "When the answering instance became active (Unix seconds; 0 when not active or without HA)."},
};

/* orders.ack_rtt (per-bucket counts, one more bucket than bounds) as a cumulative Prometheus histogram. */
static void render_ack_rtt(json_t *h, busBuf *out)
{
    json_t *bounds = json_object_get(h, "bounds_ms"), *buckets = json_object_get(h, "buckets");
    size_t n = json_array_size(bounds);
    double sum;
    if (!json_is_array(bounds) || json_array_size(buckets) != n + 1 ||
        !number(json_object_get(h, "sum_s"), &sum))
        return;
    const char *name = "ibb_order_ack_duration_seconds";
    head(out, name, "histogram", "Time from an order place request to IB's acknowledgement.");
    double cum = 0;
    for (size_t i = 0; i <= n; i++) {
        double c = 0, le = 0;
        number(json_array_get(buckets, i), &c);
        cum += c;
        if (i < n) {
            number(json_array_get(bounds, i), &le);
            busBuf_Printf(out, "%s_bucket{le=\"%g\"} %.17g\n", name, le / 1000, cum);
        } else {
            busBuf_Printf(out, "%s_bucket{le=\"+Inf\"} %.17g\n", name, cum);
        }
    }
    busBuf_Printf(out, "%s_sum %.17g\n%s_count %.17g\n", name, sum, name, cum);
}

void http_statusRender(const httpApp *app, busBuf *out)
{
    int fresh = http_statusFresh(app);
    head(out, "ibb_adapter_status_up", "gauge", "1 when ib-bridge answered ib.rpc.status in the last 5 s.");
    sample(out, "ibb_adapter_status_up", "", fresh);
    head(out, "ibb_adapter_status_age_seconds", "gauge",
         "Age of the cached ib.rpc.status (-1 before the first answer).");
    sample(out, "ibb_adapter_status_age_seconds", "",
           app->status ? (double)(http_nowUs() - app->status_at_us) / 1e6 : -1);
    head(out, "ibb_adapter_status_failures_total", "counter",
         "ib.rpc.status polls that got no usable answer.");
    sample(out, "ibb_adapter_status_failures_total", "", (double)app->status_failures);
    json_t *st = app->status;
    if (!st)
        return;
    for (size_t i = 0; i < sizeof SIMPLE / sizeof SIMPLE[0]; i++) {
        double v;
        if (!number(at(st, SIMPLE[i].path), &v))
            continue;
        if (strstr(SIMPLE[i].path, "_ms"))
            v /= 1000;
        else if (strstr(SIMPLE[i].path, "_ns"))
            v /= 1e9;
        head(out, SIMPLE[i].name, SIMPLE[i].type, SIMPLE[i].help);
        sample(out, SIMPLE[i].name, "", v);
    }
    double d1, d2;
    if (number(at(st, "ib.stats.dropped"), &d1) && number(at(st, "ib.stats.dropped_stale"), &d2)) {
        head(out, "ibb_ib_requests_dropped_total", "counter",
             "Queued IB requests never sent: reason=closed (link closed), reason=stale (every caller gave "
             "up).");
        sample(out, "ibb_ib_requests_dropped_total", "{reason=\"closed\"}", d1);
        sample(out, "ibb_ib_requests_dropped_total", "{reason=\"stale\"}", d2);
    }
    double leases;
    if (number(at(st, "market_data.leases"), &leases)) { /* quote streams: the one kind so far */
        head(out, "ibb_md_leases", "gauge", "Leases held by consumers, by kind.");
        sample(out, "ibb_md_leases", "{kind=\"stream\"}", leases);
    }
    json_t *fin = at(st, "orders.final");
    if (json_is_object(fin)) {
        head(out, "ibb_orders_final_total", "counter", "Orders that reached a final status, by status.");
        const char *k;
        json_t *v;
        json_object_foreach(fin, k, v) if (json_is_integer(v)) busBuf_Printf(
            out, "ibb_orders_final_total{status=\"%s\"} %" PRId64 "\n", k, (int64_t)json_integer_value(v));
    }
    render_ack_rtt(at(st, "orders.ack_rtt"), out);
    const char *state = json_string_value(at(st, "ib.state"));
    if (state) {
        static const char *const STATES[] = {"disconnected", "connecting", "handshaking", "ready", "backoff"};
        head(out, "ibb_ib_state", "gauge", "IB session state: 1 for the current one.");
        for (size_t i = 0; i < sizeof STATES / sizeof STATES[0]; i++)
            busBuf_Printf(out, "ibb_ib_state{state=\"%s\"} %d\n", STATES[i], strcmp(state, STATES[i]) == 0);
    }
    const char *ver = json_string_value(at(st, "version"));
    const char *mode = json_string_value(at(st, "ib.trading_mode"));
    head(out, "ibb_adapter_info", "gauge", "ib-bridge's version and trading mode (always 1).");
    busBuf_Puts(out, "ibb_adapter_info{version=");
    busJson_String(out, ver ? ver : "", ver ? strlen(ver) : 0);
    busBuf_Puts(out, ",trading_mode=");
    busJson_String(out, mode ? mode : "", mode ? strlen(mode) : 0);
    busBuf_Puts(out, "} 1\n");
    json_t *ha = json_object_get(st, "ha");
    const char *role = json_string_value(json_object_get(ha, "role"));
    if (role) {
        const char *inst = json_string_value(json_object_get(ha, "instance"));
        head(out, "ibb_ha_role", "gauge", "HA role of the answering instance (always 1).");
        busBuf_Puts(out, "ibb_ha_role{instance=");
        busJson_String(out, inst ? inst : "", inst ? strlen(inst) : 0);
        busBuf_Puts(out, ",role=");
        busJson_String(out, role, strlen(role));
        busBuf_Puts(out, "} 1\n");
    }
}
