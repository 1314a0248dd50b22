/* br_orders.c — the orders module: ib.rpc.order.place / cancel / modify / list, ib.evt.order.<order_id>,
 * idempotency and reconciliation. Its files (br_ord_int.h lists them, top to bottom) share the state
 * created here; this file, the top, holds the brModule table, the module's life (init, IB ready/down,
 * stop, fini, the housekeeping timer), the routing of IB's replies and of the store's write outcomes,
 * and fills m->up: the handlers' functions the lower layers call back. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "br_ord_int.h"
#include "ibb_log.h"

#define HOUSEKEEP_MS 500

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
    brOrd_previewDropAll(b, "ib_unavailable", "the IB link dropped before IB answered the what-if; retry");
    brOrd_completedDown(b);
    brOrd_placeFlush(b); /* placements ready for the old link fail: nothing was sent */
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

/* reqAllOpenOrders ended: the list requests and the reconciliation part waiting for it. */
static void on_open_orders_end(brBridge *b)
{
    brOrders *m = brOrd_mod(b);
    if (!m->oo_inflight)
        return;
    m->oo_inflight = false;
    brOrd_answerLists(b);
    if (m->oo_for_recon) {
        m->oo_for_recon = false;
        brOrd_reconPartDone(b);
    }
}

/* IB's replies: the end of reqAllOpenOrders, the reconciler's own (completed orders), IB's order streams. */
static bool orders_on_reply(brBridge *b, const ibReply *r)
{
    if (!b->mod[BR_MOD_ORDERS])
        return false;
    if (r->id == IB_MSG_OPEN_ORDER_END) {
        on_open_orders_end(b);
        return true;
    }
    brOrd_completedOnReply(b, r);
    brOrd_execQueriesOnReply(b, r);
    return brOrd_previewOnReply(b, r) || brOrd_reconOnReply(b, r) || brOrd_onReply(b, r);
}

/* IB errors carrying an order id: a preview's first, then the ledger's orders. */
static bool orders_on_order_error(brBridge *b, const ibError *e)
{
    if (!b->mod[BR_MOD_ORDERS])
        return false;
    return brOrd_previewOnError(b, e) || brOrd_onOrderError(b, e);
}

/* The store's durable write of cid finished: the ledger, then whoever waited for it. */
static void on_written(brBridge *b, const char *cid, const brOrdRecord *stored)
{
    brOrd_ledgerWritten(b, cid, stored);
    brOrd_reconWritten(b, cid, stored);
    brOrd_placeWritten(b, cid, stored);
}

static void on_store_ready(brBridge *b) { (void)b; }

/* Orders are ready once the store exists and every record an earlier run left unfinished is settled. */
bool br_ordersReady(const brBridge *b)
{
    return b->mod[BR_MOD_ORDERS] && brOrdStore_Ready(brOrd_mod(b)->store) && brOrd_mod(b)->repaired;
}

void brOrd_observeAck(brOrders *m, uint64_t ns)
{
    static const double bounds[BR_ORD_RTT_NBUCKETS] = BR_ORD_RTT_BOUNDS_MS;
    double ms = (double)ns / 1e6;
    int i = 0;
    while (i < BR_ORD_RTT_NBUCKETS && ms > bounds[i])
        i++;
    m->rtt_buckets[i]++;
    m->rtt_count++;
    m->rtt_sum_s += ms / 1000;
}

/* orders.final and orders.ack_rtt (schemas/status_reply.json). */
static void pack_counts(const brOrders *m, msgpack_packer *pk)
{
    static const double bounds[BR_ORD_RTT_NBUCKETS] = BR_ORD_RTT_BOUNDS_MS;
    busPack_Str(pk, "final");
    msgpack_pack_map(pk, 3);
    busPack_KeyInt(pk, "filled", m ? (int64_t)m->final_filled : 0);
    busPack_KeyInt(pk, "cancelled", m ? (int64_t)m->final_cancelled : 0);
    busPack_KeyInt(pk, "rejected", m ? (int64_t)m->final_rejected : 0);
    busPack_Str(pk, "ack_rtt");
    msgpack_pack_map(pk, 4);
    busPack_Str(pk, "bounds_ms");
    msgpack_pack_array(pk, BR_ORD_RTT_NBUCKETS);
    for (int i = 0; i < BR_ORD_RTT_NBUCKETS; i++)
        msgpack_pack_double(pk, bounds[i]);
    busPack_Str(pk, "buckets");
    msgpack_pack_array(pk, BR_ORD_RTT_NBUCKETS + 1);
    for (int i = 0; i <= BR_ORD_RTT_NBUCKETS; i++)
        msgpack_pack_uint64(pk, m ? m->rtt_buckets[i] : 0);
    busPack_KeyInt(pk, "count", m ? (int64_t)m->rtt_count : 0);
    busPack_Str(pk, "sum_s");
    msgpack_pack_double(pk, m ? m->rtt_sum_s : 0);
}

void br_ordersPackStatus(const brBridge *b, msgpack_packer *pk)
{
    const brOrders *m = b->mod[BR_MOD_ORDERS];
    brOrdStoreBacklog bl;
    brOrdStore_Backlog(m ? m->store : NULL, &bl);
    msgpack_pack_map(pk, 6);
    pack_counts(m, pk);
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
    m->up = (brOrdUp){.answer = brOrd_placeAnswer,
                      .refused = brOrd_placeRefused,
                      .changed = brOrd_amendChanged,
                      .amend_error = brOrd_amendError,
                      .recon_done = brOrd_placeReconDone};
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
    ibbStatus s = brOrd_acctRiskCreate(&m->acct_risk, b->opt.risk_accounts, b->opt.n_risk_accounts);
    if (s != IBB_OK)
        return s;
    s = brOrdStore_Create(&m->store, b, on_store_ready, on_orphans, on_written);
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
        {"order_preview", "order.preview", brOrd_onPreview},
        {"order_completed", "order.completed", brOrd_onCompleted},
        {"executions", "executions", brOrd_onExecutions},
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
    m->closing = true; /* placements freed below send nothing */
    brOrd_previewDropAll(b, "unavailable", "ib-bridge is stopping");
    brOrd_completedFini(b);
    brOrd_execQueriesDrop(b);
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
    brOrd_acctRiskDestroy(m->acct_risk);
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
