/* br_ord_ledger.c — the durable ledger: the one owner of an order's state. Ledger entries (stOrder with
 * their brOrdExt), what the module tells the world about them (the order map of replies,
 * schemas/order_list_reply.json; ib.evt.order.<order_id> events) and each order's idempotency record,
 * written durably through the store. Calls only the store and state/; what the handlers wait for goes
 * up through m->up.
 *
 * Events: every change the ledger reports (status, fill, commission, modification) is published
 * once per process, with a Nats-Msg-Id derived from its content so the stream drops replays across
 * reconnects and restarts. Loop thread. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "br_ord_int.h"
#include "ibb_log.h"

/* ---- ledger entries ---------------------------------------------------------------------------- */

const char *brOrd_apiType(const char *ib_type)
{
    return strcmp(ib_type, "STP LMT") == 0 ? "STP_LMT" : ib_type;
}

bool brOrd_isWarning(int64_t code)
{
    return code == 202 || code == 399 || code == 404 || code == 10148 || code == 10149 ||
           (code >= 2100 && code < 2200) || code == 10167 || code == 10168;
}

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
    KS("order_type", brOrd_apiType(o->order_type));
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

void brOrd_packOrder(msgpack_packer *pk, const stOrder *o, const brOrdExt *x, int extra)
{
    const stInstrumentSpec *spec = x && x->has_spec ? &x->spec : NULL;
    msgpack_pack_map(pk, (size_t)(order_fields(NULL, o, spec) + extra));
    order_fields(pk, o, spec);
}

/* ---- events ------------------------------------------------------------------------------------- */

/* The fill, commission and error maps of an event. */
static void pack_extra(msgpack_packer *pk, const brOrdEvtExtra *e)
{
    if (!e)
        return;
    if (e->fill) {
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
    if (e->comm) {
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
    if (e->message) {
        busPack_Str(pk, "error");
        msgpack_pack_map(pk, e->ib_code ? 2 : 1);
        busPack_KeyStr(pk, "message", e->message);
        if (e->ib_code)
            busPack_KeyInt(pk, "ib_code", e->ib_code);
    }
}

void brOrd_publishEvent(brBridge *b, const stOrder *o, const char *type, const char *event_id,
                        const brOrdEvtExtra *e)
{
    const brOrdExt *x = brOrd_ext(o);
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
    busPack_KeyBool(pk, "reconciled", brOrd_mod(b)->recon_active);
    order_fields(pk, o, spec);
    pack_extra(pk, e);
    IBB_INFO("order.event", "order_id=%" PRId64 " type=%s event_id=%s status=%s filled=%g", o->order_id, type,
             event_id, o->status, o->filled);
    brOrdStore_Publish(brOrd_mod(b)->store, o->order_id, event_id, sb.data, sb.size);
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
    snprintf(r->order_type, sizeof r->order_type, "%s", brOrd_apiType(o->order_type));
    r->limit_price = o->lmt_price;
    r->stop_price = o->aux_price;
    snprintf(r->tif, sizeof r->tif, "%s", o->tif);
    snprintf(r->account, sizeof r->account, "%s", o->account);
    r->updated_ns = br_wallNs();
}

void brOrd_storeFinal(brBridge *b, stOrder *o, const char *state, const char *slug, const char *msg,
                      int ib_code)
{
    brOrdExt *x = brOrd_ext(o);
    if (!o->client_order_id[0] || !brOrdStore_Ready(brOrd_mod(b)->store))
        return;
    if (x && x->recorded_final)
        return; /* the final record is durable; nothing later changes it */
    brOrdRecord r;
    record_from_order(&r, o, state);
    if (slug) {
        snprintf(r.error_code, sizeof r.error_code, "%s", slug);
        snprintf(r.error_message, sizeof r.error_message, "%s", msg ? msg : "");
        r.ib_code = ib_code;
    }
    brOrdStore_Write(brOrd_mod(b)->store, &r); /* final only once durable: brOrd_ledgerWritten */
}

void brOrd_ledgerWritten(brBridge *b, const char *cid, const brOrdRecord *stored)
{
    stOrder *o = stOrders_ByClientId(b->orders, cid);
    if (o && brOrd_ext(o) && stored && brOrdRecord_Rank(stored) >= 4)
        brOrd_ext(o)->recorded_final = true;
}

/* Publishes the ledger's current state of o when it differs from what was published last. */
void brOrd_publishStatus(brBridge *b, stOrder *o, int64_t ib_code, const char *message)
{
    brOrdExt *x = brOrd_ext(o);
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
    brOrders *m = brOrd_mod(b);
    if (m && strcmp(type, "filled") == 0)
        m->final_filled++;
    else if (m && strcmp(type, "cancelled") == 0)
        m->final_cancelled++;
    else if (m && strcmp(type, "rejected") == 0)
        m->final_rejected++;
    char id[160];
    snprintf(id, sizeof id, "%" PRId64 ":status:%s:%.8g:%.8g", o->order_id, s, o->filled, o->remaining);
    brOrdEvtExtra e = {.ib_code = ib_code, .message = message};
    brOrd_publishEvent(b, o, type, id, message ? &e : NULL);
    snprintf(x->pub_status, sizeof x->pub_status, "%s", s);
    x->pub_filled = o->filled;
    x->pub_remaining = o->remaining;
    if (o->terminal && strcmp(s, "Rejected") != 0) { /* a rejection wrote its record with the error */
        const char *state = !strcmp(s, "Unacknowledged") ? "unacknowledged" : !strcmp(s, "Unknown") ? "unknown" : "acked";
        brOrd_storeFinal(b, o, state, NULL, NULL, 0);
    }
    brOrd_mod(b)->up.changed(b, o);
}
