/* br_orders_recon.c — reconciliation on every IB ready: reqAllOpenOrders + reqExecutions (this
 * client id, since the last execution seen, minus a margin). When both ended, an order still open in
 * the ledger that IB no longer lists becomes Filled (executions cover its quantity), Unacknowledged
 * (IB never saw it) or Cancelled; records a crash left "pending" are settled the same way, and
 * repeats of a pending placement that waited for the round are answered. Loop thread. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "br_orders_int.h"
#include "ibb_log.h"

static void finish_order(brBridge *b, stOrder *o, const char *status, const char *why)
{
    if (!stOrders_Finish(b->orders, o, status, br_nowMs(b)))
        return;
    IBB_INFO("order.reconciled", "order_id=%" PRId64 " client_order_id=%s status=%s reason=\"%s\"",
             o->order_id, o->client_order_id, status, why);
    brOrd_publishStatus(b, o, 0, why);
    brOrdExt *x = brOrd_ext(o);
    if (x && x->pl) {
        brOrdPlacement *p = x->pl;
        x->pl = NULL;
        brOrd_placementAnswer(b, p, o->order_id, o->status, false, why);
    }
}

void brOrd_settleOrphans(brBridge *b)
{
    brOrders *m = brOrd_mod(b);
    for (size_t i = 0; i < m->n_orphans; i++) {
        brOrdRecord *r = &m->orphans[i];
        stOrder *o = stOrders_ByClientId(b->orders, r->client_order_id);
        if (o && o->acked) {
            brOrd_storeFinal(b, o,
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
        brOrd_termsFromRecord(&t, r);
        snprintf(t.account, sizeof t.account, "%s", r->account);
        if (stOrders_ById(b->orders, t.order_id))
            t.order_id = -t.order_id; /* the id was reused by a new order: keep the record distinct */
        if (stOrders_Add(b->orders, &t, br_nowMs(b), &o) != IBB_OK || !brOrd_ensureExt(b, o))
            continue;
        finish_order(b, o, "Unacknowledged",
                     "the order was recorded but IB never acknowledged it (ib-bridge stopped "
                     "before or while sending it)");
    }
    free(m->orphans);
    m->orphans = NULL;
    m->n_orphans = 0;
}

/* One open ledger order IB did not list in this round (sent before the round began). */
static void reconcile_one(brBridge *b, stOrder *o, brOrdExt *x)
{
    if (x->exec_cum > 0 && x->exec_cum >= o->qty - 1e-9) {
        ibOrderStatus st = {.order_id = o->order_id,
                            .status = "Filled",
                            .filled = x->exec_cum,
                            .remaining = 0,
                            .avg_fill_price = o->avg_fill_price,
                            .perm_id = o->perm_id};
        stOrders_ApplyStatus(b->orders, &st, br_nowMs(b), NULL);
        brOrd_publishStatus(b, o, 0, NULL);
        brOrd_placementAcked(b, o);
    } else if (!o->acked) {
        finish_order(b, o, "Unacknowledged",
                     "IB never acknowledged the order (the link dropped while it was sent)");
        brOrd_storeFinal(b, o, "unacknowledged", NULL, NULL, 0);
    } else {
        if (x->exec_cum > o->filled) {
            ibOrderStatus st = {.order_id = o->order_id, .status = o->status, .filled = x->exec_cum,
                                .remaining = o->qty - x->exec_cum, .perm_id = o->perm_id};
            stOrders_ApplyStatus(b->orders, &st, br_nowMs(b), NULL);
        }
        finish_order(b, o, "Cancelled", "IB no longer lists the order as open after the reconnect");
    }
}

static void recon_finish(brBridge *b)
{
    brOrders *m = brOrd_mod(b);
    size_t n_open;
    stOrder **open = brOrd_openOrders(b, &n_open);
    for (size_t i = 0; i < n_open; i++) {
        stOrder *o = open[i];
        brOrdExt *x = brOrd_ensureExt(b, o);
        if (!x || x->send_seq > m->recon_seq || x->seen_gen == m->recon_gen)
            continue; /* sent after the round began, or IB listed it */
        if (x->pl && x->send_seq == 0)
            continue;
        reconcile_one(b, o, x);
    }
    free(open);
    m->recon_active = false;
    m->recon_done_once = true;
    if (m->orphans_known)
        brOrd_settleOrphans(b);
    /* repeats that waited for this round */
    size_t k;
    brOrdPlacement **ps = brOrd_placements(b, &k);
    for (size_t i = 0; i < k; i++)
        if (ps[i]->state == BR_ORD_PL_AWAIT_RECON)
            brOrd_settleRecord(b, &ps[i]->rec, ps[i]);
    free(ps);
    IBB_INFO("orders.reconciled", "open=%zu last_exec=%s", n_open,
             m->last_exec_time[0] ? m->last_exec_time : "-");
}

void brOrd_reconPartDone(brBridge *b)
{
    brOrders *m = brOrd_mod(b);
    if (m->recon_active && --m->recon_parts <= 0)
        recon_finish(b);
}

static void on_exec_reply(brBridge *b, int64_t req_id, const ibReply *r, void *ctx)
{
    (void)ctx;
    if (r->id == IB_MSG_EXEC_DETAILS_END) {
        br_reqClose(b, req_id);
        brOrd_mod(b)->exec_req = 0;
        brOrd_reconPartDone(b);
    }
}

static void on_exec_error(brBridge *b, int64_t req_id, const ibError *e, void *ctx)
{
    (void)ctx;
    IBB_WARN("orders.executions_failed", "code=%" PRId64 " text=\"%s\"", e->code, e->message);
    br_reqClose(b, req_id);
    brOrd_mod(b)->exec_req = 0;
    brOrd_reconPartDone(b);
}

static void on_exec_lost(brBridge *b, int64_t req_id, void *ctx)
{
    (void)ctx;
    br_reqClose(b, req_id);
    brOrd_mod(b)->exec_req = 0;
}

static const brPendingOps exec_ops = {on_exec_reply, on_exec_error, on_exec_lost};

/* The reqExecutions time filter ("yyyymmdd hh:mm:ss"; "" = all IB still has). */
static void exec_since(const char *last_exec_time, char *since, size_t cap)
{
    /* after a start: today's executions (IB keeps about a day); the stream drops what it has */
    if (last_exec_time[0] == '\0')
        return;
    /* since the last one seen, minus 10 minutes (clocks and zones differ); dedupe drops repeats */
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (sscanf(last_exec_time, "%4d%2d%2d%2d%2d%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec) == 6) {
        tm.tm_year -= 1900;
        tm.tm_mon -= 1;
        time_t t = timegm(&tm) - 600;
        gmtime_r(&t, &tm);
        strftime(since, cap, "%Y%m%d %H:%M:%S", &tm);
    }
}

void brOrd_reconStart(brBridge *b)
{
    brOrders *m = brOrd_mod(b);
    m->recon_active = true;
    m->recon_gen++;
    m->recon_seq = m->send_seq;
    m->recon_parts = 2;
    if (!brOrd_requestOpenOrders(b, true)) {
        m->recon_active = false;
        return;
    }
    ibRequest rq;
    ibRequest_Init(&rq, IB_REQ_EXECUTIONS);
    int64_t id = br_reqOpen(b, &exec_ops, NULL);
    char since[24] = "";
    exec_since(m->last_exec_time, since, sizeof since);
    rq.u.executions.req_id = id;
    rq.u.executions.client_id = coreSession_ClientId(b->ib);
    rq.u.executions.account = "";
    rq.u.executions.time = since;
    rq.u.executions.symbol = rq.u.executions.sec_type = rq.u.executions.exchange = rq.u.executions.side = "";
    if (id < 0 || br_send(b, &rq) != IBB_OK) {
        if (id >= 0)
            br_reqClose(b, id);
        brOrd_reconPartDone(b);
        return;
    }
    m->exec_req = id;
    IBB_INFO("orders.reconciling", "since=\"%s\" ledger=%zu", since, stOrders_Count(b->orders));
}
