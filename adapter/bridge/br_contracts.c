/* br_contracts.c — instrument resolution (key -> one IB contract, cached) and ib.rpc.contract.
 *
 * A key becomes a reqContractDetails; the contractData replies are collected until
 * contractDataEnd. Resolution needs exactly one match (an ambiguous key is an error naming the
 * matches' keys); ib.rpc.contract returns every match. Resolved instruments are cached for the
 * life of the process: conIds do not change. Concurrent resolutions of one key share one request. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "br_internal.h"
#include "ibb_log.h"

#define MAX_MATCHES 64

typedef struct waiter {
    brResolveFn fn;
    void *ctx;
    struct waiter *next;
} waiter;

typedef struct lookup lookup;

typedef struct reqnode {         /* an ib.rpc.contract request waiting for a lookup */
    busRequest *req;
    struct reqnode *next;
    brBridge *b;
    lookup *l;                   /* for the deadline (on_contract_expire) */
} reqnode;

struct lookup {                  /* one reqContractDetails in flight */
    char key[ST_KEY_MAX];
    int64_t req_id;              /* 0 until sent */
    bool for_resolve;            /* a resolution (cache + waiters) or ib.rpc.contract requests */
    reqnode *reqs;               /* ib.rpc.contract: the requests to answer (identical ones share) */
    waiter *waiters;
    brInstrument *matches[MAX_MATCHES];
    int nmatches, ntotal;
};

typedef struct contracts {
    ibbMap *cache;               /* key -> brInstrument* */
    ibbMap *resolving;           /* key -> lookup* (resolutions in flight) */
    ibbMap *querying;            /* key -> lookup* (ib.rpc.contract lookups in flight) */
} contracts;

static contracts *mod(const brBridge *b) { return b->mod[BR_MOD_CONTRACTS]; }

static void free_instrument(brInstrument *i)
{
    if (!i)
        return;
    free(i->trading_hours);
    free(i->liquid_hours);
    free(i->order_types);
    free(i->valid_exchanges);
    free(i);
}

static char *dup_or_empty(const char *s) { return strdup(s ? s : ""); }

static brInstrument *instrument_from(const ibContractData *cd)
{
    brInstrument *i = calloc(1, sizeof *i);
    if (!i)
        return NULL;
    stInstrument_FromContract(&i->spec, &cd->contract);
    /* The canonical key: a US stock on SMART in USD keeps its short form. */
    stInstrumentSpec keyspec = i->spec;
    if (strcmp(keyspec.sec_type, "STK") == 0 && keyspec.exchange[0] == '\0')
        snprintf(keyspec.exchange, sizeof keyspec.exchange, "SMART");
    stInstrument_FormatKey(&keyspec, i->key, sizeof i->key);
    i->min_tick = cd->min_tick;
    snprintf(i->long_name, sizeof i->long_name, "%s", cd->long_name ? cd->long_name : "");
    snprintf(i->time_zone, sizeof i->time_zone, "%s", cd->time_zone_id ? cd->time_zone_id : "");
    i->trading_hours = dup_or_empty(cd->trading_hours);
    i->liquid_hours = dup_or_empty(cd->liquid_hours);
    i->order_types = dup_or_empty(cd->order_types);
    i->valid_exchanges = dup_or_empty(cd->valid_exchanges);
    if (!i->trading_hours || !i->liquid_hours || !i->order_types || !i->valid_exchanges) {
        free_instrument(i);
        return NULL;
    }
    return i;
}

/* ---- request bodies ------------------------------------------------------------------------------ */

static void copy_field(const msgpack_object *m, const char *k, char *dst, size_t cap)
{
    const char *s;
    size_t n;
    if (busObj_Str(m, k, &s, &n) == IBB_OK)
        snprintf(dst, cap, "%.*s", (int)n, s);
}

/* A contract map (schemas/contract.json) into a spec; `full` also reads the fields a key does not carry. */
void br_specFromMap(const msgpack_object *c, stInstrumentSpec *spec, bool full)
{
    memset(spec, 0, sizeof *spec);
    int64_t con_id = 0;
    busObj_Int(c, "con_id", &con_id);
    spec->con_id = con_id > 0 ? con_id : 0;
    copy_field(c, "symbol", spec->symbol, sizeof spec->symbol);
    copy_field(c, "sec_type", spec->sec_type, sizeof spec->sec_type);
    copy_field(c, "exchange", spec->exchange, sizeof spec->exchange);
    copy_field(c, "currency", spec->currency, sizeof spec->currency);
    copy_field(c, "last_trade_date", spec->expiry, sizeof spec->expiry);
    copy_field(c, "expiry", spec->expiry, sizeof spec->expiry);
    copy_field(c, "right", spec->right, sizeof spec->right);
    copy_field(c, "multiplier", spec->multiplier, sizeof spec->multiplier);
    busObj_Double(c, "strike", &spec->strike);
    if (full) {
        copy_field(c, "primary_exchange", spec->primary_exchange, sizeof spec->primary_exchange);
        copy_field(c, "local_symbol", spec->local_symbol, sizeof spec->local_symbol);
        copy_field(c, "trading_class", spec->trading_class, sizeof spec->trading_class);
    }
}

ibbStatus br_keyFromBody(const msgpack_object *body, char *key, size_t cap, char *err, size_t errcap)
{
    const char *s;
    size_t n;
    const char *field = busObj_Str(body, "symbol", &s, &n) == IBB_OK ? "symbol"
                        : busObj_Str(body, "key", &s, &n) == IBB_OK ? "key" : NULL;
    if (field) {
        char tmp[ST_KEY_MAX];
        stInstrumentSpec spec;
        const char *why = NULL;
        if (n == 0 || n >= sizeof tmp || memchr(s, '\0', n)) {
            snprintf(err, errcap, "field '%s' must be an instrument key of 1 to %d characters", field,
                     ST_KEY_MAX - 1);
            return IBB_ERR_INVALID_ARG;
        }
        memcpy(tmp, s, n);
        tmp[n] = '\0';
        if (stInstrument_ParseKey(tmp, &spec, &why) != IBB_OK) {
            snprintf(err, errcap,
                     "field '%s' is not a valid instrument key (%s): use AAPL for a US stock, or "
                     "SECTYPE:SYMBOL:EXCHANGE:CURRENCY[:EXPIRY]",
                     field, why);
            return IBB_ERR_INVALID_ARG;
        }
        return stInstrument_FormatKey(&spec, key, cap);
    }
    const msgpack_object *c;
    if (busObj_Map(body, "contract", &c) != IBB_OK) {
        snprintf(err, errcap, "give 'symbol' (an instrument key such as \"AAPL\") or a 'contract' object");
        return IBB_ERR_NOT_FOUND;
    }
    stInstrumentSpec spec;
    br_specFromMap(c, &spec, false);
    if (spec.symbol[0] == '\0' && spec.con_id == 0) {
        snprintf(err, errcap, "'contract' needs 'symbol' (with sec_type, exchange, currency) or 'con_id'");
        return IBB_ERR_INVALID_ARG;
    }
    if (spec.symbol[0]) {
        if (!spec.sec_type[0])
            snprintf(spec.sec_type, sizeof spec.sec_type, "STK");
        if (!spec.exchange[0])
            snprintf(spec.exchange, sizeof spec.exchange, "SMART");
        if (!spec.currency[0])
            snprintf(spec.currency, sizeof spec.currency, "USD");
        spec.con_id = 0; /* the key names the instrument; a conId alone uses the @ form */
    }
    char text[ST_KEY_MAX];
    stInstrumentSpec check;
    if (stInstrument_FormatKey(&spec, text, sizeof text) != IBB_OK ||
        stInstrument_ParseKey(text, &check, NULL) != IBB_OK) {
        snprintf(err, errcap,
                 "'contract' does not describe a valid instrument (check sec_type, currency, right)");
        return IBB_ERR_INVALID_ARG;
    }
    snprintf(key, cap, "%s", text);
    return IBB_OK;
}

void br_packContract(msgpack_packer *pk, const stInstrumentSpec *s)
{
    bool deriv = s->expiry[0] || s->right[0];
    msgpack_pack_map(pk, deriv ? 12 : 8);
    busPack_KeyInt(pk, "con_id", s->con_id);
    busPack_KeyStr(pk, "symbol", s->symbol);
    busPack_KeyStr(pk, "sec_type", s->sec_type);
    busPack_KeyStr(pk, "exchange", s->exchange);
    busPack_KeyStr(pk, "primary_exchange", s->primary_exchange);
    busPack_KeyStr(pk, "currency", s->currency);
    busPack_KeyStr(pk, "local_symbol", s->local_symbol);
    busPack_KeyStr(pk, "trading_class", s->trading_class);
    if (deriv) {
        busPack_KeyStr(pk, "last_trade_date", s->expiry);
        busPack_KeyStr(pk, "multiplier", s->multiplier);
        busPack_KeyDouble(pk, "strike", s->strike);
        busPack_KeyStr(pk, "right", s->right);
    }
}

void br_packKeyContract(msgpack_packer *pk, const ibContract *c, const char *key)
{
    stInstrumentSpec spec;
    stInstrument_FromContract(&spec, c);
    if (!spec.exchange[0] && !strcmp(spec.sec_type, "STK"))
        snprintf(spec.exchange, sizeof spec.exchange, "SMART"); /* a stock routes SMART unless told */
    char k[ST_KEY_MAX];
    if (!key || !*key) {
        if (stInstrument_FormatKey(&spec, k, sizeof k) != IBB_OK)
            snprintf(k, sizeof k, "@%lld", (long long)spec.con_id);
        key = k;
    }
    busPack_KeyStr(pk, "key", key);
    busPack_Str(pk, "contract");
    br_packContract(pk, &spec);
}

/* The 8 fields of schemas/contract_reply.json's contract details (no map header). */
static void pack_detail_fields(msgpack_packer *pk, const brInstrument *i)
{
    busPack_KeyStr(pk, "key", i->key);
    busPack_Str(pk, "contract");
    br_packContract(pk, &i->spec);
    busPack_KeyStr(pk, "long_name", i->long_name);
    busPack_KeyDouble(pk, "min_tick", i->min_tick);
    busPack_KeyStr(pk, "time_zone", i->time_zone);
    busPack_KeyStr(pk, "trading_hours", i->trading_hours);
    busPack_KeyStr(pk, "liquid_hours", i->liquid_hours);
    busPack_KeyStr(pk, "valid_exchanges", i->valid_exchanges);
}

static void pack_details(msgpack_packer *pk, const brInstrument *i)
{
    msgpack_pack_map(pk, 8);
    pack_detail_fields(pk, i);
}

void br_contractPack(msgpack_packer *pk, const char *lookup_key, const brInstrument *i)
{
    msgpack_pack_map(pk, 10);
    busPack_KeyStr(pk, "lookup_key", lookup_key);
    busPack_KeyStr(pk, "order_types", i->order_types);
    pack_detail_fields(pk, i);
}

/* ---- lookups ------------------------------------------------------------------------------------- */

static void free_lookup(lookup *l)
{
    for (int i = 0; i < l->nmatches; i++)
        free_instrument(l->matches[i]);
    while (l->waiters) {
        waiter *w = l->waiters;
        l->waiters = w->next;
        free(w);
    }
    while (l->reqs) {
        reqnode *r = l->reqs;
        l->reqs = r->next;
        free(r);
    }
    free(l);
}

/* Hands the outcome to every waiter of a resolution (each waiter once). */
static void finish_resolve(brBridge *b, lookup *l, const brInstrument *inst, const char *slug,
                           const char *msg, int ib_code)
{
    ibbMap_Del(mod(b)->resolving, l->key);
    while (l->waiters) {
        waiter *w = l->waiters;
        l->waiters = w->next;
        w->fn(b, w->ctx, inst, slug, msg, ib_code);
        free(w);
    }
}

static void reply_contracts(busRequest *req, brInstrument *const *matches, int n)
{
    msgpack_packer *pk = busRequest_Packer(req);
    msgpack_pack_map(pk, 2);
    busPack_KeyInt(pk, "count", n);
    busPack_Str(pk, "contracts");
    msgpack_pack_array(pk, (size_t)n);
    for (int i = 0; i < n; i++)
        pack_details(pk, matches[i]);
    busRequest_ReplyPacked(req);
}

/* Answers every ib.rpc.contract request of a lookup; a single match is cached for the next ones. */
static void answer_contract_reqs(brBridge *b, lookup *l, const char *slug, const char *msg, int ib_code)
{
    ibbMap_Del(mod(b)->querying, l->key);
    for (reqnode *r = l->reqs; r; r = r->next) {
        if (slug)
            busRequest_Error(r->req, slug, msg, ib_code);
        else
            reply_contracts(r->req, l->matches, l->nmatches);
        busRequest_Release(r->req);
    }
    if (!slug && l->ntotal == 1 && l->nmatches == 1 && !ibbMap_Get(mod(b)->cache, l->key) &&
        ibbMap_Put(mod(b)->cache, l->key, l->matches[0]) == IBB_OK) {
        br_haContractResolved(b, l->key, l->matches[0]);
        l->matches[0] = NULL; /* the cache owns it now */
        l->nmatches = 0;
    }
}

static void lookup_done(brBridge *b, lookup *l, const char *slug, const char *msg, int ib_code)
{
    if (!l->for_resolve) {
        answer_contract_reqs(b, l, slug, msg, ib_code);
        free_lookup(l);
        return;
    }
    if (!slug && l->nmatches == 0) {
        finish_resolve(b, l, NULL, "unknown_symbol", "IB knows no contract for this key", 200);
    } else if (!slug && l->ntotal > 1) {
        char names[400] = "";
        for (int i = 0; i < l->nmatches && strlen(names) < sizeof names - ST_KEY_MAX - 8; i++)
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? ", " : "",
                     l->matches[i]->key);
        char m[512];
        snprintf(m, sizeof m, "the key matches %d contracts (%s): use one of those keys", l->ntotal, names);
        finish_resolve(b, l, NULL, "ambiguous", m, 200);
    } else if (!slug) {
        brInstrument *inst = l->matches[0];
        l->matches[0] = NULL;
        l->nmatches = 0;
        if (ibbMap_Put(mod(b)->cache, l->key, inst) != IBB_OK) {
            finish_resolve(b, l, NULL, "internal", "out of memory caching the contract", 0);
            free_instrument(inst);
        } else {
            IBB_INFO("contract.resolved", "key=%s con_id=%" PRId64, l->key, inst->spec.con_id);
            br_haContractResolved(b, l->key, inst);
            finish_resolve(b, l, inst, NULL, NULL, 0);
        }
    } else {
        finish_resolve(b, l, NULL, slug, msg, ib_code);
    }
    free_lookup(l);
}

static void on_lookup_reply(brBridge *b, int64_t req_id, const ibReply *r, void *ctx)
{
    lookup *l = ctx;
    if (r->id == IB_MSG_CONTRACT_DATA) {
        l->ntotal++;
        if (l->nmatches < MAX_MATCHES) {
            brInstrument *i = instrument_from(&r->u.contract_data);
            if (i)
                l->matches[l->nmatches++] = i;
        }
    } else if (r->id == IB_MSG_CONTRACT_DATA_END) {
        br_reqClose(b, req_id);
        lookup_done(b, l, NULL, NULL, 0);
    }
}

static void on_lookup_error(brBridge *b, int64_t req_id, const ibError *e, void *ctx)
{
    lookup *l = ctx;
    br_reqClose(b, req_id);
    char msg[400];
    snprintf(msg, sizeof msg, "IB error %" PRId64 ": %s", e->code, e->message);
    const char *slug =
        e->code == 200 ? (strstr(e->message, "ambiguous") ? "ambiguous" : "unknown_symbol") : "ib_error";
    lookup_done(b, l, slug, msg, (int)e->code);
}

static void on_lookup_lost(brBridge *b, int64_t req_id, void *ctx)
{
    br_reqClose(b, req_id);
    lookup_done(b, ctx, "ib_unavailable", "the IB link dropped before the contract details arrived", 0);
}

static const brPendingOps lookup_ops = {on_lookup_reply, on_lookup_error, on_lookup_lost};

/* Sends reqContractDetails for key. IBB_OK when sent (l is then owned by the request). */
static ibbStatus send_lookup(brBridge *b, lookup *l)
{
    stInstrumentSpec spec;
    if (stInstrument_ParseKey(l->key, &spec, NULL) != IBB_OK)
        return IBB_ERR_INVALID_ARG;
    ibRequest rq;
    ibRequest_Init(&rq, IB_REQ_CONTRACT_DETAILS);
    stInstrument_ToContract(&spec, &rq.u.contract_details.contract);
    if (spec.con_id > 0)
        rq.u.contract_details.contract.exchange = "";
    int64_t id = br_reqOpen(b, &lookup_ops, l);
    if (id < 0)
        return IBB_ERR_NOMEM;
    rq.u.contract_details.req_id = id;
    ibbStatus s = br_send(b, &rq);
    if (s != IBB_OK)
        br_reqClose(b, id);
    else
        l->req_id = id;
    return s;
}

/* Every caller of a lookup gave up. Still queued for IB: close the id, so the session drops the
 * request instead of spending a pacing token on it. Already sent: let the answer fill the cache. */
static void abandon_lookup(brBridge *b, lookup *l)
{
    if (l->req_id && br_reqSent(b, l->req_id))
        return;
    IBB_DEBUG("contract.abandoned", "key=%s req_id=%" PRId64, l->key, l->req_id);
    if (l->req_id)
        br_reqClose(b, l->req_id);
    ibbMap *m = l->for_resolve ? mod(b)->resolving : mod(b)->querying;
    if (ibbMap_Get(m, l->key) == l)
        ibbMap_Del(m, l->key);
    free_lookup(l);
}

bool br_resolveCancel(brBridge *b, const char *key, brResolveFn fn, void *ctx)
{
    lookup *l = mod(b) ? ibbMap_Get(mod(b)->resolving, key) : NULL;
    if (!l)
        return false;
    for (waiter **pw = &l->waiters; *pw; pw = &(*pw)->next) {
        waiter *w = *pw;
        if (w->fn != fn || w->ctx != ctx)
            continue;
        *pw = w->next;
        free(w);
        if (!l->waiters)
            abandon_lookup(b, l);
        return true;
    }
    return false;
}

void br_resolve(brBridge *b, const char *key, brResolveFn fn, void *ctx)
{
    const brInstrument *hit = br_instrument(b, key);
    if (hit) {
        fn(b, ctx, hit, NULL, NULL, 0);
        return;
    }
    waiter *w = malloc(sizeof *w);
    if (!w) {
        fn(b, ctx, NULL, "internal", "out of memory", 0);
        return;
    }
    w->fn = fn;
    w->ctx = ctx;
    lookup *l = ibbMap_Get(mod(b)->resolving, key);
    if (l) { /* an identical resolution is in flight: share it */
        w->next = l->waiters;
        l->waiters = w;
        return;
    }
    if (!b->ib_ready) {
        free(w);
        fn(b, ctx, NULL, "ib_unavailable", "the IB link is not ready; retry when ib.evt.conn reports ready",
           0);
        return;
    }
    l = calloc(1, sizeof *l);
    if (!l || strlen(key) >= sizeof l->key || ibbMap_Put(mod(b)->resolving, key, l) != IBB_OK) {
        free(l);
        free(w);
        fn(b, ctx, NULL, "internal", "out of memory", 0);
        return;
    }
    snprintf(l->key, sizeof l->key, "%s", key);
    l->for_resolve = true;
    w->next = NULL;
    l->waiters = w;
    ibbStatus s = send_lookup(b, l);
    if (s != IBB_OK)
        lookup_done(b, l, s == IBB_ERR_STATE ? "ib_unavailable" : "internal",
                    "could not send the contract request to IB", 0);
}

static char *dup_field(const msgpack_object *m, const char *k)
{
    const char *s = "";
    size_t n = 0;
    busObj_Str(m, k, &s, &n);
    return strndup(s, n);
}

ibbStatus br_contractSeed(brBridge *b, const msgpack_object *rec)
{
    char lookup_key[ST_KEY_MAX];
    const msgpack_object *c;
    if (busObj_StrCopy(rec, "lookup_key", lookup_key, sizeof lookup_key) != IBB_OK || !lookup_key[0] ||
        busObj_Map(rec, "contract", &c) != IBB_OK)
        return IBB_ERR_INVALID_ARG;
    if (ibbMap_Get(mod(b)->cache, lookup_key))
        return IBB_ERR_CONFLICT;
    brInstrument *i = calloc(1, sizeof *i);
    if (!i)
        return IBB_ERR_NOMEM;
    br_specFromMap(c, &i->spec, true);
    busObj_StrCopy(rec, "key", i->key, sizeof i->key);
    busObj_StrCopy(rec, "long_name", i->long_name, sizeof i->long_name);
    busObj_StrCopy(rec, "time_zone", i->time_zone, sizeof i->time_zone);
    busObj_Double(rec, "min_tick", &i->min_tick);
    i->trading_hours = dup_field(rec, "trading_hours");
    i->liquid_hours = dup_field(rec, "liquid_hours");
    i->order_types = dup_field(rec, "order_types");
    i->valid_exchanges = dup_field(rec, "valid_exchanges");
    ibbStatus s = i->spec.con_id > 0 && i->key[0] ? IBB_OK : IBB_ERR_INVALID_ARG;
    if (s == IBB_OK && (!i->trading_hours || !i->liquid_hours || !i->order_types || !i->valid_exchanges))
        s = IBB_ERR_NOMEM;
    if (s == IBB_OK)
        s = ibbMap_Put(mod(b)->cache, lookup_key, i);
    if (s != IBB_OK)
        free_instrument(i);
    return s;
}

const brInstrument *br_instrument(const brBridge *b, const char *key)
{
    return ibbMap_Get(mod(b)->cache, key);
}

/* ---- ib.rpc.contract ----------------------------------------------------------------------------- */

/* The deadline answered this request: it leaves its lookup (the last one abandons it). */
static void on_contract_expire(busRequest *req, void *arg)
{
    reqnode *rn = arg;
    lookup *l = rn->l;
    brBridge *b = rn->b;
    for (reqnode **p = &l->reqs; *p; p = &(*p)->next)
        if (*p == rn) {
            *p = rn->next;
            break;
        }
    busRequest_Release(req);
    free(rn);
    if (!l->reqs)
        abandon_lookup(b, l);
}

static void on_contract(busRequest *req, void *arg)
{
    brBridge *b = arg;
    char key[ST_KEY_MAX], err[300];
    if (br_keyFromBody(busRequest_Body(req), key, sizeof key, err, sizeof err) != IBB_OK) {
        busRequest_Fail(req, "bad_request", err, 0);
        return;
    }
    brInstrument *hit = ibbMap_Get(mod(b)->cache, key); /* conIds do not change: no IB round trip */
    if (hit) {
        reply_contracts(req, &hit, 1);
        busRequest_Release(req);
        return;
    }
    if (!br_requireIb(b, req)) {
        busRequest_Release(req);
        return;
    }
    reqnode *rn = malloc(sizeof *rn);
    lookup *l = ibbMap_Get(mod(b)->querying, key);
    if (rn && l) { /* an identical lookup is in flight: share its answer */
        rn->req = req;
        rn->b = b;
        rn->l = l;
        rn->next = l->reqs;
        l->reqs = rn;
        busRequest_OnExpire(req, on_contract_expire, rn);
        return;
    }
    l = rn ? calloc(1, sizeof *l) : NULL;
    if (!l || ibbMap_Put(mod(b)->querying, key, l) != IBB_OK) {
        free(rn);
        free(l);
        busRequest_Fail(req, "internal", "out of memory", 0);
        return;
    }
    snprintf(l->key, sizeof l->key, "%s", key);
    rn->req = req; /* keeps the handler's reference until answered */
    rn->b = b;
    rn->l = l;
    rn->next = NULL;
    l->reqs = rn;
    busRequest_OnExpire(req, on_contract_expire, rn);
    ibbStatus s = send_lookup(b, l);
    if (s != IBB_OK)
        lookup_done(b, l, "ib_unavailable", "could not send the contract request to IB", 0);
}

static ibbStatus contracts_init(brBridge *b)
{
    contracts *c = calloc(1, sizeof *c);
    if (!c || ibbMap_Create(&c->cache) != IBB_OK || ibbMap_Create(&c->resolving) != IBB_OK ||
        ibbMap_Create(&c->querying) != IBB_OK) {
        if (c) {
            ibbMap_Destroy(c->cache);
            ibbMap_Destroy(c->resolving);
            free(c);
        }
        return IBB_ERR_NOMEM;
    }
    b->mod[BR_MOD_CONTRACTS] = c;
    busEndpointDef d = {.name = "contract", .subject = "contract", .handler = on_contract, .arg = b};
    return busService_AddEndpoint(b->svc, &d);
}

static void contracts_fini(brBridge *b)
{
    contracts *c = mod(b);
    if (!c)
        return;
    ibbMapIter it;
    void *v;
    ibbMapIter_Init(&it, c->cache);
    while (ibbMapIter_Next(&it, NULL, NULL, &v))
        free_instrument(v);
    ibbMap_Destroy(c->cache);
    ibbMap_Destroy(c->resolving); /* lookups in flight were failed by on_lost before */
    ibbMap_Destroy(c->querying);
    free(c);
    b->mod[BR_MOD_CONTRACTS] = NULL;
}

const brModule br_contractsModule = {
    .name = "contracts",
    .init = contracts_init,
    .fini = contracts_fini,
};
