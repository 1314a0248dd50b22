/* br_orders.c — the orders module: ib.rpc.order.place / cancel / modify / list, ib.evt.order.<order_id>,
 * idempotency and reconciliation. Its files (br_orders_int.h lists them) share the state created
 * here; this file holds the brModule table, the module's life (init, IB ready/down, stop, fini, the
 * housekeeping timer) and the small helpers every part uses (waiter lists, ledger entries). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "br_orders_int.h"
#include "ibb_log.h"

#define HOUSEKEEP_MS 500

/* ---- small helpers ------------------------------------------------------------------------------ */

void brOrd_waiterAdd(brOrdWaiter **list, busRequest *req)
{
    brOrdWaiter *w = malloc(sizeof *w);
    if (!w) {
        busRequest_Error(req, "internal", "out of memory", 0);
        busRequest_Release(req);
        return;
    }
    w->req = req;
    w->next = *list;
    *list = w;
}

bool brOrd_allAnswered(const brOrdWaiter *w)
{
    for (; w; w = w->next)
        if (!busRequest_Answered(w->req))
            return false;
    return true;
}

void brOrd_waitersError(brOrdWaiter **list, const char *slug, int ib_code, const char *msg)
{
    brOrdWaiter *w = *list;
    *list = NULL;
    while (w) {
        brOrdWaiter *n = w->next;
        busRequest_Error(w->req, slug, msg, ib_code);
        busRequest_Release(w->req);
        free(w);
        w = n;
    }
}

const char *brOrd_apiType(const char *ib_type)
{
    return strcmp(ib_type, "STP LMT") == 0 ? "STP_LMT" : ib_type;
}

bool brOrd_isWarning(int64_t code)
{
    return code == 202 || code == 399 || code == 404 || code == 10148 || code == 10149 ||
           (code >= 2100 && code < 2200) || code == 10167 || code == 10168;
}

void brOrd_testHook(brBridge *b, brOrdHook point, const char *cid)
{
    static const char *const names[] = {"before_send", "after_send", "after_ack"};
    if (b->opt.test_hook)
        b->opt.test_hook(names[point], cid);
}

/* ---- ledger entries ----------------------------------------------------------------------------- */

brOrdExt *brOrd_ensureExt(brBridge *b, stOrder *o)
{
    if (!o->user) {
        brOrdExt *x = calloc(1, sizeof *x);
        if (!x)
            return NULL;
        if (ibbMap_PutInt(brOrd_mod(b)->all, o->order_id, o) != IBB_OK) {
            free(x);
            return NULL;
        }
        x->pub_filled = x->pub_remaining = -1;
        o->user = x;
    }
    return o->user;
}

/* ---- snapshots to walk while entries change ----------------------------------------------------- */

typedef struct openList {
    stOrder **list;
    size_t n, cap;
} openList;

static void collect(void *ud, stOrder *o)
{
    openList *c = ud;
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

stOrder **brOrd_openOrders(brBridge *b, size_t *n)
{
    openList c = {0};
    stOrders_ForEachOpen(b->orders, collect, &c);
    *n = c.n;
    return c.list;
}

void brOrd_termsFromRecord(stOrder *t, const brOrdRecord *r)
{
    t->qty = r->qty;
    const char *type = !strcmp(r->order_type, "STP_LMT") ? "STP LMT" : r->order_type;
    snprintf(t->order_type, sizeof t->order_type, "%s", type);
    t->lmt_price = r->limit_price;
    t->aux_price = r->stop_price;
    snprintf(t->tif, sizeof t->tif, "%s", r->tif);
}

void brOrd_placeRequest(ibRequest *rq, const stOrder *o, const brOrdExt *x, double qty, double lmt,
                       double aux)
{
    ibRequest_Init(rq, IB_REQ_PLACE_ORDER);
    stInstrument_ToContract(&x->spec, &rq->u.place_order.contract);
    if (!x->spec.exchange[0])
        rq->u.place_order.contract.exchange = "SMART";
    ibOrder *io = &rq->u.place_order.order;
    io->order_id = o->order_id;
    io->action = o->action;
    io->total_qty = qty;
    io->order_type = o->order_type;
    io->lmt_price = lmt;
    io->aux_price = aux;
    io->tif = o->tif;
    io->account = o->account;
    io->order_ref = o->client_order_id;
    io->outside_rth = x->outside_rth;
}

brOrdPlacement **brOrd_placements(brBridge *b, size_t *n)
{
    brOrders *m = brOrd_mod(b);
    size_t cap = ibbMap_Count(m->placing), k = 0;
    brOrdPlacement **ps = cap ? calloc(cap, sizeof *ps) : NULL;
    ibbMapIter it;
    void *v;
    ibbMapIter_Init(&it, m->placing);
    while (ps && k < cap && ibbMapIter_Next(&it, NULL, NULL, &v))
        ps[k++] = v;
    *n = k;
    return ps;
}

/* ---- module hooks ------------------------------------------------------------------------------- */

static void orders_on_ib_ready(brBridge *b)
{
    brOrders *m = brOrd_mod(b);
    m->link_gen++;
    brOrd_reconStart(b);
}

static void orders_on_ib_down(brBridge *b)
{
    brOrders *m = brOrd_mod(b);
    m->link_gen++;
    m->recon_active = false;
    m->oo_inflight = m->oo_for_recon = false;
    m->exec_req = 0;
    brOrd_answerLists(b); /* from the ledger, marked "cache" */
    size_t n;
    stOrder **open = brOrd_openOrders(b, &n);
    for (size_t i = 0; i < n; i++) {
        brOrdExt *x = brOrd_ext(open[i]);
        if (!x)
            continue;
        brOrd_waitersError(&x->cancel_w, "ib_unavailable", 0,
                           "the IB link dropped before the cancel was confirmed; check ib.rpc.order.list "
                           "after the reconnect");
        brOrd_waitersError(
            &x->modify_w, "ib_unavailable", 0,
            "the IB link dropped before the modification was confirmed; check ib.rpc.order.list after the "
            "reconnect");
    }
    free(open);
}

static void on_store_ready(brBridge *b) { (void)b; }

/* Orders are ready once the store exists and every record an earlier run left unfinished is settled. */
bool br_ordersReady(const brBridge *b)
{
    return b->mod[BR_MOD_ORDERS] && brOrdStore_Ready(brOrd_mod(b)->store) && brOrd_mod(b)->repaired;
}

void br_ordersPackStatus(const brBridge *b, msgpack_packer *pk)
{
    const brOrders *m = b->mod[BR_MOD_ORDERS];
    brOrdStoreBacklog bl;
    brOrdStore_Backlog(m ? m->store : NULL, &bl);
    msgpack_pack_map(pk, 4);
    busPack_KeyBool(pk, "store_ready", m && brOrdStore_Ready(m->store));
    busPack_KeyBool(pk, "repaired", m && m->repaired);
    busPack_KeyInt(pk, "unsettled", m ? (int64_t)(m->n_orphans + ibbMap_Count(m->settling)) : 0);
    busPack_Str(pk, "store_backlog");
    msgpack_pack_map(pk, 5);
    busPack_KeyInt(pk, "queued", (int64_t)bl.queued);
    busPack_KeyInt(pk, "oldest_ms", bl.oldest_ms);
    busPack_KeyInt(pk, "retries", (int64_t)bl.retries);
    busPack_KeyInt(pk, "conflicts", (int64_t)bl.conflicts);
    busPack_KeyStr(pk, "last_error", bl.last_error);
}

static void on_orphans(brBridge *b, const brOrdRecord *recs, size_t n)
{
    brOrders *m = brOrd_mod(b);
    m->orphans_known = true;
    m->orphans_found = n;
    if (n) {
        m->orphans = malloc(n * sizeof *recs);
        if (m->orphans) {
            memcpy(m->orphans, recs, n * sizeof *recs);
            m->n_orphans = n;
        }
    }
    if (m->recon_done_once && !m->recon_active)
        brOrd_settleOrphans(b);
    else
        brOrd_checkRepaired(b);
}

static void on_housekeep(uv_timer_t *t)
{
    brBridge *b = t->data;
    brOrders *m = brOrd_mod(b);
    brOrd_placeHousekeep(b);
    if (m->n_orphans && m->orphans_known && m->recon_done_once && !m->recon_active)
        brOrd_settleOrphans(b); /* evidence the stream could not give last time */
}

static ibbStatus orders_init(brBridge *b)
{
    brOrders *m = calloc(1, sizeof *m);
    if (!m)
        return IBB_ERR_NOMEM;
    b->mod[BR_MOD_ORDERS] = m;
    if (stOrders_Create(&b->orders) != IBB_OK || ibbMap_Create(&m->placing) != IBB_OK ||
        ibbMap_Create(&m->all) != IBB_OK || ibbMap_Create(&m->exec_order) != IBB_OK ||
        ibbMap_Create(&m->foreign) != IBB_OK || ibbMap_Create(&m->settling) != IBB_OK ||
        ibbMap_Create(&m->completed) != IBB_OK || !(m->pre = malloc(sizeof *m->pre)) ||
        !(m->timer = malloc(sizeof *m->timer)))
        return IBB_ERR_NOMEM;
    stRiskLimits pre = b->opt.risk;
    pre.max_orders_per_minute = 0;
    pre.max_order_notional = 0;
    pre.read_only = false;
    stRisk_Init(m->pre, &pre);
    ibbStatus s = brOrdStore_Create(&m->store, b, on_store_ready, on_orphans, brOrd_onWritten);
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
        {"order_place", "order.place", brOrd_onPlace},
        {"order_cancel", "order.cancel", brOrd_onCancel},
        {"order_modify", "order.modify", brOrd_onModify},
        {"order_list", "order.list", brOrd_onList},
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
    brOrders *m = brOrd_mod(b);
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
    brOrders *m = brOrd_mod(b);
    if (!m)
        return;
    orders_on_stop(b);
    ibbMapIter it;
    void *v;
    if (m->placing) {
        size_t k;
        brOrdPlacement **ps = brOrd_placements(b, &k);
        for (size_t i = 0; i < k; i++)
            brOrd_placementFree(b, ps[i]);
        free(ps);
    }
    brOrd_answerLists(b);
    if (m->all) {
        ibbMapIter_Init(&it, m->all);
        while (ibbMapIter_Next(&it, NULL, NULL, &v)) {
            stOrder *o = v;
            brOrdExt *x = o->user;
            if (x) {
                brOrd_waitersError(&x->cancel_w, "unavailable", 0, "ib-bridge is stopping");
                brOrd_waitersError(&x->modify_w, "unavailable", 0, "ib-bridge is stopping");
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
    ibbMap_Destroy(m->settling);
    if (m->completed)
        ibbMap_Clear(m->completed, free);
    ibbMap_Destroy(m->completed);
    free(m->pre);
    free(m);
    b->mod[BR_MOD_ORDERS] = NULL;
}

/* IB's replies: the reconciler's own (completed orders), then IB's order streams. */
static bool orders_on_reply(brBridge *b, const ibReply *r)
{
    return b->mod[BR_MOD_ORDERS] && (brOrd_reconOnReply(b, r) || brOrd_onReply(b, r));
}

const brModule br_ordersModule = {
    .name = "orders",
    .init = orders_init,
    .on_reply = orders_on_reply,
    .on_order_error = brOrd_onOrderError,
    .on_ib_ready = orders_on_ib_ready,
    .on_ib_down = orders_on_ib_down,
    .on_stop = orders_on_stop,
    .fini = orders_fini,
};
