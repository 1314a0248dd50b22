/* br_bridge.c — lifecycle, the module table, the IB request registry and reply routing. */
#include "br_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bus_error.h"
#include "ibb_log.h"

static const brModule *const br_modules[BR_MOD_COUNT] = {
    [BR_MOD_STATUS] = &br_statusModule,   [BR_MOD_CONTRACTS] = &br_contractsModule,
    [BR_MOD_QUOTES] = &br_quotesModule,   [BR_MOD_QUERIES] = &br_queriesModule,
    [BR_MOD_ORDERS] = &br_ordersModule,   [BR_MOD_HA] = &br_haModule,
    [BR_MOD_OPTIONS] = &br_optionsModule,
    [BR_MOD_STREAMS] = &br_streamsModule,
    [BR_MOD_DISCOVERY] = &br_discoveryModule,
    [BR_MOD_PNL] = &br_pnlModule,
};

typedef struct brPending {
    const brPendingOps *ops;
    void *ctx;
    bool sent; /* the request left the pacer for IB */
} brPending;

void brOptions_Init(brOptions *o)
{
    memset(o, 0, sizeof *o);
    coreSessionConfig_Init(&o->session);
    busConnOptions_Init(&o->nats);
    o->prefix = "ib";
    o->request_timeout_ms = 5000;
    o->quote_mode = BUS_STREAM_MSGPACK;
    o->md_line_budget = 100;
    o->depth_budget = 3;
    o->tick_by_tick_budget = 3;
    o->trading_mode = "paper";
    o->js_replicas = 1;
    o->ha.lease_ms = 3000;
    o->ha.renew_ms = 1000;
}

int64_t br_nowMs(const brBridge *b) { return (int64_t)uv_now(b->loop); }

int64_t br_wallNs(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---------------------------------------------------------------------------------------------- */
/* request registry                                                                                */
/* ---------------------------------------------------------------------------------------------- */

int64_t br_reqOpen(brBridge *b, const brPendingOps *ops, void *ctx)
{
    brPending *p = malloc(sizeof *p);
    if (!p)
        return -1;
    p->ops = ops;
    p->ctx = ctx;
    p->sent = false;
    int64_t id = b->next_req_id++;
    if (b->next_req_id >= INT32_MAX)
        b->next_req_id = BR_REQ_ID_BASE; /* ids are int32 on the wire; wrap far above order ids */
    if (ibbMap_PutInt(b->pending, id, p) != IBB_OK) {
        free(p);
        return -1;
    }
    return id;
}

void br_reqClose(brBridge *b, int64_t req_id) { free(ibbMap_DelInt(b->pending, req_id)); }

void *br_reqCtx(const brBridge *b, int64_t req_id)
{
    brPending *p = ibbMap_GetInt(b->pending, req_id);
    return p ? p->ctx : NULL;
}

bool br_reqSent(const brBridge *b, int64_t req_id)
{
    brPending *p = ibbMap_GetInt(b->pending, req_id);
    return p && p->sent;
}

/* The session asks, as a queued request carrying req_id is about to leave the pacer, whether anyone
 * still waits for it: only while its id is open (a module closes the id when its last caller gave
 * up). Ids not from br_reqOpen are always sent. */
static bool still_wanted(void *ud, int request, int64_t req_id)
{
    brBridge *b = ud;
    if (req_id < BR_REQ_ID_BASE)
        return true;
    brPending *p = ibbMap_GetInt(b->pending, req_id);
    if (!p) {
        IBB_DEBUG("bridge.stale_dropped", "request=%s req_id=%" PRId64, ib_requestName(request), req_id);
        return false;
    }
    p->sent = true;
    return true;
}

/* Every open request is gone at IB: tell its owner (the owner closes it). */
static void lose_all_pending(brBridge *b)
{
    size_t n = ibbMap_Count(b->pending), k = 0;
    int64_t *ids = n ? malloc(n * sizeof *ids) : NULL;
    if (!ids)
        return;
    ibbMapIter it;
    const char *key;
    size_t klen;
    ibbMapIter_Init(&it, b->pending);
    while (k < n && ibbMapIter_Next(&it, &key, &klen, NULL))
        memcpy(&ids[k++], key, sizeof ids[0]);
    for (size_t i = 0; i < k; i++) {
        brPending *p = ibbMap_GetInt(b->pending, ids[i]);
        if (!p)
            continue; /* closed by an earlier callback */
        if (p->ops && p->ops->on_lost)
            p->ops->on_lost(b, ids[i], p->ctx);
        else
            br_reqClose(b, ids[i]);
    }
    free(ids);
}

/* ---------------------------------------------------------------------------------------------- */
/* routing                                                                                         */
/* ---------------------------------------------------------------------------------------------- */

static void route_error(brBridge *b, const ibError *e)
{
    if (e->id == -1) {
        for (int i = 0; i < BR_MOD_COUNT; i++)
            if (br_modules[i]->on_notice)
                br_modules[i]->on_notice(b, e);
        return;
    }
    if (e->id >= BR_REQ_ID_BASE) {
        brPending *p = ibbMap_GetInt(b->pending, e->id);
        if (p && p->ops && p->ops->on_error)
            p->ops->on_error(b, e->id, e, p->ctx);
        else
            IBB_DEBUG("ib.error_unrouted", "id=%" PRId64 " code=%" PRId64, e->id, e->code);
        return;
    }
    for (int i = 0; i < BR_MOD_COUNT; i++)
        if (br_modules[i]->on_order_error && br_modules[i]->on_order_error(b, e))
            return;
    IBB_INFO("ib.order_error_unrouted", "order_id=%" PRId64 " code=%" PRId64 " text=\"%s\"", e->id, e->code,
             e->message);
}

static void on_ib_reply(void *ud, const ibReply *r)
{
    brBridge *b = ud;
    if (r->id == IB_MSG_ERROR) {
        route_error(b, &r->u.error);
        return;
    }
    for (int i = 0; i < BR_MOD_COUNT; i++)
        if (br_modules[i]->on_reply && br_modules[i]->on_reply(b, r))
            return;
    int64_t id = ibReply_ReqId(r);
    brPending *p = id ? ibbMap_GetInt(b->pending, id) : NULL;
    if (p && p->ops && p->ops->on_reply)
        p->ops->on_reply(b, id, r, p->ctx);
}

static void on_ib_read_done(void *ud)
{
    brBridge *b = ud;
    for (int i = 0; i < BR_MOD_COUNT; i++)
        if (br_modules[i]->on_read_done)
            br_modules[i]->on_read_done(b);
}

static void on_ib_state(void *ud, coreState from, coreState to, ibbStatus reason)
{
    brBridge *b = ud;
    (void)reason;
    if (to == CORE_STATE_READY && !b->ib_ready) {
        b->ib_ready = true;
        b->ib_farm_down = false;
        for (int i = 0; i < BR_MOD_COUNT; i++)
            if (br_modules[i]->on_ib_ready)
                br_modules[i]->on_ib_ready(b);
    } else if (from == CORE_STATE_READY && to != CORE_STATE_READY && b->ib_ready) {
        b->ib_ready = false;
        lose_all_pending(b);
        for (int i = 0; i < BR_MOD_COUNT; i++)
            if (br_modules[i]->on_ib_down)
                br_modules[i]->on_ib_down(b);
    }
}

/* ---------------------------------------------------------------------------------------------- */
/* shared helpers                                                                                  */
/* ---------------------------------------------------------------------------------------------- */

ibbStatus br_send(brBridge *b, const ibRequest *req)
{
    if (!b->ib_ready)
        return IBB_ERR_STATE;
    ibbStatus s = coreSession_Send(b->ib, req, CORE_PRIO_AUTO);
    if (s != IBB_OK)
        IBB_WARN("ib.send_failed", "request=%s status=%s", ib_requestName(req->id), ibbStatus_Name(s));
    return s;
}

bool br_requireIb(brBridge *b, busRequest *req)
{
    if (b->ib_ready)
        return true;
    int64_t code = 0;
    const char *text = "";
    coreSession_LastError(b->ib, &code, &text);
    busRequest_Errorf(req, "ib_unavailable", (int)code,
                      "the IB link is not ready (state %s)%s%s; retry when ib.evt.conn reports ready",
                      coreState_Name(coreSession_State(b->ib)), text && *text ? ": " : "", text ? text : "");
    return false;
}

ibbStatus br_replyIbError(busRequest *req, const ibError *e)
{
    const char *slug = "ib_error";
    switch (e->code) {
    case 200: slug = strstr(e->message, "ambiguous") ? "ambiguous" : "unknown_symbol"; break;
    case 162: slug = strstr(e->message, "pacing") ? "pacing" : "ib_error"; break;
    case 201: slug = "order_rejected"; break;
    case 101: slug = "line_limit"; break;
    case 354: case 10167: case 10168: case 10197: case 10089: slug = "forbidden"; break;
    case 321: case 322: slug = "bad_request"; break;
    case 1100: case 504: slug = "ib_unavailable"; break;
    default: break;
    }
    return busRequest_Errorf(req, slug, (int)e->code, "IB error %" PRId64 ": %s", e->code, e->message);
}

/* ---------------------------------------------------------------------------------------------- */
/* lifecycle                                                                                       */
/* ---------------------------------------------------------------------------------------------- */

ibbStatus brBridge_Create(brBridge **out, uv_loop_t *loop, const brOptions *o)
{
    if (!out || !loop || !o)
        return IBB_ERR_INVALID_ARG;
    brBridge *b = calloc(1, sizeof *b);
    if (!b)
        return IBB_ERR_NOMEM;
    b->loop = loop;
    b->opt = *o;
    snprintf(b->prefix, sizeof b->prefix, "%s", o->prefix && *o->prefix ? o->prefix : "ib");
    b->next_req_id = BR_REQ_ID_BASE;
    b->started_ns = uv_hrtime();
    uv_mutex_init(&b->svc_lock);
    stRisk_Init(&b->risk, &o->risk);
    ibbStatus s = ibbMap_Create(&b->pending);
    coreSessionConfig sc = o->session;
    if (o->ha.enabled && sc.backoff_max_ms > o->ha.renew_ms) {
        /* after a takeover the gateway may still hold the old socket (326) for a moment: retry soon */
        sc.backoff_max_ms = o->ha.renew_ms;
        if (sc.backoff_min_ms > sc.backoff_max_ms)
            sc.backoff_min_ms = sc.backoff_max_ms / 4 > 0 ? sc.backoff_max_ms / 4 : 1;
    }
    if (s == IBB_OK)
        s = coreSession_Create(&b->ib, loop, &sc);
    if (s == IBB_OK)
        coreSession_SetStillWanted(b->ib, still_wanted, b);
    b->opt.nats.on_event = br_onNatsEvent; /* runs on nats.c threads: posts to the loop */
    b->opt.nats.event_arg = b;
    if (s == IBB_OK)
        s = busConn_Create(&b->conn, &b->opt.nats);
    busConnOptions lo = b->opt.nats; /* same server and credentials, driven by the loop */
    lo.loop = loop;
    lo.on_event = br_onLoopConnEvent;
    char lname[96];
    snprintf(lname, sizeof lname, "%s-pub", o->nats.name && *o->nats.name ? o->nats.name : "ib-bridge");
    lo.name = lname;
    if (s == IBB_OK)
        s = busConn_Create(&b->loop_conn, &lo);
    busServiceOptions so;
    busServiceOptions_Init(&so);
    char rpc_prefix[80];
    snprintf(rpc_prefix, sizeof rpc_prefix, "%s.rpc", b->prefix);
    so.subject_prefix = rpc_prefix;
    so.request_timeout_ms = o->request_timeout_ms;
    so.id = o->instance_id;
    so.description = "Interactive Brokers Gateway session on NATS";
    const char *meta[] = {"prefix", b->prefix, NULL}; /* instances of several prefixes share $SRV.PING */
    so.metadata = meta;
    if (s == IBB_OK)
        s = busService_Create(&b->svc, b->conn, loop, &so);
    if (s == IBB_OK) {
        uv_mutex_lock(&b->svc_lock);
        b->svc_open = true;
        uv_mutex_unlock(&b->svc_lock);
    }
    busPublisherOptions po;
    busPublisherOptions_Init(&po);
    po.prefix = b->prefix;
    po.mode = o->quote_mode;
    if (s == IBB_OK)
        s = busPublisher_Create(&b->quote_pub, b->loop_conn, &po);
    po.mode = BUS_STREAM_BOTH;
    if (s == IBB_OK)
        s = busPublisher_Create(&b->evt_pub, b->loop_conn, &po);
    if (s == IBB_OK)
        busService_SetReplyConn(b->svc, b->loop_conn); /* replies leave on this loop turn */
    for (int i = 0; s == IBB_OK && i < BR_MOD_COUNT; i++)
        if (br_modules[i]->init && (s = br_modules[i]->init(b)) != IBB_OK)
            IBB_ERROR("bridge.module_failed", "module=%s status=%s", br_modules[i]->name, ibbStatus_Name(s));
    if (s == IBB_OK) {
        coreSession_OnState(b->ib, on_ib_state, b);
        coreSession_OnReply(b->ib, on_ib_reply, b);
        coreSession_OnReadDone(b->ib, on_ib_read_done, b);
    }
    if (s != IBB_OK) {
        brBridge_Destroy(b);
        return s;
    }
    *out = b;
    return IBB_OK;
}

ibbStatus brBridge_Start(brBridge *b)
{
    if (br_haEnabled(b)) /* standby until the lease is ours: then endpoints and the IB session start */
        return br_haStart(b);
    ibbStatus s = busService_Start(b->svc);
    if (s != IBB_OK) {
        IBB_ERROR("bridge.bus_start_failed", "status=%s", ibbStatus_Name(s));
        return s;
    }
    return coreSession_Start(b->ib);
}

static void on_svc_closed(busService *svc, void *arg)
{
    (void)svc;
    brBridge *b = arg;
    b->svc = NULL;
    IBB_INFO("bridge.stopped_bus", NULL);
    if (b->stop_done)
        b->stop_done(b->stop_ud);
}

static void close_service(brBridge *b)
{
    uv_mutex_lock(&b->svc_lock); /* nats.c threads stop posting before Close (bus_service.h) */
    b->svc_open = false;
    uv_mutex_unlock(&b->svc_lock);
    coreSession_Disconnect(b->ib);
    br_haRelease(b); /* IB is closed: a standby may take over at once */
    busService_Close(b->svc, on_svc_closed, b);
}

static void on_drain_timer(uv_timer_t *t)
{
    brBridge *b = t->data;
    uv_close((uv_handle_t *)t, (uv_close_cb)free);
    close_service(b);
}

void brBridge_Stop(brBridge *b, void (*done)(void *ud), void *ud)
{
    if (b->stopping)
        return;
    b->stopping = true;
    b->stop_done = done;
    b->stop_ud = ud;
    IBB_INFO("bridge.stopping", NULL);
    busService_Stop(b->svc); /* no new requests; those in flight still get answered */
    for (int i = 0; i < BR_MOD_COUNT; i++)
        if (br_modules[i]->on_stop)
            br_modules[i]->on_stop(b);
    /* Give in-flight requests and the cancels a moment on the wire, then close. */
    uv_timer_t *t = malloc(sizeof *t);
    if (!t) {
        close_service(b);
        return;
    }
    uv_timer_init(b->loop, t);
    t->data = b;
    uv_timer_start(t, on_drain_timer, 300, 0);
}

bool brBridge_Failed(const brBridge *b) { return b && b->failed; }

void br_refuseStart(brBridge *b, const char *what, const char *why)
{
    if (b->stopping)
        return;
    IBB_ERROR("bridge.start_refused", "what=%s reason=\"%s\" action=stop", what, why);
    b->failed = true;
    brBridge_Stop(b, NULL, NULL);
}

void brBridge_Destroy(brBridge *b)
{
    if (!b)
        return;
    for (int i = BR_MOD_COUNT - 1; i >= 0; i--)
        if (br_modules[i]->fini)
            br_modules[i]->fini(b);
    coreSession_Destroy(b->ib);
    busPublisher_Destroy(b->quote_pub);
    busPublisher_Destroy(b->evt_pub);
    busConn_Destroy(b->loop_conn); /* loop thread; main runs the loop once more to close its handles */
    if (b->conn)
        busConn_Destroy(b->conn);
    busFence_Destroy(b->ha_fence);
    ibbMapIter it;
    void *v;
    ibbMapIter_Init(&it, b->pending);
    while (ibbMapIter_Next(&it, NULL, NULL, &v))
        free(v);
    ibbMap_Destroy(b->pending);
    stQuoteBook_Destroy(b->book);
    stLeases_Destroy(b->leases);
    stHistGov_Destroy(b->hist);
    stOrders_Destroy(b->orders);
    uv_mutex_destroy(&b->svc_lock);
    free(b);
}
