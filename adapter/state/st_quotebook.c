/* st_quotebook.c — tick merging and batching; see st_quotebook.h. */
#include "st_quotebook.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ibb_map.h"

struct stQuoteBook {
    ibbMap *by_key;      /* key -> stQuote* (owned) */
    ibbMap *by_req;      /* req_id -> stQuote* (borrowed from by_key) */
    stQuote **dirty;     /* quotes touched since the last flush */
    size_t ndirty, cap_dirty;
};

ibbStatus stQuoteBook_Create(stQuoteBook **out)
{
    if (!out)
        return IBB_ERR_INVALID_ARG;
    stQuoteBook *qb = calloc(1, sizeof *qb);
    if (!qb || ibbMap_Create(&qb->by_key) != IBB_OK || ibbMap_Create(&qb->by_req) != IBB_OK) {
        stQuoteBook_Destroy(qb);
        return IBB_ERR_NOMEM;
    }
    *out = qb;
    return IBB_OK;
}

void stQuoteBook_Destroy(stQuoteBook *qb)
{
    if (!qb)
        return;
    ibbMapIter it;
    void *v;
    ibbMapIter_Init(&it, qb->by_key);
    while (ibbMapIter_Next(&it, NULL, NULL, &v))
        free(v);
    ibbMap_Destroy(qb->by_key);
    ibbMap_Destroy(qb->by_req);
    free(qb->dirty);
    free(qb);
}

size_t stQuoteBook_Count(const stQuoteBook *qb) { return qb ? ibbMap_Count(qb->by_key) : 0; }

static void reset_prices(stQuote *q)
{
    q->bid = q->ask = q->last = q->bid_size = q->ask_size = q->last_size = NAN;
    q->volume = q->open = q->high = q->low = q->close = NAN;
    q->market_data_type = ST_MD_REALTIME;
    q->last_trade_ts = 0;
    q->halted = -1;
    for (int i = 0; i < ST_GREEKS_SIDES; i++)
        q->greeks[i] = (stGreeks){NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN};
    q->greeks_seen = 0;
}

stQuote *stQuoteBook_Add(stQuoteBook *qb, const char *key, const stInstrumentSpec *spec)
{
    stQuote *q = stQuoteBook_Find(qb, key);
    if (q)
        return q;
    if (strlen(key) >= ST_KEY_MAX || !(q = calloc(1, sizeof *q)))
        return NULL;
    snprintf(q->key, sizeof q->key, "%s", key);
    if (spec)
        q->spec = *spec;
    reset_prices(q);
    if (ibbMap_Put(qb->by_key, q->key, q) != IBB_OK) {
        free(q);
        return NULL;
    }
    return q;
}

stQuote *stQuoteBook_Find(const stQuoteBook *qb, const char *key)
{
    return qb ? ibbMap_Get(qb->by_key, key) : NULL;
}

stQuote *stQuoteBook_FindByReqId(const stQuoteBook *qb, int64_t req_id)
{
    return qb ? ibbMap_GetInt(qb->by_req, req_id) : NULL;
}

static void drop_dirty(stQuoteBook *qb, stQuote *q)
{
    for (size_t i = 0; q->dirty && i < qb->ndirty; i++)
        if (qb->dirty[i] == q) {
            qb->dirty[i] = qb->dirty[--qb->ndirty];
            break;
        }
    q->dirty = false;
}

void stQuoteBook_Remove(stQuoteBook *qb, const char *key)
{
    stQuote *q = stQuoteBook_Find(qb, key);
    if (!q)
        return;
    stQuoteBook_Unbind(qb, q);
    drop_dirty(qb, q);
    ibbMap_Del(qb->by_key, key);
    free(q);
}

ibbStatus stQuoteBook_Bind(stQuoteBook *qb, stQuote *q, int64_t req_id)
{
    stQuoteBook_Unbind(qb, q);
    ibbStatus s = ibbMap_PutInt(qb->by_req, req_id, q);
    if (s == IBB_OK)
        q->req_id = req_id;
    return s;
}

void stQuoteBook_Unbind(stQuoteBook *qb, stQuote *q)
{
    if (q->req_id != 0 && ibbMap_GetInt(qb->by_req, q->req_id) == q)
        ibbMap_DelInt(qb->by_req, q->req_id);
    q->req_id = 0;
}

void stQuoteBook_UnbindAll(stQuoteBook *qb)
{
    ibbMapIter it;
    void *v;
    ibbMapIter_Init(&it, qb->by_key);
    while (ibbMapIter_Next(&it, NULL, NULL, &v))
        ((stQuote *)v)->req_id = 0;
    ibbMap_Destroy(qb->by_req);
    qb->by_req = NULL;
    ibbMap_Create(&qb->by_req); /* on OOM by_req stays NULL: lookups then find nothing */
}

static void mark_dirty(stQuoteBook *qb, stQuote *q, int64_t recv_ts_ns)
{
    if (recv_ts_ns)
        q->recv_ts_ns = recv_ts_ns;
    if (q->dirty)
        return;
    if (qb->ndirty == qb->cap_dirty) {
        size_t cap = qb->cap_dirty ? qb->cap_dirty * 2 : 64;
        stQuote **nd = realloc(qb->dirty, cap * sizeof *nd);
        if (!nd)
            return; /* the change stays in the record; it goes out with the next event */
        qb->dirty = nd;
        qb->cap_dirty = cap;
    }
    qb->dirty[qb->ndirty++] = q;
    q->dirty = true;
}

/* Sets *field to v; true when that changed it. NaN compares unequal, so test both. */
static bool set(double *field, double v)
{
    if (*field == v || (isnan(*field) && isnan(v)))
        return false;
    *field = v;
    return true;
}

static double price_or_nan(double p) { return (p == -1.0 || ib_isUnsetDouble(p)) ? NAN : p; }
static double size_or_nan(double s) { return ib_isUnsetDouble(s) ? NAN : s; }

static bool apply_price(stQuote *q, const ibTickPrice *t)
{
    double p = price_or_nan(t->price), sz = size_or_nan(t->size);
    switch (t->tick_type) {
    case IB_TICK_BID: case IB_TICK_DELAYED_BID:
        return set(&q->bid, p) | (!isnan(sz) && set(&q->bid_size, sz));
    case IB_TICK_ASK: case IB_TICK_DELAYED_ASK:
        return set(&q->ask, p) | (!isnan(sz) && set(&q->ask_size, sz));
    case IB_TICK_LAST: case IB_TICK_DELAYED_LAST:
        return set(&q->last, p) | (!isnan(sz) && set(&q->last_size, sz));
    case IB_TICK_HIGH: case IB_TICK_DELAYED_HIGH: return set(&q->high, p);
    case IB_TICK_LOW: case IB_TICK_DELAYED_LOW: return set(&q->low, p);
    case IB_TICK_CLOSE: case IB_TICK_DELAYED_CLOSE: return set(&q->close, p);
    case IB_TICK_OPEN: case IB_TICK_DELAYED_OPEN: return set(&q->open, p);
    default: return false;
    }
}

static bool apply_size(stQuote *q, const ibTickSize *t)
{
    double sz = size_or_nan(t->size);
    switch (t->tick_type) {
    case IB_TICK_BID_SIZE: case IB_TICK_DELAYED_BID_SIZE: return set(&q->bid_size, sz);
    case IB_TICK_ASK_SIZE: case IB_TICK_DELAYED_ASK_SIZE: return set(&q->ask_size, sz);
    case IB_TICK_LAST_SIZE: case IB_TICK_DELAYED_LAST_SIZE: return set(&q->last_size, sz);
    case IB_TICK_VOLUME: case IB_TICK_DELAYED_VOLUME: return set(&q->volume, sz);
    default: return false;
    }
}

static bool apply_string(stQuote *q, const ibTickString *t)
{
    if (t->tick_type != IB_TICK_LAST_TIMESTAMP && t->tick_type != IB_TICK_DELAYED_LAST_TIMESTAMP)
        return false;
    char *endp;
    long long ts = strtoll(t->value, &endp, 10);
    if (endp == t->value || *endp || ts <= 0 || ts == q->last_trade_ts)
        return false;
    q->last_trade_ts = ts;
    return true;
}

static bool apply_generic(stQuote *q, const ibTickGeneric *t)
{
    if (t->tick_type != IB_TICK_HALTED && t->tick_type != 90 /* DELAYED_HALTED */)
        return false;
    int h = t->value > 0 ? 1 : 0;
    if (h == q->halted)
        return false;
    q->halted = h;
    return true;
}

int stGreeks_Side(int64_t tick_type)
{
    switch (tick_type) {
    case IB_TICK_BID_OPTION: case IB_TICK_DELAYED_BID_OPTION: return ST_GREEKS_BID;
    case IB_TICK_ASK_OPTION: case IB_TICK_DELAYED_ASK_OPTION: return ST_GREEKS_ASK;
    case IB_TICK_LAST_OPTION: case IB_TICK_DELAYED_LAST_OPTION: return ST_GREEKS_LAST;
    case IB_TICK_MODEL_OPTION: case IB_TICK_DELAYED_MODEL_OPTION: return ST_GREEKS_MODEL;
    default: return -1;
    }
}

const char *stGreeksSide_Name(int side)
{
    static const char *const names[ST_GREEKS_SIDES] = {"bid", "ask", "last", "model"};
    return side >= 0 && side < ST_GREEKS_SIDES ? names[side] : "";
}

/* v, or NAN when IB left it unset (its sentinel is `unset`, 0 = none). */
static double greek_or_nan(double v, double unset)
{
    return (ib_isUnsetDouble(v) || !isfinite(v) || (unset != 0 && v == unset)) ? NAN : v;
}

void stGreeks_FromTick(stGreeks *g, const ibTickOptionComputation *t)
{
    g->implied_vol = t->implied_vol < 0 ? NAN : greek_or_nan(t->implied_vol, 0);
    g->delta = greek_or_nan(t->delta, -2);
    g->gamma = greek_or_nan(t->gamma, -2);
    g->vega = greek_or_nan(t->vega, -2);
    g->theta = greek_or_nan(t->theta, -2);
    g->opt_price = greek_or_nan(t->opt_price, -1);
    g->und_price = greek_or_nan(t->und_price, -1);
    g->pv_dividend = greek_or_nan(t->pv_dividend, -1);
}

static bool apply_option(stQuote *q, const ibTickOptionComputation *t)
{
    int side = stGreeks_Side(t->tick_type);
    if (side < 0)
        return false;
    stGreeks g;
    stGreeks_FromTick(&g, t);
    stGreeks *cur = &q->greeks[side];
    bool changed = !(q->greeks_seen & (1u << side));
    changed |= set(&cur->implied_vol, g.implied_vol) | set(&cur->delta, g.delta) | set(&cur->gamma, g.gamma) |
               set(&cur->vega, g.vega) | set(&cur->theta, g.theta) | set(&cur->opt_price, g.opt_price) |
               set(&cur->und_price, g.und_price) | set(&cur->pv_dividend, g.pv_dividend);
    q->greeks_seen |= (uint8_t)(1u << side);
    return changed;
}

stQuote *stQuoteBook_Apply(stQuoteBook *qb, const ibReply *r, int64_t recv_ts_ns)
{
    int64_t id = ibReply_IsMarketData(r) ? ibReply_ReqId(r) : 0;
    stQuote *q = id ? stQuoteBook_FindByReqId(qb, id) : NULL;
    if (!q)
        return NULL;
    bool changed = false;
    switch (r->id) {
    case IB_MSG_TICK_PRICE: changed = apply_price(q, &r->u.tick_price); break;
    case IB_MSG_TICK_SIZE: changed = apply_size(q, &r->u.tick_size); break;
    case IB_MSG_TICK_STRING: changed = apply_string(q, &r->u.tick_string); break;
    case IB_MSG_TICK_GENERIC: changed = apply_generic(q, &r->u.tick_generic); break;
    case IB_MSG_TICK_OPTION_COMPUTATION: changed = apply_option(q, &r->u.option_computation); break;
    case IB_MSG_MARKET_DATA_TYPE: {
        int t = (int)r->u.market_data_type.market_data_type;
        changed = t >= 1 && t <= 4 && t != q->market_data_type;
        if (changed)
            q->market_data_type = t;
        break;
    }
    default: break;
    }
    if (!changed)
        return NULL;
    mark_dirty(qb, q, recv_ts_ns);
    return q;
}

void stQuote_SetStatus(stQuoteBook *qb, stQuote *q, int64_t ib_code, const char *message)
{
    q->status_ib_code = ib_code;
    snprintf(q->status_msg, sizeof q->status_msg, "%s", ib_code && message ? message : "");
    mark_dirty(qb, q, 0);
}

size_t stQuoteBook_Flush(stQuoteBook *qb, stQuoteFlushFn fn, void *ud)
{
    size_t n = qb->ndirty;
    for (size_t i = 0; i < n; i++) {
        stQuote *q = qb->dirty[i];
        q->dirty = false;
        q->seq++;
        if (fn)
            fn(ud, q);
    }
    qb->ndirty = 0;
    return n;
}

const char *stMarketDataType_Name(int type)
{
    switch (type) {
    case ST_MD_FROZEN: return "frozen";
    case ST_MD_DELAYED: return "delayed";
    case ST_MD_DELAYED_FROZEN: return "delayed_frozen";
    default: return "realtime";
    }
}
