/* br_ord_recon.c — reconciliation on every IB ready: reqAllOpenOrders + reqCompletedOrders + reqExecutions (this
 * client id, since the last execution seen, minus a margin). When both ended, an order still open in
 * the ledger that IB no longer lists becomes Filled (executions cover its quantity), Unacknowledged
 * (IB never saw it) or Cancelled; records a crash left "pending" are settled the same way, and
 * repeats of a pending placement that waited for the round are answered. Loop thread. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "br_ord_int.h"
#include "ibb_log.h"

static void finish_order(brBridge *b, stOrder *o, const char *status, const char *why)
{
    if (!stOrders_Finish(b->orders, o, status, br_nowMs(b)))
        return;
    IBB_INFO("order.reconciled", "order_id=%" PRId64 " client_order_id=%s status=%s reason=\"%s\"",
             o->order_id, o->client_order_id, status, why);
    brOrd_publishStatus(b, o, 0, why);
    brOrd_mod(b)->up.answer(b, o, why);
}

/* A record's order as a ledger entry (terms from the record); NULL when the ledger refuses it. */
static stOrder *ledger_from_record(brBridge *b, const brOrdRecord *r)
{
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
    stOrder *o = NULL;
    if (stOrders_Add(b->orders, &t, br_nowMs(b), &o) != IBB_OK || !brOrd_ensureExt(b, o))
        return NULL;
    return o;
}

/* The record's new state, written durably over the record (never re-creating one its writer took
 * back); the ledger takes what the bucket then holds (brOrd_reconWritten), and parked repeats are
 * answered with it: nothing is final before it is durable. */
static void settle_write(brBridge *b, const brOrdRecord *r, const char *state, const char *status)
{
    brOrdRecord n = *r;
    snprintf(n.state, sizeof n.state, "%s", state);
    snprintf(n.status, sizeof n.status, "%s", status);
    n.updated_ns = br_wallNs();
    brOrdStore_Settle(brOrd_mod(b)->store, &n);
}

/* A "sending" record this recent may still be taken back or finished by the instance that wrote it (an
 * HA takeover while it was placing): its verdict waits this long before the evidence is weighed. */
#define SENDING_GRACE_NS (5LL * 1000 * 1000 * 1000)

static const char *const UNKNOWN_WHY =
    "ib-bridge sent this order to IB, but neither IB (open orders, executions, completed orders) nor the "
    "order stream knows what became of it";

/* Puts r back on m->orphans: the housekeeping tick settles it again (the stream did not answer). */
static void settle_later(brBridge *b, const brOrdRecord *r)
{
    brOrders *m = brOrd_mod(b);
    brOrdRecord *l = realloc(m->orphans, (m->n_orphans + 1) * sizeof *l);
    if (!l)
        return;
    l[m->n_orphans++] = *r;
    m->orphans = l;
}

/* The order stream answered for an orphan IB does not know: decide on the evidence. */
static void on_evidence(brBridge *b, void *ctx, ibbStatus st, const brOrdEvidence *ev)
{
    brOrdRecord *r = ctx;
    brOrders *m = brOrd_mod(b);
    if (st != IBB_OK && st != IBB_ERR_NOT_FOUND) { /* the stream could not answer: ask again */
        IBB_WARN("orders.evidence_retry", "client_order_id=%s order_id=%" PRId64 " status=%s", r->client_order_id,
                 r->order_id, ibbStatus_Name(st));
        ibbMap_Del(m->settling, r->client_order_id);
        settle_later(b, r); /* the housekeeping tick asks again */
        free(r);
        return;
    }
    bool reached = st == IBB_OK && !strcmp(ev->client_order_id, r->client_order_id) && ev->status[0] &&
                   strcmp(ev->status, "Unacknowledged") != 0 && strcmp(ev->status, "Unknown") != 0;
    stOrder *o = NULL;
    if (reached) { /* any event from IB about it: it reached IB; its last status is the truth we have */
        if ((o = ledger_from_record(b, r))) {
            ibOrderStatus s = {.order_id = o->order_id, .status = ev->status, .filled = ev->filled,
                               .remaining = ev->remaining, .avg_fill_price = ev->avg_fill_price,
                               .perm_id = ev->perm_id};
            stOrders_ApplyStatus(b->orders, &s, br_nowMs(b), NULL);
            brOrdExt *x = brOrd_ext(o);
            snprintf(x->pub_status, sizeof x->pub_status, "%s", o->status); /* the stream has it already */
            x->pub_filled = o->filled;
            x->pub_remaining = o->remaining;
            x->submitted_pub = true;
        }
        IBB_INFO("order.reconciled", "client_order_id=%s order_id=%" PRId64 " status=%s evidence=stream",
                 r->client_order_id, r->order_id, ev->status);
        settle_write(b, r, "acked", ev->status);
    } else if (!strcmp(r->state, "pending")) { /* never written to the socket: positive evidence */
        settle_write(b, r, "unacknowledged", "Unacknowledged");
    } else if (!strcmp(r->state, "acked")) { /* IB had it; nothing newer is known: the record stands */
        settle_write(b, r, "acked", r->status);
    } else {
        settle_write(b, r, "unknown", "Unknown");
    }
    free(r);
}

/* One record an earlier run (or another process) left unfinished, after a full reconciliation with IB:
 * IB's open orders and executions come first, then the order stream. */
static void settle_orphan(brBridge *b, const brOrdRecord *r)
{
    brOrders *m = brOrd_mod(b);
    stOrder *o = stOrders_ByClientId(b->orders, r->client_order_id);
    if (o && brOrd_ext(o) && brOrd_ext(o)->pl)
        return; /* ours from this process, still in flight */
    if (ibbMap_Get(m->settling, r->client_order_id))
        return; /* being settled already */
    if (!o && !strcmp(r->state, "sending") && br_wallNs() - r->updated_ns < SENDING_GRACE_NS) {
        settle_later(b, r); /* its writer may still take it back: the housekeeping tick looks again */
        return;
    }
    if (ibbMap_Put(m->settling, r->client_order_id, m) != IBB_OK)
        return; /* out of memory: the next start repairs it */
    if (o && (o->acked || o->terminal)) { /* IB (or this process) knows it */
        const char *state = !strcmp(o->status, "Unacknowledged") ? "unacknowledged"
                            : !strcmp(o->status, "Unknown")      ? "unknown"
                            : !strcmp(o->status, "Rejected")     ? "rejected"
                                                                 : "acked";
        settle_write(b, r, state, o->status);
        return;
    }
    const brOrdCompleted *co = ibbMap_Get(m->completed, r->client_order_id);
    if (co) { /* IB's completed orders list it: it reached IB, and ended so */
        if ((o = ledger_from_record(b, r))) {
            ibOrderStatus s = {.order_id = o->order_id, .status = co->status, .filled = co->filled,
                               .remaining = co->remaining, .perm_id = co->perm_id};
            stOrders_ApplyStatus(b->orders, &s, br_nowMs(b), NULL);
            brOrd_publishStatus(b, o, 0, "learned from IB's completed orders");
        }
        IBB_INFO("order.reconciled", "client_order_id=%s order_id=%" PRId64 " status=%s evidence=completed_orders",
                 r->client_order_id, r->order_id, co->status);
        settle_write(b, r, "acked", co->status);
        return;
    }
    brOrdRecord *copy = malloc(sizeof *copy);
    if (!copy) {
        ibbMap_Del(m->settling, r->client_order_id);
        return;
    }
    *copy = *r;
    brOrdStore_LastEvent(m->store, r->order_id, on_evidence, copy);
}

void brOrd_settleOrphans(brBridge *b)
{
    brOrders *m = brOrd_mod(b);
    brOrdRecord *list = m->orphans;
    size_t n = m->n_orphans;
    m->orphans = NULL;
    m->n_orphans = 0;
    for (size_t i = 0; i < n; i++)
        settle_orphan(b, &list[i]);
    free(list);
    brOrd_checkRepaired(b);
}

void brOrd_settleNow(brBridge *b, const brOrdRecord *r) { settle_orphan(b, r); }

/* The durable verdict on a record IB did not know: the ledger takes it (and publishes it). */
static void ledger_takes(brBridge *b, const brOrdRecord *stored)
{
    bool unacked = !strcmp(stored->state, "unacknowledged"), unknown = !strcmp(stored->state, "unknown");
    if (!unacked && !unknown)
        return; /* acked / rejected: IB's own word, in the ledger already or told by IB at its next round */
    stOrder *o = stOrders_ByClientId(b->orders, stored->client_order_id);
    if (o && o->terminal && !strcmp(o->status, stored->status))
        return;
    if (o && (o->acked || (brOrd_ext(o) && brOrd_ext(o)->pl)))
        return; /* IB knows it (or this process is placing it): IB's word wins */
    if (!o && !(o = ledger_from_record(b, stored)))
        return;
    if (unknown)
        IBB_WARN("order.unknown", "client_order_id=%s order_id=%" PRId64 " note=\"check the order with IB\"",
                 stored->client_order_id, stored->order_id);
    finish_order(b, o, stored->status,
                 unacked ? "the order was recorded but never sent to IB (ib-bridge stopped or lost the link "
                           "before sending it)"
                         : UNKNOWN_WHY);
}

void brOrd_reconWritten(brBridge *b, const char *cid, const brOrdRecord *stored)
{
    brOrders *m = brOrd_mod(b);
    if (!ibbMap_Get(m->settling, cid))
        return;
    ibbMap_Del(m->settling, cid);
    if (stored)
        ledger_takes(b, stored);
    brOrd_checkRepaired(b);
}

void brOrd_checkRepaired(brBridge *b)
{
    brOrders *m = brOrd_mod(b);
    if (m->repaired || !m->orphans_known || m->n_orphans || ibbMap_Count(m->settling))
        return;
    if (m->orphans_found && !m->recon_done_once)
        return; /* IB's evidence comes first */
    m->repaired = true;
    IBB_INFO("orders.repaired", "note=\"every record an earlier run left unfinished is settled\"");
}

/* One open ledger order IB did not list in this round (sent before the round began). */
static void reconcile_one(brBridge *b, stOrder *o, brOrdExt *x)
{
    const brOrdCompleted *co = ibbMap_Get(brOrd_mod(b)->completed, o->client_order_id);
    if (co) { /* IB's completed orders say how it ended */
        ibOrderStatus st = {.order_id = o->order_id, .status = co->status, .filled = co->filled,
                            .remaining = co->remaining, .perm_id = co->perm_id};
        stOrders_ApplyStatus(b->orders, &st, br_nowMs(b), NULL);
        brOrd_publishStatus(b, o, 0, "learned from IB's completed orders");
        brOrd_mod(b)->up.answer(b, o, NULL);
        return;
    }
    if (x->exec_cum > 0 && x->exec_cum >= o->qty - 1e-9) {
        ibOrderStatus st = {.order_id = o->order_id,
                            .status = "Filled",
                            .filled = x->exec_cum,
                            .remaining = 0,
                            .avg_fill_price = o->avg_fill_price,
                            .perm_id = o->perm_id};
        stOrders_ApplyStatus(b->orders, &st, br_nowMs(b), NULL);
        brOrd_publishStatus(b, o, 0, NULL);
        brOrd_mod(b)->up.answer(b, o, NULL);
    } else if (!o->acked) { /* written to the socket, and IB lists it nowhere: we cannot know */
        finish_order(b, o, "Unknown", UNKNOWN_WHY);
        brOrd_storeFinal(b, o, "unknown", NULL, NULL, 0);
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
    m->up.recon_done(b); /* repeats that waited for this round */
    IBB_INFO("orders.reconciled", "open=%zu last_exec=%s", n_open,
             m->last_exec_time[0] ? m->last_exec_time : "-");
}

/* One of IB's completed orders: kept for this round by client_order_id (orderRef; completedOrder has no
 * order id on the wire); a ledger order still open learns how it ended. */
static void on_completed(brBridge *b, const ibCompletedOrder *c)
{
    brOrders *m = brOrd_mod(b);
    const char *cid = c->order.order_ref ? c->order.order_ref : "";
    if (!*cid || strlen(cid) > ST_CLIENT_ORDER_ID_MAX || !c->status)
        return;
    brOrdCompleted *co = ibbMap_Get(m->completed, cid);
    if (!co) {
        if (!(co = calloc(1, sizeof *co)) || ibbMap_Put(m->completed, cid, co) != IBB_OK) {
            free(co);
            return;
        }
    }
    snprintf(co->status, sizeof co->status, "%s", c->status);
    co->filled = ib_isUnsetDouble(c->filled_qty) ? 0 : c->filled_qty;
    co->remaining = ib_isUnsetDouble(c->remaining) ? 0 : c->remaining;
    co->perm_id = c->perm_id;
}

bool brOrd_reconOnReply(brBridge *b, const ibReply *r)
{
    brOrders *m = brOrd_mod(b);
    if (r->id == IB_MSG_COMPLETED_ORDER) {
        on_completed(b, &r->u.completed_order);
        return true;
    }
    if (r->id == IB_MSG_COMPLETED_ORDERS_END) {
        if (m->recon_active)
            brOrd_reconPartDone(b);
        return true;
    }
    return false;
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
    ibbMap_Clear(m->completed, free);
    if (!brOrd_requestOpenOrders(b, true)) {
        m->recon_active = false;
        return;
    }
    if (coreSession_ServerVersion(b->ib) >= IB_SV_COMPLETED_ORDERS) {
        ibRequest cq;
        ibRequest_Init(&cq, IB_REQ_COMPLETED_ORDERS);
        cq.u.api_only = true;
        if (br_send(b, &cq) == IBB_OK) {
            m->recon_parts++;
            brOrd_completedSent(b); /* its answer is the reconciler's, not ib.rpc.order.completed's */
        }
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
