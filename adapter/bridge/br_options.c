/* br_options.c — the options module: option chains (reqSecDefOptParams, §3.15 of PROTOCOL.md) with a
 * cache per underlying that lasts until the next (UTC) day, ib.rpc.options.chain, and the module table;
 * ib.rpc.options.quotes lives in br_options_quotes.c.
 *
 * A chain lookup resolves the underlying (br_resolve: IB wants its conId), sends one
 * reqSecDefOptParams, collects one class per exchange / trading class until the End, sorts them
 * (st_chains) and stores the chain. Identical lookups meanwhile wait on the same request; a caller
 * that gives up leaves the lookup running so its answer still fills the cache.
 *
 * Ownership: the module owns its lookups (freed when they end) and the cache (freed at fini). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "br_options_int.h"
#include "ibb_log.h"

typedef struct chainWaiter {
    brOptChainFn fn;
    void *ctx;
    struct chainWaiter *next;
} chainWaiter;

typedef struct chainLookup {
    brBridge *b;
    char key[ST_KEY_MAX];
    int64_t req_id;                  /* 0 until reqSecDefOptParams is sent */
    stChain *chain;                  /* being filled */
    chainWaiter *waiters;
    int bad_values;                  /* expirations / strikes IB sent that were not valid (skipped) */
} chainLookup;

static int64_t utc_day(void) { return br_wallNs() / ((int64_t)86400 * 1000000000); }

/* Ends a lookup: forgets it, hands chain (owned by the cache by now) or the error to every waiter. */
static void lookup_finish(chainLookup *l, const stChain *chain, const char *slug, const char *msg, int ib_code)
{
    brBridge *b = l->b;
    if (ibbMap_Get(brOpt_mod(b)->inflight, l->key) == l)
        ibbMap_Del(brOpt_mod(b)->inflight, l->key);
    if (l->req_id)
        br_reqClose(b, l->req_id);
    while (l->waiters) {
        chainWaiter *w = l->waiters;
        l->waiters = w->next;
        w->fn(b, w->ctx, chain, slug, msg, ib_code);
        free(w);
    }
    stChain_Destroy(l->chain);
    free(l);
}

static void on_chain_reply(brBridge *b, int64_t req_id, const ibReply *r, void *ctx)
{
    (void)req_id;
    chainLookup *l = ctx;
    if (r->id == IB_MSG_SEC_DEF_OPT_PARAMS) {
        ibSecDefOptParams p = r->u.sec_def_opt_params; /* the readers advance: a copy */
        stChainClass *k =
            stChain_AddClass(l->chain, p.exchange, p.trading_class, p.multiplier, p.underlying_con_id);
        const char *e;
        double s;
        while (k && ibSecDefOptParams_NextExpiration(&p, &e))
            l->bad_values += stChainClass_AddExpiration(k, e) != IBB_OK;
        while (k && ibSecDefOptParams_NextStrike(&p, &s))
            l->bad_values += stChainClass_AddStrike(k, s) != IBB_OK;
        return;
    }
    if (r->id != IB_MSG_SEC_DEF_OPT_PARAMS_END)
        return;
    if (l->bad_values)
        IBB_WARN("options.chain_bad_values", "key=%s skipped=%d", l->key, l->bad_values);
    stChain *c = l->chain;
    l->chain = NULL;
    stChain_Finish(c);
    if (c->n == 0) {
        stChain_Destroy(c);
        lookup_finish(l, NULL, "unknown_symbol", "IB lists no options for this underlying", 0);
        return;
    }
    brOptMod *m = brOpt_mod(b);
    if (stChains_Put(m->cache, c, utc_day()) != IBB_OK) { /* Put freed c */
        lookup_finish(l, NULL, "internal", "out of memory caching the option chain", 0);
        return;
    }
    IBB_INFO("options.chain", "key=%s classes=%zu", l->key, c->n);
    lookup_finish(l, c, NULL, NULL, 0);
}

static void on_chain_error(brBridge *b, int64_t req_id, const ibError *e, void *ctx)
{
    (void)b;
    (void)req_id;
    char msg[400];
    snprintf(msg, sizeof msg, "IB lists no option chain for this underlying (IB error %" PRId64 ": %s)", e->code,
             e->message);
    lookup_finish(ctx, NULL, e->code == 200 ? "unknown_symbol" : "ib_error", msg, (int)e->code);
}

static void on_chain_lost(brBridge *b, int64_t req_id, void *ctx)
{
    (void)b;
    (void)req_id;
    lookup_finish(ctx, NULL, "ib_unavailable", "the IB link dropped before the option chain arrived", 0);
}

static const brPendingOps chain_ops = {on_chain_reply, on_chain_error, on_chain_lost};

static bool optionable(const char *sec_type)
{
    return strcmp(sec_type, "STK") == 0 || strcmp(sec_type, "IND") == 0 || strcmp(sec_type, "FUT") == 0;
}

static void on_underlying(brBridge *b, void *ctx, const brInstrument *inst, const char *slug, const char *msg,
                          int ib_code)
{
    chainLookup *l = ctx;
    if (!inst) {
        lookup_finish(l, NULL, slug, msg, ib_code);
        return;
    }
    if (!optionable(inst->spec.sec_type)) {
        lookup_finish(l, NULL, "bad_request", "the underlying must be a STK, IND or FUT", 0);
        return;
    }
    int64_t id = stChain_Create(&l->chain, l->key, inst->spec.con_id) == IBB_OK ? br_reqOpen(b, &chain_ops, l) : -1;
    if (id < 0) {
        lookup_finish(l, NULL, "internal", "out of memory", 0);
        return;
    }
    ibRequest rq;
    ibRequest_Init(&rq, IB_REQ_SEC_DEF_OPT_PARAMS);
    rq.u.sec_def_opt_params = (ibReqSecDefOptParams){.req_id = id, .underlying_symbol = inst->spec.symbol,
                                                     .fut_fop_exchange = "",
                                                     .underlying_sec_type = inst->spec.sec_type,
                                                     .underlying_con_id = inst->spec.con_id};
    l->req_id = id;
    if (br_send(b, &rq) != IBB_OK) {
        lookup_finish(l, NULL, "ib_unavailable", "could not send the option chain request to IB", 0);
        return;
    }
    brOpt_mod(b)->chain_requests++;
}

void brOpt_chain(brBridge *b, const char *key, brOptChainFn fn, void *ctx)
{
    brOptMod *m = brOpt_mod(b);
    const stChain *hit = stChains_Get(m->cache, key, utc_day());
    if (hit) {
        fn(b, ctx, hit, NULL, NULL, 0);
        return;
    }
    chainLookup *l = ibbMap_Get(m->inflight, key);
    if (!l && !b->ib_ready) {
        fn(b, ctx, NULL, "ib_unavailable", "the IB link is not ready; retry when ib.evt.conn reports ready", 0);
        return;
    }
    chainWaiter *w = malloc(sizeof *w);
    bool fresh = !l;
    if (w && fresh && (l = calloc(1, sizeof *l)) && ibbMap_Put(m->inflight, key, l) != IBB_OK) {
        free(l);
        l = NULL;
    }
    if (!w || !l) {
        free(w);
        fn(b, ctx, NULL, "internal", "out of memory", 0);
        return;
    }
    *w = (chainWaiter){fn, ctx, l->waiters};
    l->waiters = w; /* identical lookups share one IB request */
    if (!fresh)
        return;
    l->b = b;
    snprintf(l->key, sizeof l->key, "%s", key);
    br_resolve(b, key, on_underlying, l); /* may finish l before it returns */
}

void brOpt_chainCancel(brBridge *b, const char *key, brOptChainFn fn, void *ctx)
{
    chainLookup *l = brOpt_mod(b) ? ibbMap_Get(brOpt_mod(b)->inflight, key) : NULL;
    for (chainWaiter **pw = l ? &l->waiters : NULL; pw && *pw; pw = &(*pw)->next)
        if ((*pw)->fn == fn && (*pw)->ctx == ctx) {
            chainWaiter *w = *pw;
            *pw = w->next;
            free(w);
            return;
        }
}

/* ---- request bodies ------------------------------------------------------------------------------ */

bool brOpt_underlyingKey(busRequest *req, char *key, size_t cap)
{
    const msgpack_object *body = busRequest_Body(req);
    char err[300];
    const char *s;
    size_t n;
    ibbStatus us = busObj_Str(body, "underlying", &s, &n);
    const char *field = us == IBB_OK ? "underlying" : "symbol";
    ibbStatus st;
    if (us == IBB_OK) { /* the same checks as "symbol", under this field's name */
        msgpack_object_kv kv = {.key = {.type = MSGPACK_OBJECT_STR, .via.str = {6, "symbol"}},
                                .val = *busObj_Get(body, "underlying")};
        msgpack_object one = {.type = MSGPACK_OBJECT_MAP, .via.map = {1, &kv}};
        st = br_keyFromBody(&one, key, cap, err, sizeof err);
    } else if (us != IBB_ERR_NOT_FOUND) {
        busRequest_BadField(req, "underlying", us, "string (an instrument key such as \"AAPL\")");
        return false;
    } else {
        st = br_keyFromBody(body, key, cap, err, sizeof err);
    }
    if (st != IBB_OK) {
        if (st == IBB_ERR_NOT_FOUND)
            snprintf(err, sizeof err, "give 'underlying' (or 'symbol'): an instrument key such as \"AAPL\"");
        if (us == IBB_OK && strncmp(err, "field 'symbol'", 14) == 0) /* name the field the caller used */
            busRequest_Errorf(req, "bad_request", 0, "field 'underlying'%s", err + 14);
        else
            busRequest_Error(req, "bad_request", err, 0);
        return false;
    }
    stInstrumentSpec spec;
    if (stInstrument_ParseKey(key, &spec, NULL) == IBB_OK && spec.sec_type[0] && !optionable(spec.sec_type)) {
        busRequest_Errorf(req, "bad_request", 0,
                          "field '%s' names a %s: option chains are listed for STK, IND and FUT underlyings",
                          field, spec.sec_type);
        return false;
    }
    return true;
}

/* ---- ib.rpc.options.chain -------------------------------------------------------------------------- */

typedef struct chainReq {
    busRequest *req;
    brBridge *b;
    char key[ST_KEY_MAX];
    char exchange[ST_FIELD_MAX];     /* "" = every exchange */
} chainReq;

static void pack_class(msgpack_packer *pk, const stChainClass *k)
{
    msgpack_pack_map(pk, 6);
    busPack_KeyStr(pk, "exchange", k->exchange);
    busPack_KeyStr(pk, "trading_class", k->trading_class);
    busPack_KeyStr(pk, "multiplier", k->multiplier);
    busPack_KeyInt(pk, "underlying_con_id", k->underlying_con_id);
    busPack_Str(pk, "expirations");
    msgpack_pack_array(pk, k->n_exp);
    for (size_t i = 0; i < k->n_exp; i++)
        busPack_Str(pk, k->expirations[i]);
    busPack_Str(pk, "strikes");
    msgpack_pack_array(pk, k->n_strikes);
    for (size_t i = 0; i < k->n_strikes; i++)
        msgpack_pack_double(pk, k->strikes[i]);
}

static void answer_chain(busRequest *req, const stChain *c, const char *exchange)
{
    size_t n = 0;
    for (size_t i = 0; i < c->n; i++)
        n += !exchange[0] || strcmp(c->classes[i].exchange, exchange) == 0;
    if (n == 0) {
        busRequest_Errorf(req, "not_found", 0, "field 'exchange': the chain of %s lists no options on %s", c->key,
                          exchange);
        return;
    }
    msgpack_packer *pk = busRequest_Packer(req);
    msgpack_pack_map(pk, 4);
    busPack_KeyStr(pk, "underlying", c->key);
    busPack_KeyInt(pk, "underlying_con_id", c->con_id);
    busPack_KeyInt(pk, "count", (int64_t)n);
    busPack_Str(pk, "chains");
    msgpack_pack_array(pk, n);
    for (size_t i = 0; i < c->n; i++)
        if (!exchange[0] || strcmp(c->classes[i].exchange, exchange) == 0)
            pack_class(pk, &c->classes[i]);
    busRequest_ReplyPacked(req);
}

static void on_chain_for_req(brBridge *b, void *ctx, const stChain *chain, const char *slug, const char *msg,
                             int ib_code)
{
    (void)b;
    chainReq *cr = ctx;
    if (!chain)
        busRequest_Errorf(cr->req, slug, ib_code, "%s: %s", cr->key, msg ? msg : "");
    else
        answer_chain(cr->req, chain, cr->exchange);
    busRequest_Release(cr->req);
    free(cr);
}

static void on_chain_req_expire(busRequest *req, void *arg)
{
    chainReq *cr = arg;
    brOpt_chainCancel(cr->b, cr->key, on_chain_for_req, cr);
    busRequest_Release(req);
    free(cr);
}

static void on_options_chain(busRequest *req, void *arg)
{
    brBridge *b = arg;
    chainReq *cr = calloc(1, sizeof *cr);
    if (!cr) {
        busRequest_Fail(req, "internal", "out of memory", 0);
        return;
    }
    cr->req = req;
    cr->b = b;
    ibbStatus es = busObj_StrCopy(busRequest_Body(req), "exchange", cr->exchange, sizeof cr->exchange);
    if (es != IBB_OK && es != IBB_ERR_NOT_FOUND) {
        busRequest_FailField(req, "exchange", es, "string (e.g. \"SMART\")");
        free(cr);
        return;
    }
    if (!brOpt_underlyingKey(req, cr->key, sizeof cr->key)) {
        busRequest_Release(req);
        free(cr);
        return;
    }
    busRequest_OnExpire(req, on_chain_req_expire, cr);
    brOpt_chain(b, cr->key, on_chain_for_req, cr);
}

/* ---- module ---------------------------------------------------------------------------------------- */

static ibbStatus options_init(brBridge *b)
{
    brOptMod *m = calloc(1, sizeof *m);
    if (!m)
        return IBB_ERR_NOMEM;
    b->mod[BR_MOD_OPTIONS] = m;
    if (stChains_Create(&m->cache) != IBB_OK || ibbMap_Create(&m->inflight) != IBB_OK)
        return IBB_ERR_NOMEM;
    static const struct {
        const char *name, *subject;
        busHandlerFn fn;
    } eps[] = {
        {"options_chain", "options.chain", on_options_chain},
        {"options_quotes", "options.quotes", brOpt_onQuotes},
    };
    for (size_t i = 0; i < sizeof eps / sizeof eps[0]; i++) {
        busEndpointDef d = {.name = eps[i].name, .subject = eps[i].subject, .handler = eps[i].fn, .arg = b};
        ibbStatus s = busService_AddEndpoint(b->svc, &d);
        if (s != IBB_OK)
            return s;
    }
    return IBB_OK;
}

static void options_stop(brBridge *b) { brOpt_quotesStop(b); }

static void options_fini(brBridge *b)
{
    brOptMod *m = brOpt_mod(b);
    if (!m)
        return;
    stChains_Destroy(m->cache);
    ibbMapIter it; /* lookups still in flight (the bridge never ran on_lost): freed without answers */
    void *v;
    ibbMapIter_Init(&it, m->inflight);
    while (ibbMapIter_Next(&it, NULL, NULL, &v)) {
        chainLookup *l = v;
        while (l->waiters) {
            chainWaiter *w = l->waiters;
            l->waiters = w->next;
            free(w);
        }
        stChain_Destroy(l->chain);
        free(l);
    }
    ibbMap_Destroy(m->inflight);
    free(m);
    b->mod[BR_MOD_OPTIONS] = NULL;
}

const brModule br_optionsModule = {
    .name = "options",
    .init = options_init,
    .on_stop = options_stop,
    .fini = options_fini,
};
