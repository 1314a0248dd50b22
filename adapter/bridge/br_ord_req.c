/* br_ord_req.c — what the order request handlers (br_ord_place.c, br_ord_amend.c) share: waiter
 * lists, field checks, the placement reply, the placeOrder request built from a ledger order, and the
 * crash-test hook. Loop thread. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "br_ord_int.h"

void brOrd_testHook(brBridge *b, brOrdHook point, const char *cid)
{
    static const char *const names[] = {"before_send", "after_send", "after_ack"};
    if (b->opt.test_hook)
        b->opt.test_hook(names[point], cid);
}

void brOrd_waiterAdd(brOrdWaiter **list, busRequest *req)
{
    brOrdWaiter *w = malloc(sizeof *w);
    if (!w) {
        busRequest_Fail(req, "internal", "out of memory", 0);
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
        busRequest_Fail(w->req, slug, msg, ib_code);
        free(w);
        w = n;
    }
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

/* {order_id, client_order_id, status[, duplicate]} */
void brOrd_replyPlaced(busRequest *req, int64_t order_id, const char *cid, const char *status, bool duplicate,
                       const char *note)
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

bool brOrd_bad(busRequest *req, const char *fmt, const char *a)
{
    busRequest_Failf(req, "bad_request", 0, fmt, a);
    return false;
}

bool brOrd_readOnly(brBridge *b, busRequest *req)
{
    if (!b->risk.lim.read_only)
        return false;
    busRequest_Fail(req, "read_only",
                     "ib-bridge runs with read_only = true (config ib.read_only / IBB_READ_ONLY): "
                     "order requests are refused",
                     0);
    return true;
}

/* Reads an optional positive price; false after answering. */
bool brOrd_priceField(busRequest *req, const msgpack_object *body, const char *field, bool required,
                      double *out)
{
    *out = IB_UNSET_DOUBLE;
    double v;
    ibbStatus st = busObj_Double(body, field, &v);
    if (st == IBB_ERR_NOT_FOUND && !required)
        return true;
    if (st != IBB_OK) {
        busRequest_FailField(req, field, st, "number");
        return false;
    }
    if (!isfinite(v) || v <= 0)
        return brOrd_bad(req, "field '%s' must be a positive number", field);
    *out = v;
    return true;
}

/* The reference price of a quote: last, else the bid/ask midpoint, else the close; NAN when none. */
double brOrd_quotePrice(const stQuote *q)
{
    if (!q)
        return NAN;
    if (isfinite(q->last) && q->last > 0)
        return q->last;
    if (isfinite(q->bid) && isfinite(q->ask) && q->bid > 0 && q->ask > 0)
        return (q->bid + q->ask) / 2;
    return isfinite(q->close) && q->close > 0 ? q->close : NAN;
}

double brOrd_bookPrice(brBridge *b, const char *key)
{
    return brOrd_quotePrice(b->book ? stQuoteBook_Find(b->book, key) : NULL);
}
