/* br_streams_sub.c — ib.rpc.subscribe for kinds depth / ticks / bars (reached through the quotes
 * module's handler, br_streamsClaimSubscribe) and ib.rpc.depth (the current book of a depth stream).
 *
 * A subscribe resolves its instruments, refuses what IB would refuse (tick-by-tick on an option), turns
 * each into a lease key "<kind>/<param>/<key>", checks the kind's budget (depth: ib.depth_budget,
 * ticks: ib.tick_by_tick_budget, bars: market-data lines with the quotes, ib.md_line_budget) and
 * grants the lease in the shared table; br_streams.c does the rest. One lease holds one kind; a
 * lease_id alone renews it with its instruments. The reply of a fresh grant is held briefly (holds:
 * HOLD_DEPTH_MS for IB's first book, HOLD_OTHER_MS for ticks and bars) so that IB's refusal of a new
 * subscription is in it; a held request is owned by streams.holds until answered.
 * See br_streams.c for the module as a whole. */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "br_quotes_int.h"
#include "br_streams_int.h"
#include "ibb_log.h"

static streams *mod(const brBridge *b) { return b->mod[BR_MOD_STREAMS]; }

typedef struct ssItem {
    struct ssReq *r;
    size_t i;
} ssItem;

typedef struct ssReq {               /* a stream subscribe resolving its instruments */
    brBridge *b;
    busRequest *req;
    char lease_id[ST_LEASE_ID_LEN + 1];
    int64_t ttl_s;
    brStreamKind kind;
    char param[32];
    size_t n, outstanding;
    char (*keys)[ST_KEY_MAX];        /* as asked; then lease keys */
    ssItem *items;
    bool failed;
    char err_slug[32], err_field[16];
    char err_msg[400];
    int err_code;
    bool snapshot;                   /* ib.rpc.depth: answer the first book, not the lease */
    bool held;                       /* granted; the reply waits for IB's first answer (holds) */
    char granted[ST_LEASE_ID_LEN + 1];
    uv_timer_t timer;
    struct ssReq *next;              /* on streams.holds */
} ssReq;

#define DEPTH_SNAPSHOT_TTL_S 10      /* the lease ib.rpc.depth takes when nobody streams the book */
#define HOLD_DEPTH_MS 1000           /* a depth subscribe reply waits this long at most for IB's book */
#define HOLD_OTHER_MS 300            /* ticks / bars: IB answers only refusals at once (the data comes
                                        with the next trade or bar), so a short wait for those */

static void free_req(ssReq *r)
{
    free(r->keys);
    free(r->items);
    free(r);
}

/* ---- the reply ---------------------------------------------------------------------------------- */

static void answer(ssReq *r, const char *id)
{
    brBridge *b = r->b;
    int64_t exp = stLeases_ExpiresAt(b->leases, id);
    char when[40];
    brQt_formatUtc(br_wallNs() / 1000000 + (exp > 0 && exp != INT64_MAX ? exp - br_nowMs(b) : r->ttl_s * 1000), when,
                   sizeof when);
    static const char *const PARAM_NAMES[BR_SK_COUNT] = {"rows", "type", "what_to_show"};
    msgpack_packer *pk = busRequest_Packer(r->req);
    msgpack_pack_map(pk, 6);
    busPack_KeyStr(pk, "lease_id", id);
    busPack_KeyInt(pk, "ttl_s", r->ttl_s);
    busPack_KeyStr(pk, "expires_at", when);
    busPack_KeyStr(pk, "kind", brSt_kindName(r->kind));
    if (r->kind == BR_SK_DEPTH)
        busPack_KeyInt(pk, PARAM_NAMES[r->kind], atoi(r->param));
    else
        busPack_KeyStr(pk, PARAM_NAMES[r->kind], r->param);
    busPack_Str(pk, "instruments");
    msgpack_pack_array(pk, r->n);
    for (size_t i = 0; i < r->n; i++) {
        const sinst *si = ibbMap_Get(mod(b)->recs, r->keys[i]);
        brStreamKind k;
        char param[32];
        const char *key = "";
        brSt_parseLeaseKey(r->keys[i], &k, param, sizeof param, &key);
        char subject[ST_KEY_MAX + 80];
        snprintf(subject, sizeof subject, "%s.%s.%s", b->prefix, brSt_kindName(r->kind), key);
        bool st = si && si->status_code != 0;
        msgpack_pack_map(pk, 4 + st);
        busPack_KeyStr(pk, "key", key);
        busPack_KeyStr(pk, "subject", subject);
        busPack_KeyStr(pk, "state", brSt_stateName(b, si));
        busPack_Str(pk, "contract");
        stInstrumentSpec spec;
        if (si)
            spec = si->spec;
        else if (stInstrument_ParseKey(key, &spec, NULL) != IBB_OK)
            memset(&spec, 0, sizeof spec);
        br_packContract(pk, &spec);
        if (st) {
            busPack_Str(pk, "status");
            msgpack_pack_map(pk, 3);
            busPack_KeyStr(pk, "code", brQt_statusSlug(si->status_code));
            busPack_KeyStr(pk, "message", si->status_msg);
            busPack_KeyInt(pk, "ib_code", si->status_code);
        }
    }
    busRequest_ReplyPacked(r->req);
}

/* ---- budgets ------------------------------------------------------------------------------------ */

/* Subscriptions of r's kind held after the grant (the lease's old keys it drops let go). */
static size_t held_after(const ssReq *r)
{
    const brBridge *b = r->b;
    size_t c = br_streamsCount(b, r->kind);
    for (size_t i = 0; i < r->n; i++)
        c += stLeases_RefCount(b->leases, r->keys[i]) == 0;
    const char *const *old;
    size_t nold;
    if (r->lease_id[0] && stLeases_Keys(b->leases, r->lease_id, &old, &nold) == IBB_OK)
        for (size_t i = 0; i < nold; i++) {
            bool kept = false;
            for (size_t j = 0; j < r->n && !kept; j++)
                kept = strcmp(old[i], r->keys[j]) == 0;
            brStreamKind k;
            char param[32];
            const char *key;
            if (!kept && stLeases_RefCount(b->leases, old[i]) == 1 &&
                brSt_parseLeaseKey(old[i], &k, param, sizeof param, &key) && k == r->kind)
                c--;
        }
    return c;
}

/* false = answered line_limit. */
static bool within_budget(ssReq *r)
{
    brBridge *b = r->b;
    size_t after = held_after(r);
    if (r->kind == BR_SK_BARS) {
        size_t quotes = b->book ? stQuoteBook_Count(b->book) : 0, snaps = br_quoteSnapshotLines(b);
        if ((int64_t)(quotes + snaps + after) <= b->opt.md_line_budget)
            return true;
        busRequest_Errorf(r->req, "line_limit", 0,
                          "this lease would need %zu real-time-bar subscriptions, and each is a market-data "
                          "line: %zu quotes and %zu snapshots hold lines too; the budget is %" PRId64
                          " (ib.md_line_budget): end leases you no longer need with ib.rpc.unsubscribe",
                          after, quotes, snaps, b->opt.md_line_budget);
        return false;
    }
    bool depth = r->kind == BR_SK_DEPTH;
    int64_t budget = depth ? b->opt.depth_budget : b->opt.tick_by_tick_budget;
    if ((int64_t)after <= budget)
        return true;
    busRequest_Errorf(r->req, "line_limit", 0,
                      "this lease would need %zu %s subscriptions; the budget is %" PRId64
                      " (%s, %zu in use; IB allows 3 unless the account has more): end leases you no longer "
                      "need with ib.rpc.unsubscribe",
                      after, depth ? "market-depth" : "tick-by-tick", budget,
                      depth ? "ib.depth_budget" : "ib.tick_by_tick_budget", br_streamsCount(b, r->kind));
    return false;
}

/* ---- holds: a subscribe reply waiting briefly for IB's first answer (a refusal shows in it) ------ */

static bool settled(const ssReq *r)
{
    if (!r->b->ib_ready)
        return true;
    for (size_t i = 0; i < r->n; i++) {
        const sinst *si = ibbMap_Get(mod(r->b)->recs, r->keys[i]);
        if (si && (si->state == SI_SUBSCRIBED || si->state == SI_RESOLVING))
            return false;
    }
    return true;
}

static void free_held(uv_handle_t *h) { free_req(h->data); }

static void finish_hold(ssReq *r)
{
    if (!busRequest_Answered(r->req))
        answer(r, r->granted);
    busRequest_Release(r->req);
    for (ssReq **p = &mod(r->b)->holds; *p; p = &(*p)->next)
        if (*p == r) {
            *p = r->next;
            break;
        }
    uv_close((uv_handle_t *)&r->timer, free_held);
}

static void on_hold_timer(uv_timer_t *t) { finish_hold(t->data); }

void brSt_checkHolds(brBridge *b, bool all)
{
    for (ssReq *r = mod(b)->holds, *next; r; r = next) {
        next = r->next;
        if (all || busRequest_Answered(r->req) || settled(r))
            finish_hold(r);
    }
}

/* Holds the reply of a fresh grant until IB answered each new subscription (or a short while).
 * false = answer now. */
static bool hold(ssReq *r, const char *id)
{
    if (settled(r))
        return false;
    int64_t left = busRequest_RemainingMs(r->req) - 200;
    int64_t wait = r->kind == BR_SK_DEPTH ? HOLD_DEPTH_MS : HOLD_OTHER_MS;
    if (left < wait)
        wait = left > 0 ? left : 0;
    r->held = true;
    memcpy(r->granted, id, sizeof r->granted);
    busRequest_Retain(r->req);
    uv_timer_init(r->b->loop, &r->timer);
    r->timer.data = r;
    uv_timer_start(&r->timer, on_hold_timer, (uint64_t)wait, 0);
    r->next = mod(r->b)->holds;
    mod(r->b)->holds = r;
    return true;
}

/* ---- grant -------------------------------------------------------------------------------------- */

static void grant(ssReq *r)
{
    brBridge *b = r->b;
    busRequest *req = r->req;
    if (busRequest_Answered(req) || mod(b)->stopping || !within_budget(r))
        return;
    const char *ptrs[MAX_SUB_ITEMS];
    for (size_t i = 0; i < r->n; i++)
        ptrs[i] = r->keys[i];
    char id[ST_LEASE_ID_LEN + 1];
    ibbStatus s = stLeases_Grant(b->leases, r->lease_id, ptrs, r->n, r->ttl_s * 1000, br_nowMs(b), id);
    if (s == IBB_ERR_NOT_FOUND) {
        busRequest_Error(req, "not_found",
                         "no lease with this lease_id (it ended or expired): subscribe without lease_id for a new one",
                         0);
        return;
    }
    if (s != IBB_OK) {
        busRequest_Error(req, "internal", "out of memory granting the lease", 0);
        return;
    }
    br_quotesLeasesChanged(b); /* re-arms the expiry timer */
    br_haLeaseSaved(b, id);
    for (size_t i = 0; i < r->n; i++) { /* what IB refused before gets another chance */
        sinst *si = ibbMap_Get(mod(b)->recs, r->keys[i]);
        if (si && si->state == SI_FAILED) {
            br_streamsRelease(b, r->keys[i]);
            br_streamsAcquire(b, r->keys[i]);
        }
    }
    IBB_INFO("streams.lease", "lease=%.8s kind=%s param=%s instruments=%zu ttl_s=%" PRId64 " renewed=%s", id,
             brSt_kindName(r->kind), r->param, r->n, r->ttl_s, r->lease_id[0] ? "true" : "false");
    if (r->snapshot)
        brSt_waitDepth(b, req, r->keys[0]);
    else if (!hold(r, id))
        answer(r, id);
}

/* Turns the resolved canonical keys into unique lease keys. false = answered. */
static bool to_lease_keys(ssReq *r)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n; i++) {
        char lk[ST_KEY_MAX];
        if (!brSt_leaseKey(r->kind, r->param, r->keys[i], lk)) {
            busRequest_Errorf(r->req, "bad_request", 0, "instrument key too long: %s", r->keys[i]);
            return false;
        }
        bool dup = false;
        for (size_t j = 0; j < n && !dup; j++)
            dup = strcmp(r->keys[j], lk) == 0;
        if (!dup)
            memcpy(r->keys[n++], lk, ST_KEY_MAX);
    }
    r->n = n;
    return true;
}

static void item_done(ssReq *r)
{
    if (--r->outstanding > 0)
        return;
    if (r->failed) {
        if (r->err_field[0])
            busRequest_Errorf(r->req, r->err_slug, r->err_code, "field '%s': %s", r->err_field, r->err_msg);
        else
            busRequest_Error(r->req, r->err_slug, r->err_msg, r->err_code);
    } else if (to_lease_keys(r)) {
        grant(r);
    }
    busRequest_Release(r->req);
    if (!r->held)
        free_req(r);
}

static void item_error(ssReq *r, const char *slug, const char *field, int ib_code, const char *fmt, const char *a,
                      const char *c)
{
    if (r->failed)
        return;
    r->failed = true;
    snprintf(r->err_slug, sizeof r->err_slug, "%s", slug);
    snprintf(r->err_field, sizeof r->err_field, "%s", field);
    snprintf(r->err_msg, sizeof r->err_msg, fmt, a, c);
    r->err_code = ib_code;
}

static void on_item_resolved(brBridge *b, void *ctx, const brInstrument *inst, const char *slug, const char *msg,
                             int ib_code)
{
    (void)b;
    ssItem *it = ctx;
    ssReq *r = it->r;
    if (!inst)
        item_error(r, slug, "", ib_code, "%s: %s", r->keys[it->i], msg ? msg : "");
    else if (r->kind == BR_SK_TICKS &&
             (strcmp(inst->spec.sec_type, "OPT") == 0 || strcmp(inst->spec.sec_type, "FOP") == 0))
        item_error(r, "bad_request", "kind", 0,
                  "IB has no tick-by-tick data for options (%s is %s): lease kind \"quote\" for it", inst->key,
                  inst->spec.sec_type);
    else
        snprintf(r->keys[it->i], ST_KEY_MAX, "%s", inst->key);
    item_done(r);
}

/* ---- the request -------------------------------------------------------------------------------- */

/* The kind's parameter from the body into r->param. false = answered with an error naming the field. */
static bool parse_param(busRequest *req, ssReq *r, const msgpack_object *body)
{
    if (r->kind == BR_SK_DEPTH) {
        int64_t rows = 10;
        ibbStatus s = busObj_Int(body, "rows", &rows);
        if (s != IBB_OK && s != IBB_ERR_NOT_FOUND) {
            busRequest_BadField(req, "rows", s, "integer");
            return false;
        }
        if (rows < 1 || rows > ST_DEPTH_MAX_ROWS) {
            busRequest_Errorf(req, "bad_request", 0, "field 'rows' must be 1 to %d (got %" PRId64 ")",
                              ST_DEPTH_MAX_ROWS, rows);
            return false;
        }
        snprintf(r->param, sizeof r->param, "%" PRId64, rows);
        return true;
    }
    const char *field = r->kind == BR_SK_TICKS ? "type" : "what_to_show";
    char v[24] = "";
    ibbStatus s = busObj_StrCopy(body, field, v, sizeof v);
    if (s == IBB_ERR_NOT_FOUND)
        snprintf(v, sizeof v, "%s", r->kind == BR_SK_TICKS ? "last" : "TRADES");
    else if (s != IBB_OK && s != IBB_ERR_LIMIT) {
        busRequest_BadField(req, field, s, "string");
        return false;
    }
    static const char *const TYPES[] = {"last", "all_last", "bid_ask", "midpoint"};
    static const char *const WHATS[] = {"TRADES", "BID", "ASK", "MIDPOINT"};
    const char *const *names = r->kind == BR_SK_TICKS ? TYPES : WHATS;
    for (size_t i = 0; s != IBB_ERR_LIMIT && i < 4; i++)
        if (strcmp(v, names[i]) == 0) {
            snprintf(r->param, sizeof r->param, "%s", v);
            return true;
        }
    busRequest_Errorf(req, "bad_request", 0, "field '%s' must be \"%s\", \"%s\", \"%s\" or \"%s\" (got \"%s\")", field,
                      names[0], names[1], names[2], names[3], v);
    return false;
}

static void resolve_all(ssReq *r);

static void start(busRequest *req, brBridge *b, brStreamKind kind, const char *param)
{
    const msgpack_object *body = busRequest_Body(req);
    ssReq *r = calloc(1, sizeof *r);
    if (!r) {
        busRequest_Fail(req, "internal", "out of memory", 0);
        return;
    }
    r->b = b;
    r->req = req;
    r->kind = kind;
    bool ok = brQt_parseLease(req, b, r->lease_id, &r->ttl_s, &r->keys, &r->n);
    if (ok && param)
        snprintf(r->param, sizeof r->param, "%s", param);
    else if (ok)
        ok = parse_param(req, r, body);
    r->items = ok ? calloc(r->n ? r->n : 1, sizeof *r->items) : NULL;
    if (ok && !r->items) {
        busRequest_Error(req, "internal", "out of memory", 0);
        ok = false;
    }
    bool same = ok && (r->n == 0 || br_streamsOwnsKey(r->keys[0])); /* a renewal: the lease's own keys */
    if (!ok || same) {
        if (ok)
            grant(r);
        busRequest_Release(req);
        if (!r->held)
            free_req(r);
        return;
    }
    resolve_all(r);
}

/* Resolves r's instruments; the last resolution grants (or answers the error). Takes r. */
static void resolve_all(ssReq *r)
{
    busRequest *req = r->req;
    for (size_t i = 0; r->kind == BR_SK_TICKS && i < r->n; i++) { /* IB refuses them: say so before resolving */
        stInstrumentSpec spec;
        if (stInstrument_ParseKey(r->keys[i], &spec, NULL) == IBB_OK &&
            (strcmp(spec.sec_type, "OPT") == 0 || strcmp(spec.sec_type, "FOP") == 0)) {
            busRequest_Failf(req, "bad_request", 0,
                             "field 'kind': IB has no tick-by-tick data for options (%s is %s): lease kind "
                             "\"quote\" for it", r->keys[i], spec.sec_type);
            free_req(r);
            return;
        }
    }
    r->outstanding = r->n + 1; /* + this loop: a resolution may complete at once (cache hit) */
    for (size_t i = 0; i < r->n; i++) {
        r->items[i] = (ssItem){r, i};
        br_resolve(r->b, r->keys[i], on_item_resolved, &r->items[i]);
    }
    item_done(r);
}

bool br_streamsClaimSubscribe(busRequest *req, brBridge *b)
{
    if (!mod(b))
        return false;
    const msgpack_object *body = busRequest_Body(req);
    const char *ks;
    size_t kl;
    ibbStatus s = busObj_Str(body, "kind", &ks, &kl);
    if (s == IBB_ERR_NOT_FOUND) { /* renewing a depth / ticks / bars lease by its id alone? */
        char id[ST_LEASE_ID_LEN + 1];
        const char *const *old;
        size_t nold;
        const msgpack_object_array *syms = NULL, *cons = NULL;
        brStreamKind k;
        char param[32];
        const char *key;
        if (busObj_StrCopy(body, "lease_id", id, sizeof id) != IBB_OK ||
            busObj_Array(body, "symbols", &syms) == IBB_OK || busObj_Array(body, "contracts", &cons) == IBB_OK ||
            stLeases_Keys(b->leases, id, &old, &nold) != IBB_OK || nold == 0 ||
            !brSt_parseLeaseKey(old[0], &k, param, sizeof param, &key))
            return false;
        start(req, b, k, param);
        return true;
    }
    if (s != IBB_OK) {
        busRequest_FailField(req, "kind", s, "string");
        return true;
    }
    if (kl == 5 && memcmp(ks, "quote", 5) == 0)
        return false;
    for (int k = 0; k < BR_SK_COUNT; k++)
        if (kl == strlen(brSt_kindName(k)) && memcmp(ks, brSt_kindName(k), kl) == 0) {
            start(req, b, (brStreamKind)k, NULL);
            return true;
        }
    busRequest_Failf(req, "bad_request", 0,
                     "field 'kind' must be \"quote\", \"depth\", \"ticks\", \"bars\" or \"pnl\" (got \"%.*s\")", (int)(kl > 40 ? 40 : kl),
                     ks);
    return true;
}

/* ---- ib.rpc.depth ------------------------------------------------------------------------------- */

/* {symbol | contract, rows?} -> the current book (schemas/depth_event.json): of the leased depth stream
 * of that instrument (the given rows, else the one with most rows), or, when none streams it, of a
 * lease of DEPTH_SNAPSHOT_TTL_S taken here (same budget as ib.rpc.subscribe) once IB's first book has
 * arrived. GET /depth/{symbol} in ib-bridge-http is this request. */
void brSt_onDepth(busRequest *req, void *arg)
{
    brBridge *b = arg;
    const msgpack_object *body = busRequest_Body(req);
    char key[ST_KEY_MAX], err[300];
    int64_t rows = 0;
    ibbStatus rs = busObj_Int(body, "rows", &rows);
    if (br_keyFromBody(body, key, sizeof key, err, sizeof err) != IBB_OK) {
        busRequest_Fail(req, "bad_request", err, 0);
        return;
    }
    if (rs != IBB_OK && rs != IBB_ERR_NOT_FOUND) {
        busRequest_FailField(req, "rows", rs, "integer");
        return;
    }
    const brInstrument *inst = br_instrument(b, key);
    const char *canon = inst ? inst->key : key;
    const sinst *best = NULL;
    ibbMapIter it;
    void *v;
    ibbMapIter_Init(&it, mod(b)->recs);
    while (ibbMapIter_Next(&it, NULL, NULL, &v)) {
        const sinst *si = v;
        if (si->kind == BR_SK_DEPTH && strcmp(si->key, canon) == 0 && (rows == 0 || si->rows == rows) &&
            (!best || si->rows > best->rows))
            best = si;
    }
    if (best) { /* a leased stream: its book now, or its first one */
        brSt_waitDepth(b, req, best->lkey);
        busRequest_Release(req);
        return;
    }
    if (rows != 0 && (rows < 1 || rows > ST_DEPTH_MAX_ROWS)) {
        busRequest_Failf(req, "bad_request", 0, "field 'rows' must be 1 to %d", ST_DEPTH_MAX_ROWS);
        return;
    }
    ssReq *r = calloc(1, sizeof *r); /* nobody streams it: a short lease of its own, then its first book */
    if (r) {
        r->keys = calloc(1, sizeof *r->keys);
        r->items = calloc(1, sizeof *r->items);
    }
    if (!r || !r->keys || !r->items) {
        if (r)
            free_req(r);
        busRequest_Fail(req, "internal", "out of memory", 0);
        return;
    }
    r->b = b;
    r->req = req;
    r->ttl_s = DEPTH_SNAPSHOT_TTL_S;
    r->kind = BR_SK_DEPTH;
    r->n = 1;
    r->snapshot = true;
    snprintf(r->param, sizeof r->param, "%" PRId64, rows ? rows : 10);
    snprintf(r->keys[0], ST_KEY_MAX, "%s", key);
    resolve_all(r);
}
