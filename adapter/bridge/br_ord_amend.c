/* br_ord_amend.c — ib.rpc.order.cancel, ib.rpc.order.modify and ib.rpc.order.list.
 *
 * A cancel or modification is answered when IB confirms it (br_ord_ib.c: the order's status or
 * its openOrder), refuses it (an IB error), the order ends first, or the link drops. A list while IB
 * is up waits for a fresh reqAllOpenOrders round (answered at openOrderEnd); otherwise it answers
 * from the ledger ("source": "cache"). Loop thread. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "br_ord_int.h"
#include "ibb_log.h"

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
        busRequest_FailField(req, "order_id", st, "integer");
        return NULL;
    } else if (allow_cid && (st = busObj_StrCopy(body, "client_order_id", cid, sizeof cid)) == IBB_OK) {
        o = stOrders_ByClientId(b->orders, cid);
    } else {
        if (st != IBB_ERR_NOT_FOUND)
            busRequest_BadField(req, "client_order_id", st, "string of at most 64 characters");
        else
            busRequest_Fail(req, "bad_request",
                             allow_cid ? "give 'order_id' (integer) or 'client_order_id'"
                                       : "field 'order_id' is required (integer)",
                             0);
        return NULL;
    }
    if (!o) {
        busRequest_Fail(req, "not_found",
                         "no order of this ib-bridge has that id (ib.rpc.order.list shows them)", 0);
        return NULL;
    }
    if (o->terminal) {
        busRequest_Failf(req, "conflict", 0, "order %" PRId64 " is already %s", o->order_id, o->status);
        return NULL;
    }
    if (!br_requireIb(b, req)) {
        busRequest_Release(req);
        return NULL;
    }
    if (!brOrd_ensureExt(b, o)) {
        busRequest_Fail(req, "internal", "out of memory", 0);
        return NULL;
    }
    return o;
}

static void reply_order(busRequest *req, const stOrder *o)
{
    msgpack_packer *pk = busRequest_Packer(req);
    brOrd_packOrder(pk, o, brOrd_ext(o), 0);
    busRequest_ReplyPacked(req);
}

/* Answers every waiter with o (slug NULL) or the error, releases and frees them. */
static void answer_waiters(brOrdWaiter **list, const stOrder *o, const char *slug, const char *msg)
{
    brOrdWaiter *w = *list;
    *list = NULL;
    while (w) {
        brOrdWaiter *n = w->next;
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

/* m->up.changed: a modification IB now holds is answered; an order that ended answers what waits. */
void brOrd_amendChanged(brBridge *b, stOrder *o)
{
    (void)b;
    brOrdExt *x = brOrd_ext(o);
    if (!x)
        return;
    if (x->modify_w && close_to(o->qty, x->mod_qty) && close_to(o->lmt_price, x->mod_lmt) &&
        close_to(o->aux_price, x->mod_aux))
        answer_waiters(&x->modify_w, o, NULL, NULL);
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

/* m->up.amend_error: IB refused a cancel (161/10147: it cannot be cancelled any more) or a modification
 * (mapped as br_replyIbError does). */
bool brOrd_amendError(brBridge *b, stOrder *o, const ibError *e)
{
    (void)b;
    brOrdExt *x = brOrd_ext(o);
    char msg[400];
    snprintf(msg, sizeof msg, "IB error %" PRId64 ": %s", e->code, e->message);
    if (x->cancel_w) {
        answer_waiters(&x->cancel_w, o, (e->code == 161 || e->code == 10147) ? "conflict" : "ib_error", msg);
        return true;
    }
    if (!x->modify_w)
        return false;
    brOrdWaiter *w = x->modify_w;
    x->modify_w = NULL;
    while (w) {
        brOrdWaiter *n = w->next;
        br_replyIbError(w->req, e);
        busRequest_Release(w->req);
        free(w);
        w = n;
    }
    return true;
}

void brOrd_onCancel(busRequest *req, void *arg)
{
    brBridge *b = arg;
    if (brOrd_readOnly(b, req))
        return;
    stOrder *o = find_target(b, req, true);
    if (!o)
        return;
    brOrdExt *x = brOrd_ext(o);
    if (x->cancel_w) { /* one cancel in flight: share it */
        brOrd_waiterAdd(&x->cancel_w, req);
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
    brOrd_waiterAdd(&x->cancel_w, req);
}

/* The body's qty / limit_price / stop_price (IB_UNSET_DOUBLE when absent); false after answering. */
static bool parse_modify(busRequest *req, double *qty, double *lmt, double *aux)
{
    const msgpack_object *body = busRequest_Body(req);
    *qty = IB_UNSET_DOUBLE;
    double v;
    ibbStatus st = busObj_Double(body, "qty", &v);
    if (st == IBB_OK) {
        if (!isfinite(v) || v <= 0)
            return brOrd_bad(req, "field 'qty' must be a positive number%s", "");
        *qty = v;
    } else if (st != IBB_ERR_NOT_FOUND) {
        busRequest_FailField(req, "qty", st, "number");
        return false;
    }
    if (!brOrd_priceField(req, body, "limit_price", false, lmt) ||
        !brOrd_priceField(req, body, "stop_price", false, aux))
        return false;
    if (ib_isUnsetDouble(*qty) && ib_isUnsetDouble(*lmt) && ib_isUnsetDouble(*aux))
        return brOrd_bad(req, "give at least one of 'qty', 'limit_price', 'stop_price'%s", "");
    return true;
}

/* Whether o can take this modification now; false after answering. */
static bool modify_allowed(busRequest *req, const stOrder *o, const brOrdExt *x, double lmt, double aux)
{
    if (!ib_isUnsetDouble(lmt) && !strstr(o->order_type, "LMT"))
        return brOrd_bad(req, "this order is not a limit order: 'limit_price' does not apply%s", "");
    if (!ib_isUnsetDouble(aux) && strncmp(o->order_type, "STP", 3) != 0)
        return brOrd_bad(req, "this order is not a stop order: 'stop_price' does not apply%s", "");
    const char *why = NULL;
    if (x->pl || !o->acked)
        why = "IB has not acknowledged this order yet; retry in a moment";
    else if (x->modify_w)
        why = "a modification of this order is still in flight; retry when it is answered";
    else if (!x->has_spec)
        why = "the contract of this order is not known yet; retry in a moment";
    if (!why)
        return true;
    busRequest_Fail(req, "conflict", why, 0);
    return false;
}

/* The risk limits with the new quantity and prices; false after answering. */
static bool modify_risk_ok(brBridge *b, busRequest *req, const stOrder *o, const brOrdExt *x, double nq,
                           double nl, double na)
{
    double ref = strstr(o->order_type, "LMT")    ? nl
                 : !strcmp(o->order_type, "STP") ? na
                                                 : brOrd_bookPrice(b, o->key);
    if (!isfinite(ref) && o->avg_fill_price > 0)
        ref = o->avg_fill_price;
    stRiskOrder ro = {.key = o->key, .symbol = x->spec.symbol, .qty = nq, .ref_price = ref};
    const char *limit = NULL;
    char msg[300];
    if (stRisk_Check(&b->risk, &ro, br_nowMs(b), &limit, msg, sizeof msg) == IBB_OK)
        return true;
    busRequest_Failf(req, "risk_limit", 0, "risk limit %s: %s", limit, msg);
    return false;
}

void brOrd_onModify(busRequest *req, void *arg)
{
    brBridge *b = arg;
    if (brOrd_readOnly(b, req))
        return;
    double qty, lmt, aux;
    if (!parse_modify(req, &qty, &lmt, &aux))
        return;
    stOrder *o = find_target(b, req, true);
    if (!o)
        return;
    brOrdExt *x = brOrd_ext(o);
    if (!modify_allowed(req, o, x, lmt, aux))
        return;
    double nq = ib_isUnsetDouble(qty) ? o->qty : qty;
    double nl = ib_isUnsetDouble(lmt) ? o->lmt_price : lmt;
    double na = ib_isUnsetDouble(aux) ? o->aux_price : aux;
    if (!modify_risk_ok(b, req, o, x, nq, nl, na))
        return;
    ibRequest rq;
    brOrd_placeRequest(&rq, o, x, nq, nl, na);
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
    brOrd_waiterAdd(&x->modify_w, req);
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

static void list_pack(listFilter *f, const stOrder *o, const brOrdExt *x, int64_t foreign_client)
{
    if (!list_match(f, o))
        return;
    f->count++;
    if (!f->pk)
        return;
    brOrd_packOrder(f->pk, o, x, foreign_client ? 2 : 1);
    busPack_KeyBool(f->pk, "foreign", foreign_client != 0);
    if (foreign_client)
        busPack_KeyInt(f->pk, "client_id", foreign_client);
}

/* Every order: ours (the ledger, through the module's index), then other clients' open ones. */
static void list_walk(brBridge *b, listFilter *f)
{
    ibbMapIter it;
    void *v;
    ibbMapIter_Init(&it, brOrd_mod(b)->all);
    while (ibbMapIter_Next(&it, NULL, NULL, &v))
        list_pack(f, v, brOrd_ext(v), 0);
    ibbMapIter_Init(&it, brOrd_mod(b)->foreign);
    while (ibbMapIter_Next(&it, NULL, NULL, &v)) {
        brOrdForeign *fo = v;
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

void brOrd_answerLists(brBridge *b)
{
    brOrders *m = brOrd_mod(b);
    brOrdWaiter *w = m->list_waiters;
    m->list_waiters = NULL;
    while (w) {
        brOrdWaiter *n = w->next;
        answer_list(b, w->req);
        busRequest_Release(w->req);
        free(w);
        w = n;
    }
}

void brOrd_onList(busRequest *req, void *arg)
{
    brBridge *b = arg;
    brOrders *m = brOrd_mod(b);
    const msgpack_object *body = busRequest_Body(req);
    const char *s;
    size_t n;
    ibbStatus st = busObj_Str(body, "status", &s, &n);
    if (st == IBB_ERR_INVALID_ARG || (st == IBB_OK && !(n == 3 && !strncmp(s, "all", 3)) &&
                                      !(n == 4 && !strncmp(s, "open", 4)))) {
        brOrd_bad(req, "field 'status' must be \"open\" (default) or \"all\"%s", "");
        return;
    }
    if (busObj_Get(body, "symbol") || busObj_Get(body, "key") || busObj_Get(body, "contract")) {
        char key[ST_KEY_MAX], err[300];
        if (br_keyFromBody(body, key, sizeof key, err, sizeof err) != IBB_OK) {
            brOrd_bad(req, "%s", err);
            return;
        }
    }
    if (b->ib_ready && brOrd_requestOpenOrders(b, false)) {
        brOrd_waiterAdd(&m->list_waiters, req); /* answered at openOrderEnd: IB's current view */
        return;
    }
    answer_list(b, req);
    busRequest_Release(req);
}
