/* br_status.c — ib.rpc.status, ib.rpc.admin.connect / disconnect, ib.evt.conn, IB notices.
 *
 * Every IB session state change and every NATS link change becomes one ib.evt.conn event and one
 * log line. IB notices with id -1 (1100/1101/1102 connectivity, 2103..2158 farm status) are
 * published as events too; 1100 marks the link degraded until 1101/1102. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "br_internal.h"
#include "ibb_log.h"

#ifndef IBB_VERSION
#define IBB_VERSION "0.0.0"
#endif

void br_publishConnEvent(brBridge *b, const busConnEvt *ev)
{
    msgpack_packer *pk = busPublisher_Packer(b->evt_pub);
    busConnEvt_Pack(pk, ev);
    busPublisher_Send(b->evt_pub, "evt.conn");
}

/* ---- NATS link events: nats.c thread -> loop ----------------------------------------------------- */

typedef struct natsEvt {
    brBridge *b;
    busConnEvent ev;
    int64_t ts_ns;
    char detail[256];
} natsEvt;

static void publish_nats_evt(void *arg)
{
    natsEvt *e = arg;
    const char *name = busConnEvent_Name(e->ev);
    bool up = e->ev == BUS_CONN_CONNECTED || e->ev == BUS_CONN_RECONNECTED;
    busConnEvt ev = {.source = "nats", .event = name, .state = up ? "up" : "down", .ts_ns = e->ts_ns};
    if (up)
        ev.url = e->detail;
    else if (e->detail[0])
        ev.message = e->detail;
    br_publishConnEvent(e->b, &ev); /* a "disconnected" event goes out once the link is back */
    if (e->ev == BUS_CONN_CLOSED && !e->b->stopping) {
        /* nats.c closes for good only when it gives up (e.g. the server refused the credentials): with
         * no way back onto the bus, stop and let the supervisor see a non-zero exit */
        IBB_ERROR("bridge.nats_closed", "detail=\"%s\" action=stop", e->detail);
        e->b->failed = true;
        brBridge_Stop(e->b, NULL, NULL);
    }
    free(e);
}

void br_onLoopConnEvent(busConn *c, busConnEvent ev, const char *detail, void *arg)
{
    if (ev == BUS_CONN_CLOSED)
        br_onNatsEvent(c, ev, detail, arg);
}

void br_onNatsEvent(busConn *c, busConnEvent ev, const char *detail, void *arg)
{
    (void)c;
    brBridge *b = arg;
    natsEvt *e = malloc(sizeof *e);
    if (!e)
        return;
    e->b = b;
    e->ev = ev;
    e->ts_ns = br_wallNs();
    snprintf(e->detail, sizeof e->detail, "%s", detail ? detail : "");
    bool posted = false;
    uv_mutex_lock(&b->svc_lock);
    if (b->svc_open)
        posted = busService_Post(b->svc, publish_nats_evt, e) == IBB_OK;
    uv_mutex_unlock(&b->svc_lock);
    if (!posted)
        free(e);
}

/* ---- IB link ------------------------------------------------------------------------------------- */

static void on_ib_state(void *ud, coreState from, coreState to, ibbStatus reason)
{
    brBridge *b = ud;
    char url[300];
    snprintf(url, sizeof url, "%s:%d", b->opt.session.host, b->opt.session.port);
    busConnEvt ev = {.source = "ib", .event = coreState_Name(to), .url = url};
    int64_t code = 0;
    const char *text = "";
    if (to == CORE_STATE_READY) {
        ev.state = b->ib_farm_down ? "degraded" : "up";
        ev.server_version = coreSession_ServerVersion(b->ib);
    } else if (to == CORE_STATE_CONNECTING || to == CORE_STATE_HANDSHAKING) {
        ev.state = "connecting";
    } else {
        ev.state = "down";
        coreSession_LastError(b->ib, &code, &text);
        ev.ib_code = (int)code;
        ev.message = text;
    }
    (void)from; /* the session logs the transition itself: one line per event */
    (void)reason;
    br_publishConnEvent(b, &ev);
}

static void status_notice(brBridge *b, const ibError *e)
{
    const char *event = "notice", *state = NULL;
    switch (e->code) {
    case 1100: event = "connectivity_lost"; state = "degraded"; b->ib_farm_down = true; break;
    case 1101: event = "connectivity_restored_data_lost"; state = "up"; b->ib_farm_down = false; break;
    case 1102: event = "connectivity_restored"; state = "up"; b->ib_farm_down = false; break;
    case 2103: case 2105: case 2157: event = "farm_down"; break;
    case 2104: case 2106: case 2158: event = "farm_ok"; break;
    case 2107: case 2108: event = "farm_inactive"; break;
    default: break;
    }
    busConnEvt ev = {
        .source = "ib", .event = event, .state = state, .ib_code = (int)e->code, .message = e->message};
    br_publishConnEvent(b, &ev);
}

/* ---- ib.rpc.status -------------------------------------------------------------------------------- */

static void pack_accounts(msgpack_packer *pk, const char *accounts)
{
    int n = 0;
    for (const char *p = accounts; p && *p; p++)
        n += (p == accounts || p[-1] == ',') && *p != ',';
    msgpack_pack_array(pk, (size_t)n);
    for (const char *p = accounts; p && *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len) {
            msgpack_pack_str(pk, len);
            msgpack_pack_str_body(pk, p, len);
        }
        p += len + (end ? 1 : 0);
    }
}

static void pack_ib(brBridge *b, msgpack_packer *pk)
{
    coreSessionStats st;
    coreSession_GetStats(b->ib, &st);
    int64_t code = 0;
    const char *text = "";
    coreSession_LastError(b->ib, &code, &text);
    msgpack_pack_map(pk, 15);
    busPack_KeyStr(pk, "state", coreState_Name(coreSession_State(b->ib)));
    busPack_KeyBool(pk, "connected", b->ib_ready);
    busPack_KeyBool(pk, "degraded", b->ib_farm_down);
    busPack_KeyStr(pk, "host", b->opt.session.host);
    busPack_KeyInt(pk, "port", b->opt.session.port);
    busPack_KeyInt(pk, "client_id", coreSession_ClientId(b->ib));
    busPack_KeyInt(pk, "server_version", coreSession_ServerVersion(b->ib));
    busPack_KeyStr(pk, "connection_time", coreSession_ConnectionTime(b->ib));
    busPack_Str(pk, "accounts");
    pack_accounts(pk, coreSession_Accounts(b->ib));
    busPack_KeyStr(pk, "trading_mode", b->opt.trading_mode);
    busPack_KeyBool(pk, "simulator", b->opt.simulator);
    busPack_KeyBool(pk, "read_only", b->opt.risk.read_only);
    busPack_KeyInt(pk, "last_error_code", code);
    busPack_KeyStr(pk, "last_error", text ? text : "");
    busPack_Str(pk, "stats");
    msgpack_pack_map(pk, 9);
    busPack_KeyInt(pk, "msgs_in", (int64_t)st.msgs_in);
    busPack_KeyInt(pk, "msgs_out", (int64_t)st.msgs_out);
    busPack_KeyInt(pk, "reconnects", (int64_t)st.reconnects);
    busPack_KeyInt(pk, "decode_errors", (int64_t)st.decode_errors);
    busPack_KeyInt(pk, "unknown_skipped", (int64_t)st.unknown_skipped);
    busPack_KeyInt(pk, "stalls", (int64_t)st.stalls);
    busPack_KeyInt(pk, "keepalives", (int64_t)st.keepalives);
    busPack_KeyInt(pk, "dropped", (int64_t)st.dropped);
    busPack_KeyInt(pk, "dropped_stale", (int64_t)st.dropped_stale);
}

/* market_data.lease_list: the first LEASE_LIST_MAX leases, {kind, keys, consumers (leases holding each
 * key), ttl_s (-1: never expires)}. Quote-stream leases are the only kind so far. */
#define LEASE_LIST_MAX 50

typedef struct leaseVisit {
    brBridge *b;
    msgpack_packer *pk;
    int64_t now_ms;
} leaseVisit;

static void pack_lease(void *ud, const char *const *keys, size_t nkeys, int64_t expires_ms)
{
    leaseVisit *lv = ud;
    msgpack_packer *pk = lv->pk;
    msgpack_pack_map(pk, 4);
    busPack_KeyStr(pk, "kind", "stream");
    busPack_Str(pk, "keys");
    msgpack_pack_array(pk, nkeys);
    for (size_t i = 0; i < nkeys; i++)
        busPack_Str(pk, keys[i]);
    busPack_Str(pk, "consumers");
    msgpack_pack_array(pk, nkeys);
    for (size_t i = 0; i < nkeys; i++)
        msgpack_pack_int64(pk, stLeases_RefCount(lv->b->leases, keys[i]));
    busPack_KeyInt(pk, "ttl_s", expires_ms == INT64_MAX ? -1 : (expires_ms - lv->now_ms + 999) / 1000);
}

static void pack_lease_list(brBridge *b, msgpack_packer *pk)
{
    size_t n = b->leases ? stLeases_LeaseCount(b->leases) : 0;
    n = n > LEASE_LIST_MAX ? LEASE_LIST_MAX : n;
    busPack_Str(pk, "lease_list");
    msgpack_pack_array(pk, n);
    leaseVisit lv = {.b = b, .pk = pk, .now_ms = br_nowMs(b)};
    if (n)
        stLeases_Visit(b->leases, n, pack_lease, &lv);
}

static void on_status(busRequest *req, void *arg)
{
    brBridge *b = arg;
    coreSessionStats st;
    coreSession_GetStats(b->ib, &st);
    msgpack_packer *pk = busRequest_Packer(req);
    msgpack_pack_map(pk, 10);
    busPack_KeyStr(pk, "version", IBB_VERSION);
    busPack_KeyInt(pk, "uptime_s", (int64_t)((uv_hrtime() - b->started_ns) / 1000000000ULL));
    busPack_KeyBool(pk, "connected", b->ib_ready); /* for health checks: is IB usable? */
    busPack_KeyBool(pk, "orders_ready", br_ordersReady(b)); /* store exists, earlier records repaired */
    busPack_Str(pk, "orders");
    br_ordersPackStatus(b, pk);
    busPack_Str(pk, "ib");
    pack_ib(b, pk);
    busPack_Str(pk, "nats");
    msgpack_pack_map(pk, 1);
    busPack_KeyBool(pk, "connected", busConn_IsConnected(b->conn));
    busPack_Str(pk, "market_data");
    msgpack_pack_map(pk, 9);
    pack_lease_list(b, pk);
    uint64_t qev, kvw, kve;
    br_quoteCounters(b, &qev, &kvw, &kve);
    busPack_KeyInt(pk, "quote_events", (int64_t)qev);
    busPack_KeyInt(pk, "kv_writes", (int64_t)kvw);
    busPack_KeyInt(pk, "kv_write_errors", (int64_t)kve);
    size_t snaps = br_quoteSnapshotLines(b);
    busPack_KeyInt(pk, "lines_used", (b->book ? (int64_t)stQuoteBook_Count(b->book) : 0) + (int64_t)snaps +
                                         (int64_t)br_streamsCount(b, BR_SK_BARS)); /* bars are lines too */
    busPack_KeyInt(pk, "snapshots_in_flight", (int64_t)snaps);
    busPack_KeyInt(pk, "line_budget", b->opt.md_line_budget);
    busPack_KeyInt(pk, "leases", b->leases ? (int64_t)stLeases_LeaseCount(b->leases) : 0);
    busPack_Str(pk, "streams");
    br_streamsPackStatus(b, pk);
    busPack_Str(pk, "pacing");
    msgpack_pack_map(pk, 5);
    busPack_KeyInt(pk, "queue", (int64_t)(st.queue_cancel + st.queue_normal));
    busPack_KeyInt(pk, "queue_cancel", (int64_t)st.queue_cancel);
    busPack_KeyInt(pk, "historical_queue", b->hist ? (int64_t)stHistGov_QueueDepth(b->hist) : 0);
    busPack_KeyInt(pk, "historical_in_flight", b->hist ? (int64_t)stHistGov_InFlight(b->hist) : 0);
    busPack_KeyInt(pk, "historical_window_used", b->hist ? stHistGov_WindowUsed(b->hist, br_nowMs(b)) : 0);
    busPack_Str(pk, "ha");
    br_haPackStatus(b, pk);
    busRequest_ReplyPacked(req);
    busRequest_Release(req);
}

/* ---- ib.rpc.admin.* ----------------------------------------------------------------------------- */

static void reply_state(busRequest *req, brBridge *b, const char *action)
{
    msgpack_packer *pk = busRequest_Packer(req);
    msgpack_pack_map(pk, 2);
    busPack_KeyStr(pk, "action", action);
    busPack_KeyStr(pk, "state", coreState_Name(coreSession_State(b->ib)));
    busRequest_ReplyPacked(req);
}

static void on_admin_connect(busRequest *req, void *arg)
{
    brBridge *b = arg;
    IBB_INFO("admin.connect", NULL);
    coreSession_Start(b->ib);
    reply_state(req, b, "connect");
    busRequest_Release(req);
}

static void on_admin_disconnect(busRequest *req, void *arg)
{
    brBridge *b = arg;
    IBB_WARN("admin.disconnect", "note=\"no reconnect until ib.rpc.admin.connect\"");
    coreSession_Disconnect(b->ib);
    reply_state(req, b, "disconnect");
    busRequest_Release(req);
}

static ibbStatus status_init(brBridge *b)
{
    static const struct { const char *name, *subject; busHandlerFn fn; } eps[] = {
        {"status", "status", on_status},
        {"admin_connect", "admin.connect", on_admin_connect},
        {"admin_disconnect", "admin.disconnect", on_admin_disconnect},
    };
    for (size_t i = 0; i < sizeof eps / sizeof eps[0]; i++) {
        busEndpointDef d = {.name = eps[i].name, .subject = eps[i].subject, .handler = eps[i].fn, .arg = b};
        ibbStatus s = busService_AddEndpoint(b->svc, &d);
        if (s != IBB_OK)
            return s;
    }
    return coreSession_OnState(b->ib, on_ib_state, b);
}

const brModule br_statusModule = {
    .name = "status",
    .init = status_init,
    .on_notice = status_notice,
};
