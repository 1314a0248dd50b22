/* br_ord_preview.c — ib.rpc.order.preview: what an order would do to the account's margin, without
 * placing it (PROTOCOL.md §3.16, placeOrder with whatIf = 1).
 *
 * The body is read by the placement's own parser (brOrd_parsePlace), so a preview is refused exactly
 * where a placement would be. Then: IB ready? -> resolve the instrument -> take an order id and send
 * placeOrder with whatIf = 1 through the pacer (like every IB message). No idempotency record, no
 * ledger order: the what-if's openOrder and errors are taken here before the order streams see them.
 * IB may answer with more than one openOrder, the first with unset margins: the reply waits for one
 * whose initial-margin change is set, and carries only values IB set (never the unset sentinels).
 * Order ids must reach IB in increasing order: while a placement holds an order id not sent yet, a
 * preview waits (brOrd_previewFlush), so its id is taken only when it can go at once. A preview whose
 * caller gave up stays until IB's answer, to keep that answer out of the order streams. Loop thread. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "br_ord_int.h"
#include "ibb_log.h"

struct brOrdPreview {
    brBridge *b;
    brOrdPlacement p; /* the parsed body (cid, key, side, qty, type, prices, spec) */
    busRequest *req;  /* NULL once answered or given up */
    int64_t order_id; /* 0 until sent */
    bool resolving, parked;
    char warning[256]; /* a warning of an earlier openOrder of this what-if */
    struct brOrdPreview *next;
};

static const char *const MARGIN_KEYS[IB_MARGIN_COUNT] = {
    "init_margin_before", "maint_margin_before", "equity_with_loan_before",
    "init_margin_change", "maint_margin_change", "equity_with_loan_change",
    "init_margin_after",  "maint_margin_after",  "equity_with_loan_after",
};

static void on_resolved(brBridge *b, void *ctx, const brInstrument *inst, const char *slug, const char *msg,
                        int ib_code);

static void unlink_preview(brBridge *b, brOrdPreview *pv)
{
    brOrders *m = brOrd_mod(b);
    for (brOrdPreview **pp = &m->previews; *pp; pp = &(*pp)->next)
        if (*pp == pv) {
            *pp = pv->next;
            break;
        }
}

static void preview_free(brBridge *b, brOrdPreview *pv)
{
    unlink_preview(b, pv);
    if (pv->resolving)
        br_resolveCancel(b, pv->p.key, on_resolved, pv);
    if (pv->req)
        busRequest_Release(pv->req);
    free(pv);
}

static void preview_fail(brBridge *b, brOrdPreview *pv, const char *slug, int ib_code, const char *msg)
{
    if (pv->req)
        busRequest_Error(pv->req, slug, msg, ib_code);
    preview_free(b, pv);
}

static bool set(double v) { return !ib_isUnsetDouble(v); }

static void reply_preview(brOrdPreview *pv, const ibOpenOrder *oo)
{
    const char *warn = oo->warning_text && *oo->warning_text ? oo->warning_text : pv->warning;
    int n = 7 + (*warn ? 1 : 0) + (oo->commission_currency && *oo->commission_currency ? 1 : 0);
    for (int i = 0; i < IB_MARGIN_COUNT; i++)
        n += set(oo->margins[i]);
    n += set(oo->commission) + set(oo->min_commission) + set(oo->max_commission);
    msgpack_packer *pk = busRequest_Packer(pv->req);
    msgpack_pack_map(pk, (size_t)n);
    busPack_KeyStr(pk, "client_order_id", pv->p.cid);
    busPack_KeyStr(pk, "key", pv->p.key);
    busPack_Str(pk, "contract");
    br_packContract(pk, &pv->p.spec);
    busPack_KeyStr(pk, "side", pv->p.side);
    busPack_KeyDouble(pk, "qty", pv->p.qty);
    busPack_KeyStr(pk, "account", oo->order.account ? oo->order.account : "");
    busPack_KeyStr(pk, "status", oo->status ? oo->status : "");
    for (int i = 0; i < IB_MARGIN_COUNT; i++)
        if (set(oo->margins[i]))
            busPack_KeyDouble(pk, MARGIN_KEYS[i], oo->margins[i]);
    if (set(oo->commission))
        busPack_KeyDouble(pk, "commission", oo->commission);
    if (set(oo->min_commission))
        busPack_KeyDouble(pk, "min_commission", oo->min_commission);
    if (set(oo->max_commission))
        busPack_KeyDouble(pk, "max_commission", oo->max_commission);
    if (oo->commission_currency && *oo->commission_currency)
        busPack_KeyStr(pk, "commission_currency", oo->commission_currency);
    if (*warn)
        busPack_KeyStr(pk, "warning", warn);
    busRequest_ReplyPacked(pv->req);
}

static brOrdPreview *by_order_id(brBridge *b, int64_t order_id)
{
    for (brOrdPreview *pv = brOrd_mod(b)->previews; pv; pv = pv->next)
        if (pv->order_id > 0 && pv->order_id == order_id)
            return pv;
    return NULL;
}

bool brOrd_previewOnReply(brBridge *b, const ibReply *r)
{
    if (r->id == IB_MSG_ORDER_STATUS)
        return by_order_id(b, r->u.order_status.order_id) != NULL; /* a what-if has no life of its own */
    if (r->id != IB_MSG_OPEN_ORDER)
        return false;
    const ibOpenOrder *oo = &r->u.open_order;
    brOrdPreview *pv = by_order_id(b, oo->order.order_id);
    if (!pv)
        return oo->what_if; /* a late answer to a preview already answered: never an order */
    if (!set(oo->margins[IB_MARGIN_INIT_CHANGE])) { /* TWS's first answer: the numbers follow */
        if (oo->warning_text && *oo->warning_text)
            snprintf(pv->warning, sizeof pv->warning, "%s", oo->warning_text);
        return true;
    }
    IBB_INFO("order.previewed", "order_id=%" PRId64 " key=%s init_change=%g answered=%d", pv->order_id,
             pv->p.key, oo->margins[IB_MARGIN_INIT_CHANGE], pv->req != NULL);
    if (pv->req)
        reply_preview(pv, oo);
    preview_free(b, pv);
    return true;
}

bool brOrd_previewOnError(brBridge *b, const ibError *e)
{
    brOrdPreview *pv = by_order_id(b, e->id);
    if (!pv)
        return false;
    if (brOrd_isWarning(e->code)) {
        snprintf(pv->warning, sizeof pv->warning, "IB %" PRId64 ": %s", e->code, e->message);
        return true;
    }
    if (pv->req)
        br_replyIbError(pv->req, e);
    preview_free(b, pv);
    return true;
}

/* True while a placement of this link holds an order id that has not gone to IB. */
static bool placement_holds_id(brBridge *b)
{
    size_t k;
    brOrdPlacement **ps = brOrd_placements(b, &k);
    bool held = false;
    for (size_t i = 0; i < k && !held; i++)
        held = ps[i]->order_id > 0 && ps[i]->link_gen == brOrd_mod(b)->link_gen &&
               (ps[i]->state == BR_ORD_PL_STORE || ps[i]->state == BR_ORD_PL_SENDING);
    free(ps);
    return held;
}

static void send_preview(brBridge *b, brOrdPreview *pv)
{
    pv->parked = false;
    if (!pv->req || busRequest_Answered(pv->req)) {
        preview_free(b, pv); /* nothing was sent: nothing to wait for */
        return;
    }
    do
        pv->order_id = coreSession_TakeOrderId(b->ib);
    while (pv->order_id >= 0 && stOrders_ById(b->orders, pv->order_id));
    if (pv->order_id < 0) {
        pv->order_id = 0;
        preview_fail(b, pv, "ib_unavailable", 0, "IB has not given an order id yet; retry");
        return;
    }
    stOrder t;
    memset(&t, 0, sizeof t);
    t.order_id = pv->order_id;
    snprintf(t.action, sizeof t.action, "%s", pv->p.side);
    snprintf(t.order_type, sizeof t.order_type, "%s", pv->p.type);
    snprintf(t.tif, sizeof t.tif, "%s", pv->p.tif);
    snprintf(t.account, sizeof t.account, "%s", pv->p.account);
    brOrdExt x = {.spec = pv->p.spec, .has_spec = true, .outside_rth = pv->p.outside_rth};
    ibRequest rq;
    brOrd_placeRequest(&rq, &t, &x, pv->p.qty, pv->p.lmt, pv->p.aux);
    rq.u.place_order.order.order_ref = "";
    rq.u.place_order.order.what_if = true;
    ibbStatus s = br_send(b, &rq);
    if (s != IBB_OK) {
        pv->order_id = 0;
        preview_fail(b, pv, s == IBB_ERR_STATE ? "ib_unavailable" : "internal", 0,
                     "the what-if order could not be sent to IB; retry");
        return;
    }
    IBB_INFO("order.preview_sent", "order_id=%" PRId64 " key=%s side=%s qty=%g type=%s", pv->order_id,
             pv->p.key, pv->p.side, pv->p.qty, pv->p.type);
}

void brOrd_previewFlush(brBridge *b)
{
    if (!b->mod[BR_MOD_ORDERS] || placement_holds_id(b))
        return;
    brOrdPreview *pv = brOrd_mod(b)->previews;
    while (pv) {
        brOrdPreview *n = pv->next;
        if (pv->parked)
            send_preview(b, pv);
        pv = n;
    }
}

static void on_resolved(brBridge *b, void *ctx, const brInstrument *inst, const char *slug, const char *msg,
                        int ib_code)
{
    brOrdPreview *pv = ctx;
    pv->resolving = false;
    if (slug) {
        preview_fail(b, pv, slug, ib_code, msg);
        return;
    }
    pv->p.spec = inst->spec;
    snprintf(pv->p.key, sizeof pv->p.key, "%s", inst->key);
    if (!b->ib_ready) {
        preview_fail(b, pv, "ib_unavailable", 0, "the IB link dropped; retry");
        return;
    }
    pv->parked = true;
    if (!placement_holds_id(b))
        send_preview(b, pv);
}

/* The deadline answered the caller: a preview not sent yet goes; a sent one waits for IB's answer. */
static void on_expire(busRequest *req, void *arg)
{
    brOrdPreview *pv = arg;
    (void)req;
    if (pv->order_id == 0) {
        preview_free(pv->b, pv);
        return;
    }
    busRequest_Release(pv->req);
    pv->req = NULL;
}

void brOrd_onPreview(busRequest *req, void *arg)
{
    brBridge *b = arg;
    brOrdPreview *pv = calloc(1, sizeof *pv);
    if (!pv) {
        busRequest_Fail(req, "internal", "out of memory", 0);
        return;
    }
    if (!brOrd_parsePlace(req, &pv->p)) {
        free(pv);
        return;
    }
    if (!br_requireIb(b, req)) {
        free(pv);
        busRequest_Release(req);
        return;
    }
    brOrders *m = brOrd_mod(b);
    pv->req = req;
    pv->b = b;
    pv->next = m->previews;
    m->previews = pv;
    busRequest_OnExpire(req, on_expire, pv);
    pv->resolving = true;
    br_resolve(b, pv->p.key, on_resolved, pv);
}

void brOrd_previewDropAll(brBridge *b, const char *slug, const char *msg)
{
    brOrders *m = brOrd_mod(b);
    while (m && m->previews)
        preview_fail(b, m->previews, slug, 0, msg);
}
