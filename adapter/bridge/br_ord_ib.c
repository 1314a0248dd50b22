/* br_ord_ib.c — IB's side of the orders module: openOrder, orderStatus, execDetails and
 * commissionReport update the ledger (b->orders) and publish ib.evt.order.<id>; errors carrying an
 * order id update the ledger and tell the handlers (m->up) of the placement, cancel or modification
 * they concern; reqAllOpenOrders rounds serve ib.rpc.order.list and reconciliation. Open orders of other client ids are kept apart (m->foreign,
 * for the list only). Loop thread. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "br_ord_int.h"
#include "ibb_log.h"

static void digits_of(const char *s, char *out, size_t cap)
{
    size_t n = 0;
    for (; s && *s && n + 1 < cap && n < 14; s++)
        if (*s >= '0' && *s <= '9')
            out[n++] = *s;
    out[n] = '\0';
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


bool brOrd_requestOpenOrders(brBridge *b, bool for_recon)
{
    brOrders *m = brOrd_mod(b);
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

static bool ours(const brBridge *b, int64_t client_id)
{
    return client_id == 0 || client_id == coreSession_ClientId(b->ib);
}

/* Another client id's open order: kept for ib.rpc.order.list only. */
static void track_foreign(brOrders *m, const ibOpenOrder *oo, const char *key)
{
    char k[48];
    snprintf(k, sizeof k, "%" PRId64 ":%" PRId64, oo->client_id, oo->order.order_id);
    brOrdForeign *fo = ibbMap_Get(m->foreign, k);
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
}

/* The ledger's order under IB's order id, unless IB's orderRef names another client_order_id. IB holds
 * one order per id and client id, so IB holding another order under the id of one of ours that it never
 * acknowledged proves ours never reached IB (an HA takeover: the old active wrote it into a socket IB had
 * already dropped, and the new one was handed the same id by nextValidId). Ours ends Unacknowledged — not
 * placed, a new key is safe — under the negative id, and IB's order is adopted under its own. */
static stOrder *by_id_and_ref(brBridge *b, int64_t order_id, const char *ref)
{
    stOrder *o = stOrders_ById(b->orders, order_id);
    if (!o || !ref || !*ref || !o->client_order_id[0] || !strcmp(o->client_order_id, ref) || o->acked)
        return o;
    IBB_WARN("order.id_taken", "order_id=%" PRId64 " client_order_id=%s ib_order_ref=%s "
             "note=\"IB holds another order under this id: ours never reached IB\"",
             order_id, o->client_order_id, ref);
    if (stOrders_Rekey(b->orders, o, -order_id) != IBB_OK)
        return NULL; /* the id stays ours in the ledger: IB's message is dropped rather than misfiled */
    if (!o->terminal && stOrders_Finish(b->orders, o, "Unacknowledged", br_nowMs(b))) {
        const char *why = "IB holds another order under the id this order was sent with: it never reached IB";
        brOrd_publishStatus(b, o, 0, why);
        brOrd_storeFinal(b, o, "unacknowledged", NULL, NULL, 0);
        brOrd_mod(b)->up.answer(b, o, why);
    }
    return NULL;
}

static void on_open_order(brBridge *b, const ibOpenOrder *oo)
{
    brOrders *m = brOrd_mod(b);
    stInstrumentSpec spec;
    char key[ST_KEY_MAX];
    key_of_contract(&oo->contract, &spec, key, sizeof key);
    if (!ours(b, oo->client_id)) {
        track_foreign(m, oo, key);
        return;
    }
    stOrder *o = by_id_and_ref(b, oo->order.order_id, oo->order.order_ref);
    bool was_acked = o && o->acked;
    double oq = o ? o->qty : 0, ol = o ? o->lmt_price : 0, oa = o ? o->aux_price : 0;
    bool created = false;
    o = stOrders_ApplyOpenOrder(b->orders, oo, key, br_nowMs(b), &created);
    if (!o || !brOrd_ensureExt(b, o))
        return;
    brOrdExt *x = brOrd_ext(o);
    x->spec = spec;
    x->has_spec = true;
    x->outside_rth = oo->order.outside_rth;
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
        brOrd_publishEvent(b, o, "modified", id, NULL);
        brOrd_storeFinal(b, o, "acked", NULL, NULL, 0); /* the record keeps the terms IB now holds */
    }
    /* status events come from orderStatus (which follows every openOrder with filled/remaining) */
    m->up.changed(b, o);   /* a modification IB now holds */
    m->up.answer(b, o, NULL);
}

static void on_order_status(brBridge *b, const ibOrderStatus *st)
{
    brOrders *m = brOrd_mod(b);
    if (!ours(b, st->client_id)) {
        char k[48];
        snprintf(k, sizeof k, "%" PRId64 ":%" PRId64, st->client_id, st->order_id);
        brOrdForeign *fo = ibbMap_Get(m->foreign, k);
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
    if (!o || !brOrd_ensureExt(b, o))
        return;
    if (m->recon_active)
        brOrd_ext(o)->seen_gen = m->recon_gen;
    brOrd_publishStatus(b, o, 0, NULL);
    m->up.answer(b, o, NULL);
}

/* An execution of an order the ledger does not know: filled (and gone from the open orders) before
 * we saw it. Adopts it by orderRef; NULL when the ledger refuses it. */
static stOrder *adopt_exec(brBridge *b, const ibExecDetails *e)
{
    brOrders *m = brOrd_mod(b);
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
        if (!strcmp(m->orphans[i].client_order_id, t.client_order_id) && t.client_order_id[0])
            brOrd_termsFromRecord(&t, &m->orphans[i]);
    stOrder *o = NULL;
    if (stOrders_Add(b->orders, &t, br_nowMs(b), &o) != IBB_OK || !brOrd_ensureExt(b, o))
        return NULL;
    o->acked = true;
    brOrd_ext(o)->spec = spec;
    brOrd_ext(o)->has_spec = true;
    IBB_INFO("order.adopted", "order_id=%" PRId64 " client_order_id=%s from=execution", o->order_id,
             o->client_order_id);
    return o;
}

static void on_exec(brBridge *b, const ibExecDetails *e)
{
    brOrders *m = brOrd_mod(b);
    if (!ours(b, e->client_id))
        return;
    char d[24];
    digits_of(e->time, d, sizeof d);
    if (strcmp(d, m->last_exec_time) > 0)
        snprintf(m->last_exec_time, sizeof m->last_exec_time, "%s", d);
    stOrder *o = by_id_and_ref(b, e->order_id, e->order_ref);
    if (!o && !(o = adopt_exec(b, e)))
        return;
    brOrdExt *x = brOrd_ensureExt(b, o);
    if (!x)
        return;
    if (e->cum_qty > x->exec_cum)
        x->exec_cum = e->cum_qty;
    if (!stOrders_NewExec(b->orders, e->exec_id))
        return;
    ibbMap_Put(m->exec_order, e->exec_id, (void *)(intptr_t)o->order_id);
    char id[160];
    snprintf(id, sizeof id, "fill:%s", e->exec_id);
    brOrdEvtExtra ex = {.fill = e};
    brOrd_publishEvent(b, o, "fill", id, &ex);
}

static void on_commission(brBridge *b, const ibCommissionReport *c)
{
    brOrders *m = brOrd_mod(b);
    if (!c->exec_id || !ibbMap_Get(m->exec_order, c->exec_id))
        return; /* not one of our executions */
    int64_t order_id = (int64_t)(intptr_t)ibbMap_Get(m->exec_order, c->exec_id);
    stOrder *o = stOrders_ById(b->orders, order_id);
    if (!o || !stOrders_NewCommission(b->orders, c->exec_id))
        return;
    char id[160];
    snprintf(id, sizeof id, "comm:%s", c->exec_id);
    brOrdEvtExtra ex = {.comm = c};
    brOrd_publishEvent(b, o, "commission", id, &ex);
}

bool brOrd_onReply(brBridge *b, const ibReply *r)
{
    brOrders *m = brOrd_mod(b);
    if (!m)
        return false;
    switch (r->id) {
    case IB_MSG_OPEN_ORDER: on_open_order(b, &r->u.open_order); return true;
    case IB_MSG_ORDER_STATUS: on_order_status(b, &r->u.order_status); return true;
    case IB_MSG_EXEC_DETAILS:
        if (r->u.exec_details.req_id != -1 && r->u.exec_details.req_id != m->exec_req)
            return false;
        on_exec(b, &r->u.exec_details);
        return true;
    case IB_MSG_COMMISSION_REPORT: on_commission(b, &r->u.commission); return true;
    default: return false;
    }
}

bool brOrd_onOrderError(brBridge *b, const ibError *e)
{
    stOrder *o = stOrders_ById(b->orders, e->id);
    if (!o)
        return false;
    brOrdExt *x = brOrd_ensureExt(b, o);
    if (!x)
        return true;
    IBB_INFO("order.ib_error", "order_id=%" PRId64 " code=%" PRId64 " text=\"%s\"", o->order_id, e->code,
             e->message);
    if (brOrd_isWarning(e->code))
        return true;
    char msg[400];
    snprintf(msg, sizeof msg, "IB error %" PRId64 ": %s", e->code, e->message);
    if (x->pl) { /* the placement: IB refused it; every waiter, and any later repeat, gets IB's error */
        const char *slug = e->code == 200 ? "unknown_symbol" : "order_rejected";
        stOrders_Finish(b->orders, o, "Rejected", br_nowMs(b));
        snprintf(x->rej_slug, sizeof x->rej_slug, "%s", slug);
        snprintf(x->rej_msg, sizeof x->rej_msg, "%s", msg);
        x->rej_code = (int)e->code;
        brOrd_storeFinal(b, o, "rejected", slug, msg, (int)e->code);
        brOrd_publishStatus(b, o, e->code, msg);
        brOrd_mod(b)->up.refused(b, o, slug, msg, (int)e->code);
        return true;
    }
    if (brOrd_mod(b)->up.amend_error(b, o, e))
        return true;
    if (!o->acked && !o->terminal) {
        stOrders_Finish(b->orders, o, "Rejected", br_nowMs(b));
        brOrd_storeFinal(b, o, "rejected", "order_rejected", msg, (int)e->code);
        brOrd_publishStatus(b, o, e->code, msg);
    }
    return true;
}
