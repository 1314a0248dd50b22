/* br_orders.c — ib.rpc.order.place / cancel / modify / list, ib.evt.order.<order_id>, idempotency
 * and reconciliation.
 *
 * Placing (one `placement` per client_order_id, so concurrent repeats share it):
 *   read_only -> body checks -> the ledger knows the client_order_id? answer from it -> IB ready? ->
 *   idempotency record exists? (store get) answer from it -> risk pre-checks (qty, symbols) ->
 *   resolve the instrument -> reference price (limit/stop, the quote book, or a snapshot) -> risk
 *   check (counts the rate) -> take an order id -> create-only record "pending" (a repeat from
 *   another process ends here) -> placeOrder with orderRef = client_order_id -> IB's first
 *   openOrder/orderStatus answers every waiter and updates the record ("acked"); an IB error
 *   answers with it and records "rejected".
 * Events: every change the ledger reports (status, fill, commission, modification) is published
 *   once per process, with a Nats-Msg-Id derived from its content so the stream drops replays
 *   across reconnects and restarts.
 * Reconciliation on every ready: reqAllOpenOrders + reqExecutions (this client id, since the last
 *   execution seen, minus a margin). When both ended, an order still open in the ledger that IB no
 *   longer lists becomes Filled (executions cover its quantity), Unacknowledged (IB never saw it)
 *   or Cancelled; records a crash left "pending" are settled the same way. */
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "br_orders.h"
#include "ibb_log.h"

#define SNAPSHOT_WAIT_MS 3000
#define HOUSEKEEP_MS 500

typedef struct waiter {
    busRequest *req;
    struct waiter *next;
} waiter;

typedef enum { PL_LOOKUP, PL_RESOLVE, PL_PRICE, PL_STORE, PL_SENT, PL_AWAIT_RECON } plState;

typedef struct placement {
    char cid[ST_CLIENT_ORDER_ID_MAX + 1];
    plState state;
    waiter *waiters;
    char key[ST_KEY_MAX];
    char side[8], type[12], tif[8], account[32];
    double qty, lmt, aux;              /* IB_UNSET_DOUBLE when none */
    bool outside_rth;
    stInstrumentSpec spec;
    int64_t order_id;
    uint64_t link_gen;                 /* the IB connection the order id belongs to */
    int64_t snap_req;                  /* snapshot request id, 0 = none */
    int64_t snap_started;
    double snap_bid, snap_ask, snap_last, snap_close;
    brOrdRecord rec;                   /* PL_AWAIT_RECON: the stored record */
} placement;

typedef struct orderExt {              /* stOrder.user */
    stInstrumentSpec spec;
    bool has_spec;
    placement *pl;                     /* until IB acknowledged the placement */
    waiter *cancel_w, *modify_w;
    double mod_qty, mod_lmt, mod_aux;  /* what the pending modification asked for */
    uint64_t send_seq;
    uint64_t seen_gen;                 /* reconciliation round that saw it at IB */
    double exec_cum;                   /* highest cumulative quantity in its executions */
    char pub_status[24];               /* last status event published */
    double pub_filled, pub_remaining;
    bool submitted_pub, recorded_final;
    char rej_slug[24];                 /* IB refused the placement: a repeat gets the same error */
    char rej_msg[400];
    int rej_code;
} orderExt;

typedef struct foreignOrder {          /* open orders of other client ids (ib.rpc.order.list only) */
    stOrder o;
    int64_t client_id;
} foreignOrder;

typedef struct orders {
    brOrdStore *store;
    ibbMap *placing;                   /* cid -> placement* */
    ibbMap *exec_order;                /* exec_id -> (intptr) order id */
    ibbMap *foreign;                   /* "client:order" -> foreignOrder* */
    ibbMap *all;                       /* order_id -> stOrder* with an orderExt (every ledger order) */
    stRisk *pre;                       /* risk limits without rate/notional (pre-checks) */
    uv_timer_t *timer;
    uint64_t link_gen, send_seq;
    /* reconciliation */
    bool recon_active, recon_done_once;
    uint64_t recon_gen, recon_seq;
    int recon_parts;                   /* open-order end + executions end outstanding */
    int64_t exec_req;
    bool oo_inflight, oo_for_recon;
    waiter *list_waiters;
    char last_exec_time[24];           /* digits yyyymmddhhmmss of the newest execution */
    brOrdRecord *orphans;              /* pending records left by a crash */
    size_t n_orphans;
    bool orphans_known;
    int kill_hook;                     /* test hook IBB_TEST_ORDER_KILL: 1 after_ack, 2 before_send */
} orders;

static orders *mod(const brBridge *b) { return b->mod[BR_MOD_ORDERS]; }
static orderExt *ext(const stOrder *o) { return o->user; }

/* ---- small helpers ------------------------------------------------------------------------------ */

static void waiter_add(waiter **list, busRequest *req)
{
    waiter *w = malloc(sizeof *w);
    if (!w) {
        busRequest_Error(req, "internal", "out of memory", 0);
        busRequest_Release(req);
        return;
    }
    w->req = req;
    w->next = *list;
    *list = w;
}

static bool all_answered(const waiter *w)
{
    for (; w; w = w->next)
        if (!busRequest_Answered(w->req))
            return false;
    return true;
}

static void waiters_error(waiter **list, const char *slug, int ib_code, const char *msg)
{
    waiter *w = *list;
    *list = NULL;
    while (w) {
        waiter *n = w->next;
        busRequest_Error(w->req, slug, msg, ib_code);
        busRequest_Release(w->req);
        free(w);
        w = n;
    }
}

static const char *api_type(const char *ib_type)
{
    return strcmp(ib_type, "STP LMT") == 0 ? "STP_LMT" : ib_type;
}

static bool is_warning(int64_t code)
{
    return code == 202 || code == 399 || code == 404 || code == 10148 || code == 10149 ||
           (code >= 2100 && code < 2200) || code == 10167 || code == 10168;
}

static void digits_of(const char *s, char *out, size_t cap)
{
    size_t n = 0;
    for (; s && *s && n + 1 < cap && n < 14; s++)
        if (*s >= '0' && *s <= '9')
            out[n++] = *s;
    out[n] = '\0';
}

/* ---- packing ------------------------------------------------------------------------------------ */

#define KS(k, v) (pk ? busPack_KeyStr(pk, k, v) : 0, n++)
#define KI(k, v) (pk ? busPack_KeyInt(pk, k, v) : 0, n++)
#define KD(k, v) (pk ? busPack_KeyDouble(pk, k, v) : 0, n++)
#define KB(k, v) (pk ? busPack_KeyBool(pk, k, v) : 0, n++)

/* The order's fields (schemas/order_list_reply.json "order"); pk NULL counts them. */
static int order_fields(msgpack_packer *pk, const stOrder *o, const stInstrumentSpec *spec)
{
    int n = 0;
    KI("order_id", o->order_id);
    KS("client_order_id", o->client_order_id);
    KS("key", o->key);
    if (spec) {
        if (pk) {
            busPack_Str(pk, "contract");
            br_packContract(pk, spec);
        }
        n++;
    }
    KS("side", o->action);
    KD("qty", o->qty);
    KS("order_type", api_type(o->order_type));
    if (!ib_isUnsetDouble(o->lmt_price) && o->lmt_price != 0)
        KD("limit_price", o->lmt_price);
    if (!ib_isUnsetDouble(o->aux_price) && o->aux_price != 0)
        KD("stop_price", o->aux_price);
    KS("tif", o->tif);
    KS("account", o->account);
    KS("status", o->status[0] ? o->status : "PendingSubmit");
    KD("filled", o->filled);
    KD("remaining", o->remaining);
    KD("avg_fill_price", o->avg_fill_price);
    KI("perm_id", o->perm_id);
    return n;
}

static void pack_order(msgpack_packer *pk, const stOrder *o, const orderExt *x, int extra)
{
    const stInstrumentSpec *spec = x && x->has_spec ? &x->spec : NULL;
    msgpack_pack_map(pk, (size_t)(order_fields(NULL, o, spec) + extra));
    order_fields(pk, o, spec);
}

/* {order_id, client_order_id, status[, duplicate]} */
static void reply_placed(busRequest *req, int64_t order_id, const char *cid, const char *status,
                         bool duplicate, const char *note)
{
    msgpack_packer *pk = busRequest_Packer(req);
    msgpack_pack_map(pk, 4 + (note ? 1 : 0));
    busPack_KeyInt(pk, "order_id", order_id);
    busPack_KeyStr(pk, "client_order_id", cid);
    busPack_KeyStr(pk, "status", status && *status ? status : "PendingSubmit");
    busPack_KeyBool(pk, "duplicate", duplicate);
    if (note)
        busPack_KeyStr(pk, "note", note);
    busRequest_ReplyPacked(req);
}

/* ---- events ------------------------------------------------------------------------------------- */

typedef struct evtExtra {
    const ibExecDetails *fill;
    const ibCommissionReport *comm;
    int64_t ib_code;
    const char *message;
} evtExtra;

static void publish_event(brBridge *b, const stOrder *o, const char *type, const char *event_id,
                          const evtExtra *e)
{
    const orderExt *x = ext(o);
    const stInstrumentSpec *spec = x && x->has_spec ? &x->spec : NULL;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pkv, *pk = &pkv;
    msgpack_packer_init(pk, &sb, msgpack_sbuffer_write);
    int n = order_fields(NULL, o, spec) + 4 + (e && e->fill ? 1 : 0) + (e && e->comm ? 1 : 0) +
            (e && e->message ? 1 : 0);
    msgpack_pack_map(pk, (size_t)n);
    busPack_KeyStr(pk, "type", type);
    busPack_KeyStr(pk, "event_id", event_id);
    busPack_KeyInt(pk, "ts_ns", br_wallNs());
    busPack_KeyBool(pk, "reconciled", mod(b)->recon_active);
    order_fields(pk, o, spec);
    if (e && e->fill) {
        const ibExecDetails *f = e->fill;
        busPack_Str(pk, "fill");
        msgpack_pack_map(pk, 9);
        busPack_KeyStr(pk, "exec_id", f->exec_id);
        busPack_KeyDouble(pk, "qty", f->shares);
        busPack_KeyDouble(pk, "price", f->price);
        busPack_KeyStr(pk, "time", f->time);
        busPack_KeyStr(pk, "side", f->side);
        busPack_KeyStr(pk, "exchange", f->exchange);
        busPack_KeyDouble(pk, "cum_qty", f->cum_qty);
        busPack_KeyDouble(pk, "avg_price", f->avg_price);
        busPack_KeyStr(pk, "account", f->account);
    }
    if (e && e->comm) {
        const ibCommissionReport *c = e->comm;
        bool pnl = !ib_isUnsetDouble(c->realized_pnl);
        busPack_Str(pk, "commission");
        msgpack_pack_map(pk, 3 + (pnl ? 1 : 0));
        busPack_KeyStr(pk, "exec_id", c->exec_id);
        busPack_KeyDouble(pk, "commission", c->commission);
        busPack_KeyStr(pk, "currency", c->currency);
        if (pnl)
            busPack_KeyDouble(pk, "realized_pnl", c->realized_pnl);
    }
    if (e && e->message) {
        busPack_Str(pk, "error");
        msgpack_pack_map(pk, e->ib_code ? 2 : 1);
        busPack_KeyStr(pk, "message", e->message);
        if (e->ib_code)
            busPack_KeyInt(pk, "ib_code", e->ib_code);
    }
    IBB_INFO("order.event", "order_id=%" PRId64 " type=%s event_id=%s status=%s filled=%g", o->order_id, type,
             event_id, o->status, o->filled);
    brOrdStore_Publish(mod(b)->store, o->order_id, event_id, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
}

static void record_from_order(brOrdRecord *r, const stOrder *o, const char *state)
{
    memset(r, 0, sizeof *r);
    snprintf(r->client_order_id, sizeof r->client_order_id, "%s", o->client_order_id);
    r->order_id = o->order_id;
    snprintf(r->state, sizeof r->state, "%s", state);
    snprintf(r->status, sizeof r->status, "%s", o->status);
    snprintf(r->key, sizeof r->key, "%s", o->key);
    snprintf(r->side, sizeof r->side, "%s", o->action);
    r->qty = o->qty;
    snprintf(r->order_type, sizeof r->order_type, "%s", api_type(o->order_type));
    r->limit_price = o->lmt_price;
    r->stop_price = o->aux_price;
    snprintf(r->tif, sizeof r->tif, "%s", o->tif);
    snprintf(r->account, sizeof r->account, "%s", o->account);
    r->updated_ns = br_wallNs();
}

static void store_final(brBridge *b, stOrder *o, const char *state, const char *slug, const char *msg,
                        int ib_code)
{
    orderExt *x = ext(o);
    if (!o->client_order_id[0] || !brOrdStore_Ready(mod(b)->store))
        return;
    if (x && x->recorded_final && strcmp(state, "acked") == 0 && !o->terminal)
        return;
    brOrdRecord r;
    record_from_order(&r, o, state);
    if (slug) {
        snprintf(r.error_code, sizeof r.error_code, "%s", slug);
        snprintf(r.error_message, sizeof r.error_message, "%s", msg ? msg : "");
        r.ib_code = ib_code;
    }
    if (x)
        x->recorded_final = true;
    brOrdStore_Put(mod(b)->store, &r);
}

static void answer_cancel_modify(brBridge *b, stOrder *o);

/* Publishes the ledger's current state of o when it differs from what was published last. */
static void publish_status(brBridge *b, stOrder *o, int64_t ib_code, const char *message)
{
    orderExt *x = ext(o);
    if (!x || !o->status[0])
        return;
    if (strcmp(x->pub_status, o->status) == 0 && x->pub_filled == o->filled &&
        x->pub_remaining == o->remaining)
        return;
    const char *s = o->status;
    const char *type = "status";
    bool working = !strcmp(s, "PreSubmitted") || !strcmp(s, "Submitted") || !strcmp(s, "PendingSubmit") ||
                   !strcmp(s, "ApiPending");
    if (working && !x->submitted_pub)
        type = "submitted";
    else if (!strcmp(s, "Filled"))
        type = "filled";
    else if (!strcmp(s, "Cancelled") || !strcmp(s, "ApiCancelled"))
        type = "cancelled";
    else if (!strcmp(s, "Inactive") || !strcmp(s, "Rejected") || !strcmp(s, "Unacknowledged"))
        type = "rejected";
    if (working)
        x->submitted_pub = true;
    char id[160];
    snprintf(id, sizeof id, "%" PRId64 ":status:%s:%.8g:%.8g", o->order_id, s, o->filled, o->remaining);
    evtExtra e = {.ib_code = ib_code, .message = message};
    publish_event(b, o, type, id, message ? &e : NULL);
    snprintf(x->pub_status, sizeof x->pub_status, "%s", s);
    x->pub_filled = o->filled;
    x->pub_remaining = o->remaining;
    if (o->terminal) {
        const char *state = !strcmp(s, "Unacknowledged") ? "unacknowledged" : "acked";
        store_final(b, o, state, NULL, NULL, 0);
    }
    answer_cancel_modify(b, o);
}

/* ---- ledger entries ----------------------------------------------------------------------------- */

static orderExt *ensure_ext(brBridge *b, stOrder *o)
{
    if (!o->user) {
        orderExt *x = calloc(1, sizeof *x);
        if (!x)
            return NULL;
        if (ibbMap_PutInt(mod(b)->all, o->order_id, o) != IBB_OK) {
            free(x);
            return NULL;
        }
        x->pub_filled = x->pub_remaining = -1;
        o->user = x;
    }
    return o->user;
}

static void key_of_contract(const ibContract *c, stInstrumentSpec *spec, char *key, size_t cap)
{
    stInstrument_FromContract(spec, c);
    stInstrumentSpec ks = *spec;
    if (strcmp(ks.sec_type, "STK") == 0 && (ks.exchange[0] == '\0' || strcmp(ks.exchange, "SMART") != 0))
        snprintf(ks.exchange, sizeof ks.exchange, "SMART");
    ks.con_id = 0;
    if (stInstrument_FormatKey(&ks, key, cap) != IBB_OK)
        snprintf(key, cap, "%s", spec->symbol);
}

/* ---- placement ---------------------------------------------------------------------------------- */

static void placement_free(brBridge *b, placement *p)
{
    ibbMap_Del(mod(b)->placing, p->cid);
    if (p->snap_req)
        br_reqClose(b, p->snap_req);
    waiter *w = p->waiters;
    while (w) {
        waiter *n = w->next;
        busRequest_Release(w->req);
        free(w);
        w = n;
    }
    free(p);
}

static void placement_fail(brBridge *b, placement *p, const char *slug, int ib_code, const char *msg)
{
    IBB_INFO("order.place_failed", "client_order_id=%s error=%s message=\"%s\"", p->cid, slug, msg);
    waiters_error(&p->waiters, slug, ib_code, msg);
    placement_free(b, p);
}

static void placement_answer(brBridge *b, placement *p, int64_t order_id, const char *status, bool duplicate,
                             const char *note)
{
    for (waiter *w = p->waiters; w; w = w->next)
        reply_placed(w->req, order_id, p->cid, status, duplicate, note);
    placement_free(b, p);
}

/* Answers a request for a client_order_id the ledger knows. */
static void answer_from_ledger(brBridge *b, busRequest *req, stOrder *o)
{
    (void)b;
    const orderExt *x = ext(o);
    if (x && x->rej_slug[0]) {
        busRequest_Error(req, x->rej_slug, x->rej_msg, x->rej_code);
        return;
    }
    const char *note = strcmp(o->status, "Unacknowledged") == 0
                           ? "IB never acknowledged this order; it was not placed. Use a new client_order_id."
                           : NULL;
    reply_placed(req, o->order_id, o->client_order_id, o->status, true, note);
}

static void settle_record(brBridge *b, const brOrdRecord *rec, placement *p);

static void on_created(brBridge *b, void *ctx, ibbStatus st, bool exists, const brOrdRecord *rec,
                       const char *err);
static void continue_price(brBridge *b, placement *p);

static void on_resolved(brBridge *b, void *ctx, const brInstrument *inst, const char *slug, const char *msg,
                        int ib_code)
{
    placement *p = ctx;
    if (slug) {
        placement_fail(b, p, slug, ib_code, msg);
        return;
    }
    p->spec = inst->spec;
    snprintf(p->key, sizeof p->key, "%s", inst->key);
    continue_price(b, p);
}

static void risk_and_store(brBridge *b, placement *p, double ref)
{
    orders *m = mod(b);
    stRiskOrder ro = {.key = p->key, .symbol = p->spec.symbol, .qty = p->qty, .ref_price = ref};
    const char *limit = NULL;
    char msg[300];
    ibbStatus s = stRisk_Check(&b->risk, &ro, br_nowMs(b), &limit, msg, sizeof msg);
    if (s != IBB_OK) {
        char full[400];
        snprintf(full, sizeof full, "risk limit %s: %s", limit, msg);
        placement_fail(b, p, s == IBB_ERR_STATE ? "read_only" : "risk_limit", 0, full);
        return;
    }
    if (all_answered(p->waiters)) { /* every requester gave up (deadline): do not place behind their back */
        placement_free(b, p);
        return;
    }
    if (!b->ib_ready) {
        placement_fail(b, p, "ib_unavailable", 0,
                       "the IB link dropped before the order could be sent; retry");
        return;
    }
    do /* an id IB handed out again (e.g. after it refused an order) must not clash with the ledger */
        p->order_id = coreSession_TakeOrderId(b->ib);
    while (p->order_id >= 0 && stOrders_ById(b->orders, p->order_id));
    if (p->order_id < 0) {
        placement_fail(b, p, "ib_unavailable", 0, "IB has not given an order id yet; retry");
        return;
    }
    p->link_gen = m->link_gen;
    brOrdRecord r;
    memset(&r, 0, sizeof r);
    snprintf(r.client_order_id, sizeof r.client_order_id, "%s", p->cid);
    r.order_id = p->order_id;
    snprintf(r.state, sizeof r.state, "pending");
    snprintf(r.key, sizeof r.key, "%s", p->key);
    snprintf(r.side, sizeof r.side, "%s", p->side);
    r.qty = p->qty;
    snprintf(r.order_type, sizeof r.order_type, "%s", api_type(p->type));
    r.limit_price = p->lmt;
    r.stop_price = p->aux;
    snprintf(r.tif, sizeof r.tif, "%s", p->tif);
    snprintf(r.account, sizeof r.account, "%s", p->account);
    r.created_ns = r.updated_ns = br_wallNs();
    p->state = PL_STORE;
    brOrdStore_Create_(m->store, &r, on_created, p);
}

static double book_price(brBridge *b, const char *key)
{
    const stQuote *q = b->book ? stQuoteBook_Find(b->book, key) : NULL;
    if (!q)
        return NAN;
    if (isfinite(q->last) && q->last > 0)
        return q->last;
    if (isfinite(q->bid) && isfinite(q->ask) && q->bid > 0 && q->ask > 0)
        return (q->bid + q->ask) / 2;
    return isfinite(q->close) && q->close > 0 ? q->close : NAN;
}

static void snapshot_done(brBridge *b, placement *p)
{
    if (p->snap_req)
        br_reqClose(b, p->snap_req);
    p->snap_req = 0;
    double ref = NAN;
    if (isfinite(p->snap_last) && p->snap_last > 0)
        ref = p->snap_last;
    else if (isfinite(p->snap_bid) && isfinite(p->snap_ask) && p->snap_bid > 0 && p->snap_ask > 0)
        ref = (p->snap_bid + p->snap_ask) / 2;
    else if (isfinite(p->snap_close) && p->snap_close > 0)
        ref = p->snap_close;
    risk_and_store(b, p, ref);
}

static void on_snap_reply(brBridge *b, int64_t req_id, const ibReply *r, void *ctx)
{
    (void)req_id;
    placement *p = ctx;
    if (r->id == IB_MSG_TICK_PRICE) {
        double px = r->u.tick_price.price;
        if (!(px > 0) || ib_isUnsetDouble(px))
            return;
        switch (r->u.tick_price.tick_type) {
        case IB_TICK_BID: case IB_TICK_DELAYED_BID: p->snap_bid = px; break;
        case IB_TICK_ASK: case IB_TICK_DELAYED_ASK: p->snap_ask = px; break;
        case IB_TICK_LAST: case IB_TICK_DELAYED_LAST: p->snap_last = px; break;
        case IB_TICK_CLOSE: case IB_TICK_DELAYED_CLOSE: p->snap_close = px; break;
        default: break;
        }
    } else if (r->id == IB_MSG_TICK_SNAPSHOT_END) {
        snapshot_done(b, p);
    }
}

static void on_snap_error(brBridge *b, int64_t req_id, const ibError *e, void *ctx)
{
    (void)req_id;
    if (is_warning(e->code))
        return;
    IBB_INFO("order.snapshot_failed", "code=%" PRId64 " text=\"%s\"", e->code, e->message);
    snapshot_done(b, ctx); /* no price: the notional check says so */
}

static void on_snap_lost(brBridge *b, int64_t req_id, void *ctx)
{
    placement *p = ctx;
    br_reqClose(b, req_id);
    p->snap_req = 0;
    placement_fail(b, p, "ib_unavailable", 0, "the IB link dropped while pricing the order; retry");
}

static const brPendingOps snap_ops = {on_snap_reply, on_snap_error, on_snap_lost};

static void continue_price(brBridge *b, placement *p)
{
    p->state = PL_PRICE;
    double ref = NAN;
    if (strstr(p->type, "LMT"))
        ref = p->lmt;
    else if (!strcmp(p->type, "STP"))
        ref = p->aux;
    else
        ref = book_price(b, p->key);
    if (isfinite(ref) || b->risk.lim.max_order_notional <= 0) {
        risk_and_store(b, p, ref);
        return;
    }
    /* A market order and no quote here: ask IB for a snapshot to price the notional check. */
    ibRequest rq;
    ibRequest_Init(&rq, IB_REQ_MKT_DATA);
    stInstrument_ToContract(&p->spec, &rq.u.mkt_data.contract);
    rq.u.mkt_data.contract.exchange = p->spec.exchange[0] ? p->spec.exchange : "SMART";
    rq.u.mkt_data.generic_ticks = "";
    rq.u.mkt_data.snapshot = true;
    p->snap_bid = p->snap_ask = p->snap_last = p->snap_close = NAN;
    int64_t id = br_reqOpen(b, &snap_ops, p);
    if (id < 0) {
        placement_fail(b, p, "internal", 0, "out of memory");
        return;
    }
    rq.u.mkt_data.req_id = id;
    p->snap_req = id;
    p->snap_started = br_nowMs(b);
    if (br_send(b, &rq) != IBB_OK) {
        br_reqClose(b, id);
        p->snap_req = 0;
        risk_and_store(b, p, NAN);
    }
}

static void send_place(brBridge *b, placement *p)
{
    orders *m = mod(b);
    if (m->kill_hook == 2) {
        IBB_WARN("order.test_kill", "client_order_id=%s hook=before_send", p->cid);
        raise(SIGKILL);
    }
    if (!b->ib_ready || p->link_gen != m->link_gen) {
        brOrdStore_Delete(m->store, p->cid); /* nothing reached IB: the client may retry */
        placement_fail(b, p, "ib_unavailable", 0, "the IB link dropped before the order was sent; retry");
        return;
    }
    stOrder t;
    memset(&t, 0, sizeof t);
    t.order_id = p->order_id;
    snprintf(t.client_order_id, sizeof t.client_order_id, "%s", p->cid);
    snprintf(t.key, sizeof t.key, "%s", p->key);
    snprintf(t.action, sizeof t.action, "%s", p->side);
    t.qty = p->qty;
    snprintf(t.order_type, sizeof t.order_type, "%s", p->type);
    t.lmt_price = p->lmt;
    t.aux_price = p->aux;
    snprintf(t.tif, sizeof t.tif, "%s", p->tif);
    snprintf(t.account, sizeof t.account, "%s", p->account);
    stOrder *o = NULL;
    if (stOrders_Add(b->orders, &t, br_nowMs(b), &o) != IBB_OK || !ensure_ext(b, o)) {
        brOrdStore_Delete(m->store, p->cid);
        placement_fail(b, p, "internal", 0, "the order ledger refused the order (duplicate order id?)");
        return;
    }
    orderExt *x = ext(o);
    x->spec = p->spec;
    x->has_spec = true;
    x->send_seq = ++m->send_seq;
    ibRequest rq;
    ibRequest_Init(&rq, IB_REQ_PLACE_ORDER);
    stInstrument_ToContract(&p->spec, &rq.u.place_order.contract);
    if (!p->spec.exchange[0])
        rq.u.place_order.contract.exchange = "SMART";
    ibOrder *io = &rq.u.place_order.order;
    io->order_id = p->order_id;
    io->action = p->side;
    io->total_qty = p->qty;
    io->order_type = p->type;
    io->lmt_price = p->lmt;
    io->aux_price = p->aux;
    io->tif = p->tif;
    io->account = p->account;
    io->order_ref = p->cid;
    io->outside_rth = p->outside_rth;
    ibbStatus s = br_send(b, &rq);
    if (s != IBB_OK) {
        stOrders_Finish(b->orders, o, "Unacknowledged", br_nowMs(b));
        brOrdStore_Delete(m->store, p->cid);
        placement_fail(b, p, s == IBB_ERR_STATE ? "ib_unavailable" : "internal", 0,
                       "the order could not be sent to IB; retry");
        return;
    }
    IBB_INFO("order.sent", "order_id=%" PRId64 " client_order_id=%s key=%s side=%s qty=%g type=%s",
             p->order_id, p->cid, p->key, p->side, p->qty, p->type);
    p->state = PL_SENT;
    x->pl = p;
}

static void on_created(brBridge *b, void *ctx, ibbStatus st, bool exists, const brOrdRecord *rec,
                       const char *err)
{
    placement *p = ctx;
    if (st != IBB_OK) {
        placement_fail(b, p, "unavailable", 0, err && *err ? err : "the idempotency store did not answer");
        return;
    }
    if (exists) { /* another process placed it first */
        settle_record(b, rec, p);
        return;
    }
    send_place(b, p);
}

/* A stored record answers a repeat. */
static void settle_record(brBridge *b, const brOrdRecord *rec, placement *p)
{
    orders *m = mod(b);
    stOrder *o = stOrders_ByClientId(b->orders, rec->client_order_id);
    if (o && !(ext(o) && ext(o)->pl)) {
        if (strcmp(rec->state, "pending") == 0 && o->acked)
            store_final(b, o, "acked", NULL, NULL, 0);
        for (waiter *w = p->waiters; w; w = w->next)
            answer_from_ledger(b, w->req, o);
        placement_free(b, p);
        return;
    }
    if (!strcmp(rec->state, "rejected")) {
        placement_fail(b, p, rec->error_code[0] ? rec->error_code : "order_rejected", rec->ib_code,
                       rec->error_message[0] ? rec->error_message : "IB rejected this order");
        return;
    }
    if (!strcmp(rec->state, "unacknowledged")) {
        placement_answer(b, p, rec->order_id, "Unacknowledged", true,
                         "IB never acknowledged this order; it was not placed. Use a new client_order_id.");
        return;
    }
    if (!strcmp(rec->state, "acked")) {
        placement_answer(b, p, rec->order_id, rec->status, true, NULL);
        return;
    }
    /* pending: IB's answer decides; reconciliation must have run first */
    if (!b->ib_ready) {
        placement_fail(b, p, "ib_unavailable", 0,
                       "this order's state is being reconciled with IB, which is not connected; retry later");
        return;
    }
    if (m->recon_done_once && !m->recon_active) {
        /* IB does not know it after a full reconciliation: it never reached IB */
        brOrdRecord r = *rec;
        snprintf(r.state, sizeof r.state, "unacknowledged");
        snprintf(r.status, sizeof r.status, "Unacknowledged");
        r.updated_ns = br_wallNs();
        brOrdStore_Put(m->store, &r);
        placement_answer(b, p, rec->order_id, "Unacknowledged", true,
                         "IB never acknowledged this order; it was not placed. Use a new client_order_id.");
        return;
    }
    p->rec = *rec;
    p->state = PL_AWAIT_RECON;
}

static void on_looked_up(brBridge *b, void *ctx, ibbStatus st, bool exists, const brOrdRecord *rec,
                         const char *err)
{
    (void)exists;
    placement *p = ctx;
    if (st == IBB_OK) {
        settle_record(b, rec, p);
        return;
    }
    if (st != IBB_ERR_NOT_FOUND) {
        placement_fail(b, p, "unavailable", 0, err && *err ? err : "the idempotency store did not answer");
        return;
    }
    if (!b->ib_ready) {
        placement_fail(b, p, "ib_unavailable", 0,
                       "the IB link is not ready; retry when ib.evt.conn reports ready");
        return;
    }
    /* pre-checks that need no price, before any IB traffic */
    stRiskOrder ro = {.key = p->key, .symbol = NULL, .qty = p->qty, .ref_price = NAN};
    stInstrumentSpec ks;
    if (stInstrument_ParseKey(p->key, &ks, NULL) == IBB_OK)
        ro.symbol = ks.symbol;
    const char *limit = NULL;
    char msg[300];
    if (stRisk_Check(mod(b)->pre, &ro, br_nowMs(b), &limit, msg, sizeof msg) != IBB_OK) {
        char full[400];
        snprintf(full, sizeof full, "risk limit %s: %s", limit, msg);
        placement_fail(b, p, "risk_limit", 0, full);
        return;
    }
    p->state = PL_RESOLVE;
    br_resolve(b, p->key, on_resolved, p);
}

/* ---- ib.rpc.order.place ------------------------------------------------------------------------- */

static bool valid_cid(const char *s, size_t n)
{
    if (n == 0 || n > ST_CLIENT_ORDER_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
              c == '_'))
            return false;
    }
    return true;
}

static bool bad(busRequest *req, const char *fmt, const char *a)
{
    busRequest_Errorf(req, "bad_request", 0, fmt, a);
    busRequest_Release(req);
    return false;
}

static bool read_only(brBridge *b, busRequest *req)
{
    if (!b->risk.lim.read_only)
        return false;
    busRequest_Error(req, "read_only",
                     "ib-bridge runs with read_only = true (config ib.read_only / IBB_READ_ONLY): "
                     "order requests are refused",
                     0);
    busRequest_Release(req);
    return true;
}

static bool upper_choice(busRequest *req, const msgpack_object *body, const char *field,
                         const char *const *choices, const char *def, char *out, size_t cap)
{
    const char *s;
    size_t n;
    ibbStatus st = busObj_Str(body, field, &s, &n);
    if (st == IBB_ERR_NOT_FOUND && def) {
        snprintf(out, cap, "%s", def);
        return true;
    }
    if (st != IBB_OK) {
        busRequest_BadField(req, field, st, "string");
        busRequest_Release(req);
        return false;
    }
    char v[16];
    if (n >= sizeof v)
        n = sizeof v - 1;
    for (size_t i = 0; i < n; i++)
        v[i] = (char)(s[i] >= 'a' && s[i] <= 'z' ? s[i] - 32 : s[i]);
    v[n] = '\0';
    for (int i = 0; choices[i]; i++)
        if (strcmp(v, choices[i]) == 0) {
            snprintf(out, cap, "%s", choices[i]);
            return true;
        }
    char list[80] = "";
    for (int i = 0; choices[i]; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", choices[i]);
    busRequest_Errorf(req, "bad_request", 0, "field '%s' must be one of %s", field, list);
    busRequest_Release(req);
    return false;
}

/* Reads an optional positive price; false after answering. */
static bool price_field(busRequest *req, const msgpack_object *body, const char *field, bool required,
                        double *out)
{
    *out = IB_UNSET_DOUBLE;
    double v;
    ibbStatus st = busObj_Double(body, field, &v);
    if (st == IBB_ERR_NOT_FOUND && !required)
        return true;
    if (st != IBB_OK) {
        busRequest_BadField(req, field, st, "number");
        busRequest_Release(req);
        return false;
    }
    if (!isfinite(v) || v <= 0)
        return bad(req, "field '%s' must be a positive number", field);
    *out = v;
    return true;
}

static bool parse_place(busRequest *req, placement *p)
{
    const msgpack_object *body = busRequest_Body(req);
    const char *s;
    size_t n;
    ibbStatus st = busObj_Str(body, "client_order_id", &s, &n);
    if (st != IBB_OK) {
        busRequest_BadField(req, "client_order_id", st, "string");
        busRequest_Release(req);
        return false;
    }
    if (!valid_cid(s, n))
        return bad(req, "field 'client_order_id' must be 1 to 64 characters of A-Z a-z 0-9 - _%s", "");
    memcpy(p->cid, s, n);
    p->cid[n] = '\0';
    char err[300];
    if (br_keyFromBody(body, p->key, sizeof p->key, err, sizeof err) != IBB_OK)
        return bad(req, "%s", err);
    static const char *const sides[] = {"BUY", "SELL", NULL};
    static const char *const types[] = {"MKT", "LMT", "STP", "STP_LMT", "STP LMT", NULL};
    static const char *const tifs[] = {"DAY", "GTC", "IOC", NULL};
    if (!upper_choice(req, body, "side", sides, NULL, p->side, sizeof p->side))
        return false;
    double q;
    st = busObj_Double(body, "qty", &q);
    if (st != IBB_OK) {
        busRequest_BadField(req, "qty", st, "number");
        busRequest_Release(req);
        return false;
    }
    if (!isfinite(q) || q <= 0)
        return bad(req, "field 'qty' must be a positive number%s", "");
    p->qty = q;
    if (!upper_choice(req, body, "type", types, "MKT", p->type, sizeof p->type))
        return false;
    if (!strcmp(p->type, "STP_LMT"))
        snprintf(p->type, sizeof p->type, "STP LMT");
    if (!upper_choice(req, body, "tif", tifs, "DAY", p->tif, sizeof p->tif))
        return false;
    bool need_lmt = strstr(p->type, "LMT") != NULL, need_stp = strncmp(p->type, "STP", 3) == 0;
    if (!price_field(req, body, "limit_price", need_lmt, &p->lmt) ||
        !price_field(req, body, "stop_price", need_stp, &p->aux))
        return false;
    if (!need_lmt && !ib_isUnsetDouble(p->lmt))
        return bad(req, "field 'limit_price' is only for LMT and STP_LMT orders (type is %s)",
                   api_type(p->type));
    if (!need_stp && !ib_isUnsetDouble(p->aux))
        return bad(req, "field 'stop_price' is only for STP and STP_LMT orders (type is %s)",
                   api_type(p->type));
    st = busObj_Bool(body, "outside_rth", &p->outside_rth);
    if (st != IBB_OK && st != IBB_ERR_NOT_FOUND) {
        busRequest_BadField(req, "outside_rth", st, "boolean");
        busRequest_Release(req);
        return false;
    }
    st = busObj_StrCopy(body, "account", p->account, sizeof p->account);
    if (st != IBB_OK && st != IBB_ERR_NOT_FOUND) {
        busRequest_BadField(req, "account", st, "string of at most 31 characters");
        busRequest_Release(req);
        return false;
    }
    return true;
}

static void on_place(busRequest *req, void *arg)
{
    brBridge *b = arg;
    orders *m = mod(b);
    if (read_only(b, req))
        return;
    placement *p = calloc(1, sizeof *p);
    if (!p) {
        busRequest_Error(req, "internal", "out of memory", 0);
        busRequest_Release(req);
        return;
    }
    if (!parse_place(req, p)) {
        free(p);
        return;
    }
    placement *cur = ibbMap_Get(m->placing, p->cid);
    if (cur) { /* a concurrent repeat: share the first one's outcome */
        free(p);
        waiter_add(&cur->waiters, req);
        return;
    }
    stOrder *o = stOrders_ByClientId(b->orders, p->cid);
    if (o) {
        free(p);
        answer_from_ledger(b, req, o);
        busRequest_Release(req);
        return;
    }
    if (!br_requireIb(b, req)) {
        free(p);
        busRequest_Release(req);
        return;
    }
    if (!brOrdStore_Ready(m->store)) {
        free(p);
        busRequest_Error(req, "unavailable", "the order store (JetStream on the NATS server) is not ready; "
                                             "ib-bridge needs JetStream enabled. Retry shortly", 0);
        busRequest_Release(req);
        return;
    }
    p->state = PL_LOOKUP;
    p->waiters = NULL;
    if (ibbMap_Put(m->placing, p->cid, p) != IBB_OK) {
        free(p);
        busRequest_Error(req, "internal", "out of memory", 0);
        busRequest_Release(req);
        return;
    }
    waiter_add(&p->waiters, req);
    brOrdStore_Get(m->store, p->cid, on_looked_up, p);
}

/* ---- ib.rpc.order.cancel / modify --------------------------------------------------------------- */

static stOrder *find_target(brBridge *b, busRequest *req, bool allow_cid)
{
    const msgpack_object *body = busRequest_Body(req);
    int64_t id = 0;
    ibbStatus st = busObj_Int(body, "order_id", &id);
    stOrder *o = NULL;
    char cid[ST_CLIENT_ORDER_ID_MAX + 2];
    if (st == IBB_OK) {
        o = stOrders_ById(b->orders, id);
    } else if (st != IBB_ERR_NOT_FOUND) {
        busRequest_BadField(req, "order_id", st, "integer");
        busRequest_Release(req);
        return NULL;
    } else if (allow_cid && (st = busObj_StrCopy(body, "client_order_id", cid, sizeof cid)) == IBB_OK) {
        o = stOrders_ByClientId(b->orders, cid);
    } else {
        if (st != IBB_ERR_NOT_FOUND)
            busRequest_BadField(req, "client_order_id", st, "string of at most 64 characters");
        else
            busRequest_Error(req, "bad_request",
                             allow_cid ? "give 'order_id' (integer) or 'client_order_id'"
                                       : "field 'order_id' is required (integer)",
                             0);
        busRequest_Release(req);
        return NULL;
    }
    if (!o) {
        busRequest_Error(req, "not_found",
                         "no order of this ib-bridge has that id (ib.rpc.order.list shows them)", 0);
        busRequest_Release(req);
        return NULL;
    }
    if (o->terminal) {
        busRequest_Errorf(req, "conflict", 0, "order %" PRId64 " is already %s", o->order_id, o->status);
        busRequest_Release(req);
        return NULL;
    }
    if (!br_requireIb(b, req)) {
        busRequest_Release(req);
        return NULL;
    }
    if (!ensure_ext(b, o)) {
        busRequest_Error(req, "internal", "out of memory", 0);
        busRequest_Release(req);
        return NULL;
    }
    return o;
}

static void reply_order(busRequest *req, const stOrder *o)
{
    msgpack_packer *pk = busRequest_Packer(req);
    pack_order(pk, o, ext(o), 0);
    busRequest_ReplyPacked(req);
}

static void answer_waiters(waiter **list, const stOrder *o, const char *slug, const char *msg)
{
    waiter *w = *list;
    *list = NULL;
    while (w) {
        waiter *n = w->next;
        if (slug)
            busRequest_Error(w->req, slug, msg, 0);
        else
            reply_order(w->req, o);
        busRequest_Release(w->req);
        free(w);
        w = n;
    }
}

static bool close_to(double a, double b) { return ib_isUnsetDouble(b) || fabs(a - b) < 1e-9; }

static void answer_cancel_modify(brBridge *b, stOrder *o)
{
    (void)b;
    orderExt *x = ext(o);
    if (!x)
        return;
    if (x->cancel_w && o->terminal) {
        bool cancelled = !strcmp(o->status, "Cancelled") || !strcmp(o->status, "ApiCancelled");
        char msg[120];
        snprintf(msg, sizeof msg, "order %" PRId64 " ended %s before the cancel took effect", o->order_id,
                 o->status);
        answer_waiters(&x->cancel_w, o, cancelled ? NULL : "conflict", msg);
    }
    if (x->modify_w && o->terminal) {
        char msg[120];
        snprintf(msg, sizeof msg, "order %" PRId64 " ended %s before the modification took effect",
                 o->order_id, o->status);
        answer_waiters(&x->modify_w, o, "conflict", msg);
    }
}

static void on_cancel(busRequest *req, void *arg)
{
    brBridge *b = arg;
    if (read_only(b, req))
        return;
    stOrder *o = find_target(b, req, true);
    if (!o)
        return;
    orderExt *x = ext(o);
    if (x->cancel_w) { /* one cancel in flight: share it */
        waiter_add(&x->cancel_w, req);
        return;
    }
    ibRequest rq;
    ibRequest_Init(&rq, IB_REQ_CANCEL_ORDER);
    rq.u.cancel_order.order_id = o->order_id;
    rq.u.cancel_order.manual_cancel_time = "";
    if (br_send(b, &rq) != IBB_OK) {
        busRequest_Error(req, "ib_unavailable", "the cancel could not be sent to IB; retry", 0);
        busRequest_Release(req);
        return;
    }
    IBB_INFO("order.cancel_sent", "order_id=%" PRId64, o->order_id);
    waiter_add(&x->cancel_w, req);
}

static void on_modify(busRequest *req, void *arg)
{
    brBridge *b = arg;
    if (read_only(b, req))
        return;
    const msgpack_object *body = busRequest_Body(req);
    double qty = IB_UNSET_DOUBLE, lmt, aux;
    double v;
    ibbStatus st = busObj_Double(body, "qty", &v);
    if (st == IBB_OK) {
        if (!isfinite(v) || v <= 0) {
            bad(req, "field 'qty' must be a positive number%s", "");
            return;
        }
        qty = v;
    } else if (st != IBB_ERR_NOT_FOUND) {
        busRequest_BadField(req, "qty", st, "number");
        busRequest_Release(req);
        return;
    }
    if (!price_field(req, body, "limit_price", false, &lmt) ||
        !price_field(req, body, "stop_price", false, &aux))
        return;
    if (ib_isUnsetDouble(qty) && ib_isUnsetDouble(lmt) && ib_isUnsetDouble(aux)) {
        bad(req, "give at least one of 'qty', 'limit_price', 'stop_price'%s", "");
        return;
    }
    stOrder *o = find_target(b, req, true);
    if (!o)
        return;
    orderExt *x = ext(o);
    if (!ib_isUnsetDouble(lmt) && !strstr(o->order_type, "LMT")) {
        bad(req, "this order is not a limit order: 'limit_price' does not apply%s", "");
        return;
    }
    if (!ib_isUnsetDouble(aux) && strncmp(o->order_type, "STP", 3) != 0) {
        bad(req, "this order is not a stop order: 'stop_price' does not apply%s", "");
        return;
    }
    if (x->pl || !o->acked) {
        busRequest_Error(req, "conflict", "IB has not acknowledged this order yet; retry in a moment", 0);
        busRequest_Release(req);
        return;
    }
    if (x->modify_w) {
        busRequest_Error(req, "conflict",
                         "a modification of this order is still in flight; retry when it is answered", 0);
        busRequest_Release(req);
        return;
    }
    if (!x->has_spec) {
        busRequest_Error(req, "conflict", "the contract of this order is not known yet; retry in a moment",
                         0);
        busRequest_Release(req);
        return;
    }
    double nq = ib_isUnsetDouble(qty) ? o->qty : qty;
    double nl = ib_isUnsetDouble(lmt) ? o->lmt_price : lmt;
    double na = ib_isUnsetDouble(aux) ? o->aux_price : aux;
    double ref = strstr(o->order_type, "LMT")    ? nl
                 : !strcmp(o->order_type, "STP") ? na
                                                 : book_price(b, o->key);
    if (!isfinite(ref) && o->avg_fill_price > 0)
        ref = o->avg_fill_price;
    stRiskOrder ro = {.key = o->key, .symbol = x->spec.symbol, .qty = nq, .ref_price = ref};
    const char *limit = NULL;
    char msg[300];
    if (stRisk_Check(&b->risk, &ro, br_nowMs(b), &limit, msg, sizeof msg) != IBB_OK) {
        busRequest_Errorf(req, "risk_limit", 0, "risk limit %s: %s", limit, msg);
        busRequest_Release(req);
        return;
    }
    ibRequest rq;
    ibRequest_Init(&rq, IB_REQ_PLACE_ORDER);
    stInstrument_ToContract(&x->spec, &rq.u.place_order.contract);
    if (!x->spec.exchange[0])
        rq.u.place_order.contract.exchange = "SMART";
    ibOrder *io = &rq.u.place_order.order;
    io->order_id = o->order_id;
    io->action = o->action;
    io->total_qty = nq;
    io->order_type = o->order_type;
    io->lmt_price = nl;
    io->aux_price = na;
    io->tif = o->tif;
    io->account = o->account;
    io->order_ref = o->client_order_id;
    if (br_send(b, &rq) != IBB_OK) {
        busRequest_Error(req, "ib_unavailable", "the modification could not be sent to IB; retry", 0);
        busRequest_Release(req);
        return;
    }
    x->mod_qty = nq;
    x->mod_lmt = nl;
    x->mod_aux = na;
    IBB_INFO("order.modify_sent", "order_id=%" PRId64 " qty=%g lmt=%g aux=%g", o->order_id, nq,
             ib_isUnsetDouble(nl) ? 0 : nl, ib_isUnsetDouble(na) ? 0 : na);
    waiter_add(&x->modify_w, req);
}

/* ---- ib.rpc.order.list -------------------------------------------------------------------------- */

typedef struct listFilter {
    bool all;
    char key[ST_KEY_MAX];
    char side[8];
    char cid[ST_CLIENT_ORDER_ID_MAX + 2];
    const char *source;
    msgpack_packer *pk;
    int count;
} listFilter;

static bool list_match(const listFilter *f, const stOrder *o)
{
    if (!f->all && o->terminal)
        return false;
    if (f->key[0] && strcmp(f->key, o->key) != 0)
        return false;
    if (f->side[0] && strcasecmp(f->side, o->action) != 0)
        return false;
    return !f->cid[0] || strcmp(f->cid, o->client_order_id) == 0;
}

static void list_pack(listFilter *f, const stOrder *o, const orderExt *x, int64_t foreign_client)
{
    if (!list_match(f, o))
        return;
    f->count++;
    if (!f->pk)
        return;
    pack_order(f->pk, o, x, foreign_client ? 2 : 1);
    busPack_KeyBool(f->pk, "foreign", foreign_client != 0);
    if (foreign_client)
        busPack_KeyInt(f->pk, "client_id", foreign_client);
}

/* Every order: ours (the ledger, through the module's index), then other clients' open ones. */
static void list_walk(brBridge *b, listFilter *f)
{
    ibbMapIter it;
    void *v;
    ibbMapIter_Init(&it, mod(b)->all);
    while (ibbMapIter_Next(&it, NULL, NULL, &v))
        list_pack(f, v, ext(v), 0);
    ibbMapIter_Init(&it, mod(b)->foreign);
    while (ibbMapIter_Next(&it, NULL, NULL, &v)) {
        foreignOrder *fo = v;
        list_pack(f, &fo->o, NULL, fo->client_id);
    }
}

static void answer_list(brBridge *b, busRequest *req)
{
    listFilter f;
    memset(&f, 0, sizeof f);
    const msgpack_object *body = busRequest_Body(req);
    const char *s;
    size_t n;
    if (busObj_Str(body, "status", &s, &n) == IBB_OK && n == 3 && !strncmp(s, "all", 3))
        f.all = true;
    char err[300];
    if (busObj_Get(body, "symbol") || busObj_Get(body, "key") || busObj_Get(body, "contract"))
        br_keyFromBody(body, f.key, sizeof f.key, err, sizeof err);
    busObj_StrCopy(body, "side", f.side, sizeof f.side);
    busObj_StrCopy(body, "client_order_id", f.cid, sizeof f.cid);
    /* count, then pack */
    list_walk(b, &f);
    int total = f.count;
    f.count = 0;
    f.pk = busRequest_Packer(req);
    msgpack_pack_map(f.pk, 3);
    busPack_KeyStr(f.pk, "source", b->ib_ready ? "ib" : "cache");
    busPack_KeyInt(f.pk, "count", total);
    busPack_Str(f.pk, "orders");
    msgpack_pack_array(f.pk, (size_t)total);
    list_walk(b, &f);
    busRequest_ReplyPacked(req);
}

static void answer_lists(brBridge *b)
{
    orders *m = mod(b);
    waiter *w = m->list_waiters;
    m->list_waiters = NULL;
    while (w) {
        waiter *n = w->next;
        answer_list(b, w->req);
        busRequest_Release(w->req);
        free(w);
        w = n;
    }
}

static bool request_open_orders(brBridge *b, bool for_recon)
{
    orders *m = mod(b);
    if (for_recon)
        m->oo_for_recon = true;
    if (m->oo_inflight)
        return true;
    ibRequest rq;
    ibRequest_Init(&rq, IB_REQ_ALL_OPEN_ORDERS);
    if (br_send(b, &rq) != IBB_OK)
        return false;
    m->oo_inflight = true;
    return true;
}

static void on_list(busRequest *req, void *arg)
{
    brBridge *b = arg;
    orders *m = mod(b);
    const msgpack_object *body = busRequest_Body(req);
    const char *s;
    size_t n;
    ibbStatus st = busObj_Str(body, "status", &s, &n);
    if (st == IBB_ERR_INVALID_ARG || (st == IBB_OK && !(n == 3 && !strncmp(s, "all", 3)) &&
                                      !(n == 4 && !strncmp(s, "open", 4)))) {
        bad(req, "field 'status' must be \"open\" (default) or \"all\"%s", "");
        return;
    }
    if (busObj_Get(body, "symbol") || busObj_Get(body, "key") || busObj_Get(body, "contract")) {
        char key[ST_KEY_MAX], err[300];
        if (br_keyFromBody(body, key, sizeof key, err, sizeof err) != IBB_OK) {
            bad(req, "%s", err);
            return;
        }
    }
    if (b->ib_ready && request_open_orders(b, false)) {
        waiter_add(&m->list_waiters, req); /* answered at openOrderEnd: IB's current view */
        return;
    }
    answer_list(b, req);
    busRequest_Release(req);
}

/* ---- IB messages -------------------------------------------------------------------------------- */

static void placement_acked(brBridge *b, stOrder *o)
{
    orders *m = mod(b);
    orderExt *x = ext(o);
    placement *p = x->pl;
    if (!p || !o->acked)
        return;
    x->pl = NULL;
    if (m->kill_hook == 1) {
        IBB_WARN("order.test_kill", "order_id=%" PRId64 " hook=after_ack", o->order_id);
        raise(SIGKILL);
    }
    IBB_INFO("order.acked", "order_id=%" PRId64 " client_order_id=%s status=%s", o->order_id,
             o->client_order_id, o->status);
    for (waiter *w = p->waiters; w; w = w->next)
        reply_placed(w->req, o->order_id, o->client_order_id, o->status, false, NULL);
    placement_free(b, p);
    store_final(b, o, "acked", NULL, NULL, 0);
}

static bool ours(const brBridge *b, int64_t client_id)
{
    return client_id == 0 || client_id == coreSession_ClientId(b->ib);
}

static void on_open_order(brBridge *b, const ibOpenOrder *oo)
{
    orders *m = mod(b);
    stInstrumentSpec spec;
    char key[ST_KEY_MAX];
    key_of_contract(&oo->contract, &spec, key, sizeof key);
    if (!ours(b, oo->client_id)) {
        char k[48];
        snprintf(k, sizeof k, "%" PRId64 ":%" PRId64, oo->client_id, oo->order.order_id);
        foreignOrder *fo = ibbMap_Get(m->foreign, k);
        if (!fo) {
            fo = calloc(1, sizeof *fo);
            if (!fo || ibbMap_Put(m->foreign, k, fo) != IBB_OK) {
                free(fo);
                return;
            }
        }
        fo->client_id = oo->client_id;
        fo->o.order_id = oo->order.order_id;
        snprintf(fo->o.client_order_id, sizeof fo->o.client_order_id, "%s",
                 oo->order.order_ref && strlen(oo->order.order_ref) <= ST_CLIENT_ORDER_ID_MAX
                     ? oo->order.order_ref
                     : "");
        snprintf(fo->o.key, sizeof fo->o.key, "%s", key);
        snprintf(fo->o.action, sizeof fo->o.action, "%s", oo->order.action ? oo->order.action : "");
        snprintf(fo->o.order_type, sizeof fo->o.order_type, "%s",
                 oo->order.order_type ? oo->order.order_type : "");
        snprintf(fo->o.tif, sizeof fo->o.tif, "%s", oo->order.tif ? oo->order.tif : "");
        snprintf(fo->o.account, sizeof fo->o.account, "%s", oo->order.account ? oo->order.account : "");
        snprintf(fo->o.status, sizeof fo->o.status, "%s", oo->status ? oo->status : "");
        fo->o.qty = oo->order.total_qty;
        fo->o.lmt_price = oo->order.lmt_price;
        fo->o.aux_price = oo->order.aux_price;
        fo->o.perm_id = oo->perm_id;
        fo->o.terminal = stOrderStatus_IsTerminal(fo->o.status);
        return;
    }
    stOrder *o = stOrders_ById(b->orders, oo->order.order_id);
    bool was_acked = o && o->acked;
    double oq = o ? o->qty : 0, ol = o ? o->lmt_price : 0, oa = o ? o->aux_price : 0;
    bool created = false;
    o = stOrders_ApplyOpenOrder(b->orders, oo, key, br_nowMs(b), &created);
    if (!o || !ensure_ext(b, o))
        return;
    orderExt *x = ext(o);
    x->spec = spec;
    x->has_spec = true;
    if (m->recon_active)
        x->seen_gen = m->recon_gen;
    if (created)
        IBB_INFO("order.adopted", "order_id=%" PRId64 " client_order_id=%s status=%s", o->order_id,
                 o->client_order_id, o->status);
    if (was_acked && !o->terminal && (oq != o->qty || ol != o->lmt_price || oa != o->aux_price)) {
        char id[200];
        snprintf(id, sizeof id, "%" PRId64 ":modified:%.8g:%.8g:%.8g", o->order_id, o->qty,
                 ib_isUnsetDouble(o->lmt_price) ? 0 : o->lmt_price,
                 ib_isUnsetDouble(o->aux_price) ? 0 : o->aux_price);
        publish_event(b, o, "modified", id, NULL);
    }
    if (x->modify_w && close_to(o->qty, x->mod_qty) && close_to(o->lmt_price, x->mod_lmt) &&
        close_to(o->aux_price, x->mod_aux))
        answer_waiters(&x->modify_w, o, NULL, NULL);
    /* status events come from orderStatus (which follows every openOrder with filled/remaining) */
    placement_acked(b, o);
}

static void on_order_status(brBridge *b, const ibOrderStatus *st)
{
    orders *m = mod(b);
    if (!ours(b, st->client_id)) {
        char k[48];
        snprintf(k, sizeof k, "%" PRId64 ":%" PRId64, st->client_id, st->order_id);
        foreignOrder *fo = ibbMap_Get(m->foreign, k);
        if (fo && stOrderStatus_IsTerminal(st->status ? st->status : "")) {
            ibbMap_Del(m->foreign, k);
            free(fo);
        } else if (fo) {
            snprintf(fo->o.status, sizeof fo->o.status, "%s", st->status ? st->status : "");
            fo->o.filled = st->filled;
            fo->o.remaining = st->remaining;
            fo->o.avg_fill_price = st->avg_fill_price;
        }
        return;
    }
    stOrder *o = NULL;
    stOrders_ApplyStatus(b->orders, st, br_nowMs(b), &o);
    if (!o || !ensure_ext(b, o))
        return;
    if (m->recon_active)
        ext(o)->seen_gen = m->recon_gen;
    publish_status(b, o, 0, NULL);
    placement_acked(b, o);
}

static void on_exec(brBridge *b, const ibExecDetails *e)
{
    orders *m = mod(b);
    if (!ours(b, e->client_id))
        return;
    char d[24];
    digits_of(e->time, d, sizeof d);
    if (strcmp(d, m->last_exec_time) > 0)
        snprintf(m->last_exec_time, sizeof m->last_exec_time, "%s", d);
    stOrder *o = stOrders_ById(b->orders, e->order_id);
    if (!o) { /* filled (and gone from the open orders) before we saw it: adopt it by orderRef */
        stOrder t;
        memset(&t, 0, sizeof t);
        t.order_id = e->order_id;
        const char *ref = e->order_ref ? e->order_ref : "";
        if (strlen(ref) <= ST_CLIENT_ORDER_ID_MAX && !stOrders_ByClientId(b->orders, ref))
            snprintf(t.client_order_id, sizeof t.client_order_id, "%s", ref);
        stInstrumentSpec spec;
        key_of_contract(&e->contract, &spec, t.key, sizeof t.key);
        snprintf(t.action, sizeof t.action, "%s", e->side && !strcmp(e->side, "SLD") ? "SELL" : "BUY");
        t.qty = e->cum_qty;
        snprintf(t.order_type, sizeof t.order_type, "MKT");
        t.lmt_price = t.aux_price = IB_UNSET_DOUBLE;
        snprintf(t.account, sizeof t.account, "%s", e->account ? e->account : "");
        for (size_t i = 0; i < m->n_orphans; i++) /* a record left pending knows the real size */
            if (!strcmp(m->orphans[i].client_order_id, t.client_order_id) && t.client_order_id[0]) {
                const brOrdRecord *r = &m->orphans[i];
                t.qty = r->qty;
                snprintf(t.order_type, sizeof t.order_type, "%s",
                         !strcmp(r->order_type, "STP_LMT") ? "STP LMT" : r->order_type);
                t.lmt_price = r->limit_price;
                t.aux_price = r->stop_price;
                snprintf(t.tif, sizeof t.tif, "%s", r->tif);
            }
        if (stOrders_Add(b->orders, &t, br_nowMs(b), &o) != IBB_OK || !ensure_ext(b, o))
            return;
        o->acked = true;
        ext(o)->spec = spec;
        ext(o)->has_spec = true;
        IBB_INFO("order.adopted", "order_id=%" PRId64 " client_order_id=%s from=execution", o->order_id,
                 o->client_order_id);
    }
    orderExt *x = ensure_ext(b, o);
    if (!x)
        return;
    if (e->cum_qty > x->exec_cum)
        x->exec_cum = e->cum_qty;
    if (!stOrders_NewExec(b->orders, e->exec_id))
        return;
    ibbMap_Put(m->exec_order, e->exec_id, (void *)(intptr_t)o->order_id);
    char id[160];
    snprintf(id, sizeof id, "fill:%s", e->exec_id);
    evtExtra ex = {.fill = e};
    publish_event(b, o, "fill", id, &ex);
}

static void on_commission(brBridge *b, const ibCommissionReport *c)
{
    orders *m = mod(b);
    if (!c->exec_id || !ibbMap_Get(m->exec_order, c->exec_id))
        return; /* not one of our executions */
    int64_t order_id = (int64_t)(intptr_t)ibbMap_Get(m->exec_order, c->exec_id);
    stOrder *o = stOrders_ById(b->orders, order_id);
    if (!o || !stOrders_NewCommission(b->orders, c->exec_id))
        return;
    char id[160];
    snprintf(id, sizeof id, "comm:%s", c->exec_id);
    evtExtra ex = {.comm = c};
    publish_event(b, o, "commission", id, &ex);
}

/* ---- reconciliation ----------------------------------------------------------------------------- */

typedef struct reconCtx {
    brBridge *b;
    stOrder **list;
    size_t n, cap;
} reconCtx;

static void collect(void *ud, stOrder *o)
{
    reconCtx *c = ud;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 32;
        stOrder **nl = realloc(c->list, cap * sizeof *nl);
        if (!nl)
            return;
        c->list = nl;
        c->cap = cap;
    }
    c->list[c->n++] = o;
}

static void finish_order(brBridge *b, stOrder *o, const char *status, const char *why)
{
    if (!stOrders_Finish(b->orders, o, status, br_nowMs(b)))
        return;
    IBB_INFO("order.reconciled", "order_id=%" PRId64 " client_order_id=%s status=%s reason=\"%s\"",
             o->order_id, o->client_order_id, status, why);
    publish_status(b, o, 0, why);
    orderExt *x = ext(o);
    if (x && x->pl) {
        placement *p = x->pl;
        x->pl = NULL;
        placement_answer(b, p, o->order_id, o->status, false, why);
    }
}

static void settle_orphans(brBridge *b)
{
    orders *m = mod(b);
    for (size_t i = 0; i < m->n_orphans; i++) {
        brOrdRecord *r = &m->orphans[i];
        stOrder *o = stOrders_ByClientId(b->orders, r->client_order_id);
        if (o && o->acked) {
            store_final(b, o,
                        o->terminal && !strcmp(o->status, "Unacknowledged") ? "unacknowledged" : "acked",
                        NULL, NULL, 0);
            continue;
        }
        if (o)
            continue; /* ours from this process, still in flight */
        /* IB knows nothing of it after a full reconciliation: it never reached IB */
        stOrder t;
        memset(&t, 0, sizeof t);
        t.order_id = r->order_id;
        snprintf(t.client_order_id, sizeof t.client_order_id, "%s", r->client_order_id);
        snprintf(t.key, sizeof t.key, "%s", r->key);
        snprintf(t.action, sizeof t.action, "%s", r->side);
        t.qty = r->qty;
        snprintf(t.order_type, sizeof t.order_type, "%s",
                 !strcmp(r->order_type, "STP_LMT") ? "STP LMT" : r->order_type);
        t.lmt_price = r->limit_price;
        t.aux_price = r->stop_price;
        snprintf(t.tif, sizeof t.tif, "%s", r->tif);
        snprintf(t.account, sizeof t.account, "%s", r->account);
        if (stOrders_ById(b->orders, t.order_id))
            t.order_id = -t.order_id; /* the id was reused by a new order: keep the record distinct */
        if (stOrders_Add(b->orders, &t, br_nowMs(b), &o) != IBB_OK || !ensure_ext(b, o))
            continue;
        finish_order(b, o, "Unacknowledged",
                     "the order was recorded but IB never acknowledged it (ib-bridge stopped "
                     "before or while sending it)");
    }
    free(m->orphans);
    m->orphans = NULL;
    m->n_orphans = 0;
}

static void recon_finish(brBridge *b)
{
    orders *m = mod(b);
    reconCtx c = {.b = b};
    stOrders_ForEachOpen(b->orders, collect, &c);
    for (size_t i = 0; i < c.n; i++) {
        stOrder *o = c.list[i];
        orderExt *x = ensure_ext(b, o);
        if (!x || x->send_seq > m->recon_seq || x->seen_gen == m->recon_gen)
            continue; /* sent after the round began, or IB listed it */
        if (x->pl && x->send_seq == 0)
            continue;
        if (x->exec_cum > 0 && x->exec_cum >= o->qty - 1e-9) {
            ibOrderStatus st = {.order_id = o->order_id,
                                .status = "Filled",
                                .filled = x->exec_cum,
                                .remaining = 0,
                                .avg_fill_price = o->avg_fill_price,
                                .perm_id = o->perm_id};
            stOrders_ApplyStatus(b->orders, &st, br_nowMs(b), NULL);
            publish_status(b, o, 0, NULL);
            placement_acked(b, o);
        } else if (!o->acked) {
            finish_order(b, o, "Unacknowledged",
                         "IB never acknowledged the order (the link dropped while it was sent)");
            store_final(b, o, "unacknowledged", NULL, NULL, 0);
        } else {
            if (x->exec_cum > o->filled) {
                ibOrderStatus st = {.order_id = o->order_id, .status = o->status, .filled = x->exec_cum,
                                    .remaining = o->qty - x->exec_cum, .perm_id = o->perm_id};
                stOrders_ApplyStatus(b->orders, &st, br_nowMs(b), NULL);
            }
            finish_order(b, o, "Cancelled", "IB no longer lists the order as open after the reconnect");
        }
    }
    free(c.list);
    m->recon_active = false;
    m->recon_done_once = true;
    if (m->orphans_known)
        settle_orphans(b);
    /* repeats that waited for this round */
    size_t n = ibbMap_Count(m->placing), k = 0;
    placement **ps = n ? calloc(n, sizeof *ps) : NULL;
    ibbMapIter it;
    void *v;
    ibbMapIter_Init(&it, m->placing);
    while (ps && k < n && ibbMapIter_Next(&it, NULL, NULL, &v))
        if (((placement *)v)->state == PL_AWAIT_RECON)
            ps[k++] = v;
    for (size_t i = 0; i < k; i++)
        settle_record(b, &ps[i]->rec, ps[i]);
    free(ps);
    IBB_INFO("orders.reconciled", "open=%zu last_exec=%s", c.n,
             m->last_exec_time[0] ? m->last_exec_time : "-");
}

static void recon_part_done(brBridge *b)
{
    orders *m = mod(b);
    if (m->recon_active && --m->recon_parts <= 0)
        recon_finish(b);
}

static void on_exec_reply(brBridge *b, int64_t req_id, const ibReply *r, void *ctx)
{
    (void)ctx;
    if (r->id == IB_MSG_EXEC_DETAILS_END) {
        br_reqClose(b, req_id);
        mod(b)->exec_req = 0;
        recon_part_done(b);
    }
}

static void on_exec_error(brBridge *b, int64_t req_id, const ibError *e, void *ctx)
{
    (void)ctx;
    IBB_WARN("orders.executions_failed", "code=%" PRId64 " text=\"%s\"", e->code, e->message);
    br_reqClose(b, req_id);
    mod(b)->exec_req = 0;
    recon_part_done(b);
}

static void on_exec_lost(brBridge *b, int64_t req_id, void *ctx)
{
    (void)ctx;
    br_reqClose(b, req_id);
    mod(b)->exec_req = 0;
}

static const brPendingOps exec_ops = {on_exec_reply, on_exec_error, on_exec_lost};

static void start_recon(brBridge *b)
{
    orders *m = mod(b);
    m->recon_active = true;
    m->recon_gen++;
    m->recon_seq = m->send_seq;
    m->recon_parts = 2;
    if (!request_open_orders(b, true)) {
        m->recon_active = false;
        return;
    }
    ibRequest rq;
    ibRequest_Init(&rq, IB_REQ_EXECUTIONS);
    int64_t id = br_reqOpen(b, &exec_ops, NULL);
    char since[24] = "";
    if (m->last_exec_time[0] == '\0') {
        /* after a start: today's executions (IB keeps about a day); the stream drops what it has */
    } else {
        /* since the last one seen, minus 10 minutes (clocks and zones differ); dedupe drops repeats */
        struct tm tm;
        memset(&tm, 0, sizeof tm);
        if (sscanf(m->last_exec_time, "%4d%2d%2d%2d%2d%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                   &tm.tm_min, &tm.tm_sec) == 6) {
            tm.tm_year -= 1900;
            tm.tm_mon -= 1;
            time_t t = timegm(&tm) - 600;
            gmtime_r(&t, &tm);
            strftime(since, sizeof since, "%Y%m%d %H:%M:%S", &tm);
        }
    }
    rq.u.executions.req_id = id;
    rq.u.executions.client_id = coreSession_ClientId(b->ib);
    rq.u.executions.account = "";
    rq.u.executions.time = since;
    rq.u.executions.symbol = rq.u.executions.sec_type = rq.u.executions.exchange = rq.u.executions.side = "";
    if (id < 0 || br_send(b, &rq) != IBB_OK) {
        if (id >= 0)
            br_reqClose(b, id);
        recon_part_done(b);
        return;
    }
    m->exec_req = id;
    IBB_INFO("orders.reconciling", "since=\"%s\" ledger=%zu", since, stOrders_Count(b->orders));
}

/* ---- module hooks ------------------------------------------------------------------------------- */

static bool orders_on_reply(brBridge *b, const ibReply *r)
{
    orders *m = mod(b);
    if (!m)
        return false;
    switch (r->id) {
    case IB_MSG_OPEN_ORDER: on_open_order(b, &r->u.open_order); return true;
    case IB_MSG_ORDER_STATUS: on_order_status(b, &r->u.order_status); return true;
    case IB_MSG_OPEN_ORDER_END:
        if (m->oo_inflight) {
            m->oo_inflight = false;
            answer_lists(b);
            if (m->oo_for_recon) {
                m->oo_for_recon = false;
                recon_part_done(b);
            }
        }
        return true;
    case IB_MSG_EXEC_DETAILS:
        if (r->u.exec_details.req_id != -1 && r->u.exec_details.req_id != m->exec_req)
            return false;
        on_exec(b, &r->u.exec_details);
        return true;
    case IB_MSG_COMMISSION_REPORT: on_commission(b, &r->u.commission); return true;
    default: return false;
    }
}

static bool orders_on_order_error(brBridge *b, const ibError *e)
{
    stOrder *o = stOrders_ById(b->orders, e->id);
    if (!o)
        return false;
    orderExt *x = ensure_ext(b, o);
    if (!x)
        return true;
    IBB_INFO("order.ib_error", "order_id=%" PRId64 " code=%" PRId64 " text=\"%s\"", o->order_id, e->code,
             e->message);
    if (is_warning(e->code))
        return true;
    char msg[400];
    snprintf(msg, sizeof msg, "IB error %" PRId64 ": %s", e->code, e->message);
    if (x->pl) { /* the placement: IB refused it */
        placement *p = x->pl;
        x->pl = NULL;
        stOrders_Finish(b->orders, o, "Rejected", br_nowMs(b));
        const char *slug = e->code == 200 ? "unknown_symbol" : "order_rejected";
        snprintf(x->rej_slug, sizeof x->rej_slug, "%s", slug);
        snprintf(x->rej_msg, sizeof x->rej_msg, "%s", msg);
        x->rej_code = (int)e->code;
        store_final(b, o, "rejected", slug, msg, (int)e->code);
        publish_status(b, o, e->code, msg);
        for (waiter *w = p->waiters; w; w = w->next)
            busRequest_Error(w->req, slug, msg, (int)e->code);
        placement_free(b, p);
        return true;
    }
    if (x->cancel_w) {
        const char *slug = (e->code == 161 || e->code == 10147) ? "conflict" : "ib_error";
        answer_waiters(&x->cancel_w, o, slug, msg);
        return true;
    }
    if (x->modify_w) {
        for (waiter *w = x->modify_w; w; w = w->next)
            br_replyIbError(w->req, e);
        waiter *w = x->modify_w;
        x->modify_w = NULL;
        while (w) {
            waiter *n = w->next;
            busRequest_Release(w->req);
            free(w);
            w = n;
        }
        return true;
    }
    if (!o->acked && !o->terminal) {
        stOrders_Finish(b->orders, o, "Rejected", br_nowMs(b));
        store_final(b, o, "rejected", "order_rejected", msg, (int)e->code);
        publish_status(b, o, e->code, msg);
    }
    return true;
}

static void orders_on_ib_ready(brBridge *b)
{
    orders *m = mod(b);
    m->link_gen++;
    start_recon(b);
}

static void orders_on_ib_down(brBridge *b)
{
    orders *m = mod(b);
    m->link_gen++;
    m->recon_active = false;
    m->oo_inflight = m->oo_for_recon = false;
    m->exec_req = 0;
    answer_lists(b); /* from the ledger, marked "cache" */
    reconCtx c = {.b = b};
    stOrders_ForEachOpen(b->orders, collect, &c);
    for (size_t i = 0; i < c.n; i++) {
        orderExt *x = ext(c.list[i]);
        if (!x)
            continue;
        waiters_error(&x->cancel_w, "ib_unavailable", 0,
                      "the IB link dropped before the cancel was confirmed; check ib.rpc.order.list after "
                      "the reconnect");
        waiters_error(
            &x->modify_w, "ib_unavailable", 0,
            "the IB link dropped before the modification was confirmed; check ib.rpc.order.list after the "
            "reconnect");
    }
    free(c.list);
}

static void on_store_ready(brBridge *b) { (void)b; }

bool br_ordersReady(const brBridge *b) { return b->mod[BR_MOD_ORDERS] && brOrdStore_Ready(mod(b)->store); }

static void on_orphans(brBridge *b, const brOrdRecord *recs, size_t n)
{
    orders *m = mod(b);
    m->orphans_known = true;
    if (n) {
        m->orphans = malloc(n * sizeof *recs);
        if (m->orphans) {
            memcpy(m->orphans, recs, n * sizeof *recs);
            m->n_orphans = n;
        }
    }
    if (m->recon_done_once && !m->recon_active)
        settle_orphans(b);
}

static void on_housekeep(uv_timer_t *t)
{
    brBridge *b = t->data;
    orders *m = mod(b);
    size_t n = ibbMap_Count(m->placing), k = 0;
    placement **ps = n ? calloc(n, sizeof *ps) : NULL;
    ibbMapIter it;
    void *v;
    ibbMapIter_Init(&it, m->placing);
    while (ps && k < n && ibbMapIter_Next(&it, NULL, NULL, &v))
        ps[k++] = v;
    for (size_t i = 0; i < k; i++) {
        placement *p = ps[i];
        if (p->state == PL_PRICE && p->snap_req && br_nowMs(b) - p->snap_started > SNAPSHOT_WAIT_MS)
            snapshot_done(b, p); /* no end in time: go on with what arrived */
        else if (p->state == PL_AWAIT_RECON && all_answered(p->waiters))
            placement_free(b, p);
    }
    free(ps);
}

static ibbStatus orders_init(brBridge *b)
{
    orders *m = calloc(1, sizeof *m);
    if (!m)
        return IBB_ERR_NOMEM;
    b->mod[BR_MOD_ORDERS] = m;
    if (stOrders_Create(&b->orders) != IBB_OK || ibbMap_Create(&m->placing) != IBB_OK ||
        ibbMap_Create(&m->all) != IBB_OK || ibbMap_Create(&m->exec_order) != IBB_OK ||
        ibbMap_Create(&m->foreign) != IBB_OK || !(m->pre = malloc(sizeof *m->pre)) ||
        !(m->timer = malloc(sizeof *m->timer)))
        return IBB_ERR_NOMEM;
    stRiskLimits pre = b->opt.risk;
    pre.max_orders_per_minute = 0;
    pre.max_order_notional = 0;
    pre.read_only = false;
    stRisk_Init(m->pre, &pre);
    /* Test hook (crash tests): the process SIGKILLs itself right after IB's first acknowledgment
     * of an order, before answering ("after_ack"), or after writing the idempotency record but
     * before sending the order ("before_send"). */
    const char *hook = getenv("IBB_TEST_ORDER_KILL");
    m->kill_hook = !hook ? 0 : !strcmp(hook, "after_ack") ? 1 : !strcmp(hook, "before_send") ? 2 : 0;
    if (m->kill_hook)
        IBB_WARN("orders.test_hook",
                 "IBB_TEST_ORDER_KILL=%s is set: this process will kill itself (tests only)", hook);
    ibbStatus s = brOrdStore_Create(&m->store, b, on_store_ready, on_orphans);
    if (s != IBB_OK) {
        free(m->timer);
        m->timer = NULL;
        return s;
    }
    uv_timer_init(b->loop, m->timer);
    m->timer->data = b;
    uv_timer_start(m->timer, on_housekeep, HOUSEKEEP_MS, HOUSEKEEP_MS);
    uv_unref((uv_handle_t *)m->timer);
    static const struct {
        const char *name, *subject;
        busHandlerFn fn;
    } eps[] = {
        {"order_place", "order.place", on_place},
        {"order_cancel", "order.cancel", on_cancel},
        {"order_modify", "order.modify", on_modify},
        {"order_list", "order.list", on_list},
    };
    for (size_t i = 0; i < sizeof eps / sizeof eps[0]; i++) {
        busEndpointDef d = {.name = eps[i].name, .subject = eps[i].subject, .handler = eps[i].fn, .arg = b};
        if ((s = busService_AddEndpoint(b->svc, &d)) != IBB_OK)
            return s;
    }
    return IBB_OK;
}

static void orders_on_stop(brBridge *b)
{
    orders *m = mod(b);
    if (!m)
        return;
    if (m->timer) {
        uv_timer_stop(m->timer);
        uv_close((uv_handle_t *)m->timer, (uv_close_cb)free);
        m->timer = NULL;
    }
    brOrdStore_Stop(m->store);
}

static void orders_fini(brBridge *b)
{
    orders *m = mod(b);
    if (!m)
        return;
    orders_on_stop(b);
    ibbMapIter it;
    void *v;
    if (m->placing) {
        size_t n = ibbMap_Count(m->placing), k = 0;
        placement **ps = n ? calloc(n, sizeof *ps) : NULL;
        ibbMapIter_Init(&it, m->placing);
        while (ps && k < n && ibbMapIter_Next(&it, NULL, NULL, &v))
            ps[k++] = v;
        for (size_t i = 0; i < k; i++)
            placement_free(b, ps[i]);
        free(ps);
    }
    answer_lists(b);
    if (m->all) {
        ibbMapIter_Init(&it, m->all);
        while (ibbMapIter_Next(&it, NULL, NULL, &v)) {
            stOrder *o = v;
            orderExt *x = o->user;
            if (x) {
                waiters_error(&x->cancel_w, "unavailable", 0, "ib-bridge is stopping");
                waiters_error(&x->modify_w, "unavailable", 0, "ib-bridge is stopping");
                free(x);
                o->user = NULL;
            }
        }
        ibbMap_Destroy(m->all);
    }

    brOrdStore_Destroy(m->store);
    ibbMap_Destroy(m->placing);
    ibbMap_Destroy(m->exec_order);
    if (m->foreign) {
        ibbMapIter_Init(&it, m->foreign);
        while (ibbMapIter_Next(&it, NULL, NULL, &v))
            free(v);
        ibbMap_Destroy(m->foreign);
    }
    free(m->orphans);
    free(m->pre);
    free(m);
    b->mod[BR_MOD_ORDERS] = NULL;
}

const brModule br_ordersModule = {
    .name = "orders",
    .init = orders_init,
    .on_reply = orders_on_reply,
    .on_order_error = orders_on_order_error,
    .on_ib_ready = orders_on_ib_ready,
    .on_ib_down = orders_on_ib_down,
    .on_stop = orders_on_stop,
    .fini = orders_fini,
};
