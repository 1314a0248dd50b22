/* st_orders.c — order ledger; see st_orders.h. */
#include "st_orders.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ibb_map.h"

struct stOrders {
    ibbMap *by_id;       /* order_id -> stOrder* (owned) */
    ibbMap *by_client;   /* client_order_id -> stOrder* */
    ibbMap *execs;       /* exec_id -> (void*)1 */
    ibbMap *comms;       /* exec_id -> (void*)1 */
};

ibbStatus stOrders_Create(stOrders **out)
{
    if (!out)
        return IBB_ERR_INVALID_ARG;
    stOrders *ol = calloc(1, sizeof *ol);
    if (!ol || ibbMap_Create(&ol->by_id) || ibbMap_Create(&ol->by_client) || ibbMap_Create(&ol->execs) ||
        ibbMap_Create(&ol->comms)) {
        stOrders_Destroy(ol);
        return IBB_ERR_NOMEM;
    }
    *out = ol;
    return IBB_OK;
}

void stOrders_Destroy(stOrders *ol)
{
    if (!ol)
        return;
    ibbMapIter it;
    void *v;
    ibbMapIter_Init(&it, ol->by_id);
    while (ibbMapIter_Next(&it, NULL, NULL, &v))
        free(v);
    ibbMap_Destroy(ol->by_id);
    ibbMap_Destroy(ol->by_client);
    ibbMap_Destroy(ol->execs);
    ibbMap_Destroy(ol->comms);
    free(ol);
}

size_t stOrders_Count(const stOrders *ol) { return ibbMap_Count(ol->by_id); }
stOrder *stOrders_ById(const stOrders *ol, int64_t id) { return ibbMap_GetInt(ol->by_id, id); }

stOrder *stOrders_ByClientId(const stOrders *ol, const char *cid)
{
    return (cid && *cid) ? ibbMap_Get(ol->by_client, cid) : NULL;
}

bool stOrderStatus_IsTerminal(const char *s)
{
    return strcmp(s, "Filled") == 0 || strcmp(s, "Cancelled") == 0 || strcmp(s, "ApiCancelled") == 0 ||
           strcmp(s, "Inactive") == 0 || strcmp(s, "Rejected") == 0 || strcmp(s, "Unacknowledged") == 0 ||
           strcmp(s, "Unknown") == 0;
}

static ibbStatus insert(stOrders *ol, stOrder *o)
{
    if (ibbMap_PutInt(ol->by_id, o->order_id, o) != IBB_OK)
        return IBB_ERR_NOMEM;
    if (o->client_order_id[0] && ibbMap_Put(ol->by_client, o->client_order_id, o) != IBB_OK) {
        ibbMap_DelInt(ol->by_id, o->order_id);
        return IBB_ERR_NOMEM;
    }
    return IBB_OK;
}

ibbStatus stOrders_Rekey(stOrders *ol, stOrder *o, int64_t new_id)
{
    if (!o || stOrders_ById(ol, new_id) || stOrders_ById(ol, o->order_id) != o)
        return IBB_ERR_INVALID_ARG;
    if (ibbMap_PutInt(ol->by_id, new_id, o) != IBB_OK)
        return IBB_ERR_NOMEM;
    ibbMap_DelInt(ol->by_id, o->order_id);
    o->order_id = new_id;
    return IBB_OK;
}

ibbStatus stOrders_Add(stOrders *ol, const stOrder *tmpl, int64_t now_ms, stOrder **out)
{
    if (!tmpl || stOrders_ById(ol, tmpl->order_id) || stOrders_ByClientId(ol, tmpl->client_order_id))
        return IBB_ERR_INVALID_ARG;
    stOrder *o = malloc(sizeof *o);
    if (!o)
        return IBB_ERR_NOMEM;
    *o = *tmpl;
    o->status[0] = '\0';
    o->acked = o->terminal = false;
    o->filled = o->avg_fill_price = o->last_fill_price = 0;
    o->remaining = o->qty;
    o->created_ms = o->updated_ms = now_ms;
    if (insert(ol, o) != IBB_OK) {
        free(o);
        return IBB_ERR_NOMEM;
    }
    if (out)
        *out = o;
    return IBB_OK;
}

static void copy(char *dst, size_t cap, const char *src) { snprintf(dst, cap, "%s", src ? src : ""); }

stOrder *stOrders_ApplyOpenOrder(stOrders *ol, const ibOpenOrder *oo, const char *key, int64_t now_ms,
                                 bool *created)
{
    const ibOrder *io = &oo->order;
    stOrder *o = stOrders_ById(ol, io->order_id);
    if (created)
        *created = false;
    if (!o) {
        /* placed before a restart or by another client: adopt it, keyed by its orderRef */
        stOrder t = {.order_id = io->order_id};
        const char *ref = io->order_ref ? io->order_ref : "";
        if (strlen(ref) <= ST_CLIENT_ORDER_ID_MAX && !stOrders_ByClientId(ol, ref))
            copy(t.client_order_id, sizeof t.client_order_id, ref);
        if (stOrders_Add(ol, &t, now_ms, &o) != IBB_OK)
            return NULL;
        if (created)
            *created = true;
    }
    copy(o->key, sizeof o->key, key);
    copy(o->action, sizeof o->action, io->action);
    copy(o->order_type, sizeof o->order_type, io->order_type);
    copy(o->tif, sizeof o->tif, io->tif);
    copy(o->account, sizeof o->account, io->account);
    o->qty = io->total_qty;
    o->lmt_price = io->lmt_price;
    o->aux_price = io->aux_price;
    if (oo->perm_id)
        o->perm_id = oo->perm_id;
    if (!o->acked || !o->terminal) /* a replayed openOrder never resurrects a finished order */
        copy(o->status, sizeof o->status, oo->status);
    o->acked = true;
    o->terminal = stOrderStatus_IsTerminal(o->status);
    o->updated_ms = now_ms;
    return o;
}

bool stOrders_ApplyStatus(stOrders *ol, const ibOrderStatus *st, int64_t now_ms, stOrder **out)
{
    stOrder *o = stOrders_ById(ol, st->order_id);
    if (out)
        *out = o;
    if (!o)
        return false;
    bool changed = strcmp(o->status, st->status ? st->status : "") != 0 || o->filled != st->filled ||
                   o->remaining != st->remaining;
    if (o->terminal && !changed)
        return false;
    if (o->terminal && st->filled < o->filled)
        return false; /* stale replay of an earlier state */
    copy(o->status, sizeof o->status, st->status);
    o->filled = st->filled;
    o->remaining = st->remaining;
    o->avg_fill_price = st->avg_fill_price;
    o->last_fill_price = st->last_fill_price;
    if (st->perm_id)
        o->perm_id = st->perm_id;
    o->acked = true;
    o->terminal = stOrderStatus_IsTerminal(o->status);
    o->updated_ms = now_ms;
    return changed;
}

bool stOrders_Finish(stOrders *ol, stOrder *o, const char *status, int64_t now_ms)
{
    (void)ol;
    if (o->terminal && strcmp(o->status, status) == 0)
        return false;
    copy(o->status, sizeof o->status, status);
    o->terminal = true;
    o->updated_ms = now_ms;
    return true;
}

static bool first_time(ibbMap *set, const char *id)
{
    if (!id || !*id || ibbMap_Get(set, id))
        return false;
    return ibbMap_Put(set, id, (void *)1) == IBB_OK;
}

bool stOrders_NewExec(stOrders *ol, const char *exec_id) { return first_time(ol->execs, exec_id); }
bool stOrders_NewCommission(stOrders *ol, const char *exec_id) { return first_time(ol->comms, exec_id); }

void stOrders_ForEachOpen(stOrders *ol, void (*fn)(void *ud, stOrder *o), void *ud)
{
    ibbMapIter it;
    void *v;
    ibbMapIter_Init(&it, ol->by_id);
    while (ibbMapIter_Next(&it, NULL, NULL, &v))
        if (!((stOrder *)v)->terminal)
            fn(ud, v);
}
