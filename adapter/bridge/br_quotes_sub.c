/* br_quotes_sub.c — the quotes module's leases on the bus: ib.rpc.subscribe (resolve the instruments,
 * check the line budget, grant the lease, wait briefly for IB's first answers) and ib.rpc.unsubscribe;
 * see br_quotes.c for the module as a whole and br_quotes_int.h for what the files share. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "br_quotes_int.h"
#include "ibb_log.h"

static quotes *mod(const brBridge *b) { return b->mod[BR_MOD_QUOTES]; }

/* ---------------------------------------------------------------------------------------------- */
/* ib.rpc.subscribe                                                                                */
/* ---------------------------------------------------------------------------------------------- */

void brQt_formatUtc(int64_t wall_ms, char *out, size_t cap)
{
    time_t s = (time_t)(wall_ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    size_t n = strftime(out, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, cap - n, ".%03dZ", (int)(wall_ms % 1000));
}

static const char *inst_state(const brBridge *b, const qinst *qi)
{
    if (!qi)
        return "ended";
    switch (qi->state) {
    case QI_STREAMING: return "streaming";
    case QI_FAILED: return "failed";
    case QI_SUBSCRIBED: return qi->settled ? "streaming" : "pending";
    default: return b->ib_ready ? "pending" : "waiting_for_ib";
    }
}

static void answer_subscribe(brBridge *b, busRequest *req, const char *lease_id, int64_t ttl_s,
                             char (*keys)[ST_KEY_MAX], size_t n)
{
    quotes *m = mod(b);
    int64_t exp = stLeases_ExpiresAt(b->leases, lease_id);
    char when[40];
    brQt_formatUtc(br_wallNs() / 1000000 + (exp > 0 && exp != INT64_MAX ? exp - br_nowMs(b) : ttl_s * 1000), when,
               sizeof when);
    msgpack_packer *pk = busRequest_Packer(req);
    msgpack_pack_map(pk, 4);
    busPack_KeyStr(pk, "lease_id", lease_id);
    busPack_KeyInt(pk, "ttl_s", ttl_s);
    busPack_KeyStr(pk, "expires_at", when);
    busPack_Str(pk, "instruments");
    msgpack_pack_array(pk, n);
    for (size_t i = 0; i < n; i++) {
        const qinst *qi = ibbMap_Get(m->insts, keys[i]);
        char subject[ST_KEY_MAX + 80];
        snprintf(subject, sizeof subject, "%s.quote.%s", b->prefix, keys[i]);
        bool st = qi && qi->q->status_ib_code != 0;
        msgpack_pack_map(pk, 4 + st);
        busPack_KeyStr(pk, "key", keys[i]);
        busPack_KeyStr(pk, "subject", subject);
        busPack_KeyStr(pk, "state", inst_state(b, qi));
        busPack_Str(pk, "contract");
        stInstrumentSpec spec;
        if (qi)
            spec = qi->q->spec;
        else if (stInstrument_ParseKey(keys[i], &spec, NULL) != IBB_OK)
            memset(&spec, 0, sizeof spec);
        br_packContract(pk, &spec);
        if (st) {
            busPack_Str(pk, "status");
            brQt_packStatus(pk, qi->q);
        }
    }
    busRequest_ReplyPacked(req);
}

static bool wait_settled(const brBridge *b, const subWait *w)
{
    if (!b->ib_ready)
        return true;
    for (size_t i = 0; i < w->nkeys; i++) {
        const qinst *qi = ibbMap_Get(mod(b)->insts, w->keys[i]);
        if (qi && qi->state != QI_FAILED && !qi->settled)
            return false;
    }
    return true;
}

static void free_wait(uv_handle_t *h)
{
    subWait *w = h->data;
    free(w->keys);
    free(w);
}

void brQt_finishWait(subWait *w)
{
    brBridge *b = w->b;
    quotes *m = mod(b);
    answer_subscribe(b, w->req, w->lease_id, w->ttl_s, w->keys, w->nkeys);
    busRequest_Release(w->req);
    if (w->prev)
        w->prev->next = w->next;
    else
        m->waits = w->next;
    if (w->next)
        w->next->prev = w->prev;
    uv_close((uv_handle_t *)&w->timer, free_wait);
}

static void on_wait_timer(uv_timer_t *t) { brQt_finishWait(t->data); }

void brQt_checkWaits(brBridge *b)
{
    for (subWait *w = mod(b)->waits, *next; w; w = next) {
        next = w->next;
        if (busRequest_Answered(w->req) || wait_settled(b, w))
            brQt_finishWait(w);
    }
}

static void free_subreq(subReq *r)
{
    free(r->keys);
    free(r->canon);
    free(r->specs);
    free(r->items);
    free(r);
}

/* Lines in use after replacing lease_id's keys (if any) with keys. */
static size_t lines_after(const brBridge *b, const char *lease_id, char (*keys)[ST_KEY_MAX], size_t n)
{
    const char *ptrs[MAX_SUB_ITEMS];
    for (size_t i = 0; i < n; i++)
        ptrs[i] = keys[i];
    size_t lines = stLeases_KeyCount(b->leases) + stLeases_NewKeys(b->leases, ptrs, n);
    const char *const *old;
    size_t nold;
    if (lease_id[0] && stLeases_Keys(b->leases, lease_id, &old, &nold) == IBB_OK)
        for (size_t i = 0; i < nold; i++) {
            bool kept = false;
            for (size_t j = 0; j < n && !kept; j++)
                kept = strcmp(old[i], keys[j]) == 0;
            if (!kept && stLeases_RefCount(b->leases, old[i]) == 1)
                lines--;
        }
    return lines;
}

/* Every instrument resolved: check the budget, grant, then wait for IB's first answers. */
static void grant(subReq *r)
{
    brBridge *b = r->b;
    quotes *m = mod(b);
    busRequest *req = r->req;
    if (busRequest_Answered(req) || m->stopping)
        return;
    /* unique canonical keys, in request order */
    size_t n = 0;
    for (size_t i = 0; i < r->n; i++) {
        bool dup = false;
        for (size_t j = 0; j < n && !dup; j++)
            dup = strcmp(r->canon[j], r->canon[i]) == 0;
        if (!dup) {
            memmove(r->canon[n], r->canon[i], ST_KEY_MAX);
            r->specs[n++] = r->specs[i];
        }
    }
    r->n = n;
    /* snapshots in flight hold lines at IB too (until their end) */
    size_t lines = lines_after(b, r->lease_id, r->canon, n), snaps = br_quoteSnapshotLines(b);
    lines -= br_streamsCount(b, BR_SK_DEPTH) + br_streamsCount(b, BR_SK_TICKS); /* not market-data lines */
    if ((int64_t)(lines + snaps) > b->opt.md_line_budget) {
        char extra[96] = "";
        if (snaps)
            snprintf(extra, sizeof extra, " and %zu snapshots in flight", snaps);
        busRequest_Errorf(
            req, "line_limit", 0,
            "this lease would need %zu market-data lines%s; the budget is %" PRId64
            " (ib.md_line_budget, %zu in use): end leases you no longer need with ib.rpc.unsubscribe%s",
            lines, extra, b->opt.md_line_budget, stLeases_KeyCount(b->leases) + snaps,
            snaps ? ", or retry when the snapshots complete" : "");
        return;
    }
    const char *ptrs[MAX_SUB_ITEMS];
    for (size_t i = 0; i < n; i++)
        ptrs[i] = r->canon[i];
    char id[ST_LEASE_ID_LEN + 1];
    m->staging = r;
    ibbStatus s = stLeases_Grant(b->leases, r->lease_id, ptrs, n, r->ttl_s * 1000, br_nowMs(b), id);
    m->staging = NULL;
    if (s == IBB_ERR_NOT_FOUND) {
        busRequest_Error(req, "not_found",
                         "no lease with this lease_id (it ended or expired): subscribe without "
                         "lease_id for a new one",
                         0);
        return;
    }
    if (s != IBB_OK) {
        busRequest_Error(req, "internal", "out of memory granting the lease", 0);
        return;
    }
    brQt_armLeaseTimer(b);
    br_haLeaseSaved(b, id); /* HA: the lease survives a takeover */
    /* instruments IB refused before get another chance with this subscribe */
    for (size_t i = 0; i < n; i++) {
        qinst *qi = ibbMap_Get(m->insts, r->canon[i]);
        if (qi && qi->state == QI_FAILED) {
            stQuote_SetStatus(b->book, qi->q, 0, NULL);
            qi->state = QI_WAIT_IB;
            brQt_activate(b, qi);
        }
    }
    IBB_INFO("quotes.lease", "lease=%.8s instruments=%zu ttl_s=%" PRId64 " renewed=%s leases=%zu lines=%zu",
             id, n, r->ttl_s, r->lease_id[0] ? "true" : "false", stLeases_LeaseCount(b->leases),
             stLeases_KeyCount(b->leases));
    subWait *w = calloc(1, sizeof *w);
    char (*keys)[ST_KEY_MAX] = w ? malloc((n ? n : 1) * sizeof *keys) : NULL;
    if (!keys) {
        free(w);
        answer_subscribe(b, req, id, r->ttl_s, r->canon, n);
        return;
    }
    memcpy(keys, r->canon, n * sizeof *keys);
    w->b = b;
    w->req = req;
    busRequest_Retain(req);
    memcpy(w->lease_id, id, sizeof w->lease_id);
    w->ttl_s = r->ttl_s;
    w->keys = keys;
    w->nkeys = n;
    uv_timer_init(b->loop, &w->timer);
    w->timer.data = w;
    w->next = m->waits;
    if (m->waits)
        m->waits->prev = w;
    m->waits = w;
    if (wait_settled(b, w)) {
        brQt_finishWait(w);
        return;
    }
    int64_t ms = busRequest_RemainingMs(req) - 200;
    int64_t delay = ms > SETTLE_MAX_MS ? SETTLE_MAX_MS : ms > 0 ? ms : 0;
    uv_timer_start(&w->timer, on_wait_timer, (uint64_t)delay, 0);
}

static void item_done(subReq *r);

static void on_item_resolved(brBridge *b, void *ctx, const brInstrument *inst, const char *slug,
                             const char *msg, int ib_code)
{
    (void)b;
    subItem *it = ctx;
    subReq *r = it->r;
    if (inst) {
        r->specs[it->i] = inst->spec;
        snprintf(r->canon[it->i], ST_KEY_MAX, "%s", inst->key);
    } else if (!r->failed) {
        r->failed = true;
        snprintf(r->err_slug, sizeof r->err_slug, "%s", slug);
        snprintf(r->err_msg, sizeof r->err_msg, "%s: %s", r->keys[it->i], msg ? msg : "");
        r->err_code = ib_code;
    }
    item_done(r);
}

/* One resolution (or the issuing loop itself) finished; the last one answers and frees r. */
static void item_done(subReq *r)
{
    if (--r->outstanding > 0)
        return;
    if (r->failed)
        busRequest_Error(r->req, r->err_slug, r->err_msg, r->err_code);
    else
        grant(r);
    busRequest_Release(r->req);
    free_subreq(r);
}

/* Reads the keys of a subscribe body into *keys_out (unique, as asked; *n_out of them; the caller frees
 * *keys_out). false = answered with an error. */
bool brQt_parseKeys(busRequest *req, char (**keys_out)[ST_KEY_MAX], size_t *n_out, const msgpack_object_array *syms,
                    const msgpack_object_array *cons)
{
    size_t total = (syms ? syms->size : 0) + (cons ? cons->size : 0);
    if (total > MAX_SUB_ITEMS) {
        busRequest_Errorf(req, "bad_request", 0, "at most %d instruments per lease (got %zu)", MAX_SUB_ITEMS,
                          total);
        return false;
    }
    char (*keys)[ST_KEY_MAX] = calloc(total ? total : 1, sizeof *keys);
    *keys_out = keys;
    *n_out = 0;
    if (!keys) {
        busRequest_Error(req, "internal", "out of memory", 0);
        return false;
    }
    char err[300];
    for (size_t i = 0; i < total; i++) {
        bool is_sym = syms && i < syms->size;
        const msgpack_object *o = is_sym ? &syms->ptr[i] : &cons->ptr[i - (syms ? syms->size : 0)];
        if (o->type != (is_sym ? MSGPACK_OBJECT_STR : MSGPACK_OBJECT_MAP)) {
            busRequest_Errorf(req, "bad_request", 0, "'%s' must be an array of %s",
                              is_sym ? "symbols" : "contracts",
                              is_sym ? "instrument keys (strings such as \"AAPL\")" : "contract objects");
            return false;
        }
        msgpack_object_kv kv = {
            .key = {.type = MSGPACK_OBJECT_STR, .via.str = {is_sym ? 6 : 8, is_sym ? "symbol" : "contract"}},
            .val = *o};
        msgpack_object body = {.type = MSGPACK_OBJECT_MAP, .via.map = {1, &kv}};
        char key[ST_KEY_MAX];
        if (br_keyFromBody(&body, key, sizeof key, err, sizeof err) != IBB_OK) {
            busRequest_Errorf(req, "bad_request", 0, "%s %zu: %s", is_sym ? "symbols item" : "contracts item",
                              is_sym ? i : i - (syms ? syms->size : 0), err);
            return false;
        }
        bool dup = false;
        for (size_t j = 0; j < *n_out && !dup; j++)
            dup = strcmp(keys[j], key) == 0;
        if (!dup)
            snprintf(keys[(*n_out)++], ST_KEY_MAX, "%s", key);
    }
    return true;
}

/* ttl_s, lease_id and the instrument keys of a subscribe body; a renewal without instruments takes the
 * lease's own keys. false = answered with an error. */
bool brQt_parseLease(busRequest *req, brBridge *b, char *lease_id, int64_t *ttl_s, char (**keys)[ST_KEY_MAX],
                     size_t *n)
{
    const msgpack_object *body = busRequest_Body(req);
    *ttl_s = DEFAULT_TTL_S;
    ibbStatus st = busObj_Int(body, "ttl_s", ttl_s);
    const msgpack_object_array *syms = NULL, *cons = NULL;
    ibbStatus ss = busObj_Array(body, "symbols", &syms), cs = busObj_Array(body, "contracts", &cons);
    ibbStatus ls = busObj_StrCopy(body, "lease_id", lease_id, ST_LEASE_ID_LEN + 1);
    bool ok = false;
    if (st != IBB_OK && st != IBB_ERR_NOT_FOUND)
        busRequest_BadField(req, "ttl_s", st, "integer");
    else if (*ttl_s < 1 || *ttl_s > MAX_TTL_S)
        busRequest_Errorf(req, "bad_request", 0, "field 'ttl_s' must be 1 to %d seconds", MAX_TTL_S);
    else if (ss != IBB_OK && ss != IBB_ERR_NOT_FOUND)
        busRequest_BadField(req, "symbols", ss, "array of strings");
    else if (cs != IBB_OK && cs != IBB_ERR_NOT_FOUND)
        busRequest_BadField(req, "contracts", cs, "array of objects");
    else if (ls == IBB_ERR_LIMIT)
        busRequest_Error(req, "not_found", "no lease with this lease_id (it ended or expired)", 0);
    else if (ls != IBB_OK && ls != IBB_ERR_NOT_FOUND)
        busRequest_BadField(req, "lease_id", ls, "string");
    else if (lease_id[0] && stLeases_ExpiresAt(b->leases, lease_id) < br_nowMs(b))
        busRequest_Error(req, "not_found",
                         "no lease with this lease_id (it ended or expired): subscribe without "
                         "lease_id for a new one",
                         0);
    else if (brQt_parseKeys(req, keys, n, syms, cons))
        ok = true;
    if (ok && *n == 0) {
        const char *const *old;
        size_t nold;
        if (lease_id[0] && stLeases_Keys(b->leases, lease_id, &old, &nold) == IBB_OK) {
            free(*keys); /* renewal: the same instruments */
            *keys = calloc(nold ? nold : 1, sizeof **keys);
            *n = 0;
            for (size_t i = 0; *keys && i < nold && i < MAX_SUB_ITEMS; i++)
                snprintf((*keys)[(*n)++], ST_KEY_MAX, "%s", old[i]);
        }
        if (!lease_id[0]) {
            busRequest_Error(req, "bad_request",
                             "give 'symbols' (instrument keys such as [\"AAPL\"]) or 'contracts', "
                             "or 'lease_id' to renew a lease",
                             0);
            ok = false;
        }
    }
    if (ok && !*keys) {
        busRequest_Error(req, "internal", "out of memory", 0);
        ok = false;
    }
    return ok;
}

void brQt_onSubscribe(busRequest *req, void *arg)
{
    brBridge *b = arg;
    const msgpack_object *body = busRequest_Body(req);
    char kind[16] = "", lease[ST_LEASE_ID_LEN + 1] = "";
    busObj_StrCopy(body, "lease_id", lease, sizeof lease);
    if ((busObj_StrCopy(body, "kind", kind, sizeof kind) == IBB_OK && strcmp(kind, "pnl") == 0) ||
        br_pnlOwnsLease(b, lease)) {
        br_pnlSubscribe(req, b); /* kind pnl: br_pnl.c */
        return;
    }
    if (br_streamsClaimSubscribe(req, b)) /* kind depth / ticks / bars: br_streams_sub.c */
        return;
    subReq *r = calloc(1, sizeof *r);
    if (!r) {
        busRequest_Fail(req, "internal", "out of memory", 0);
        return;
    }
    r->b = b;
    r->req = req;
    bool ok = brQt_parseLease(req, b, r->lease_id, &r->ttl_s, &r->keys, &r->n);
    r->canon = ok ? calloc(r->n ? r->n : 1, sizeof *r->canon) : NULL;
    r->specs = ok ? calloc(r->n ? r->n : 1, sizeof *r->specs) : NULL;
    r->items = ok ? calloc(r->n ? r->n : 1, sizeof *r->items) : NULL;
    if (ok && (!r->keys || !r->canon || !r->specs || !r->items)) {
        busRequest_Error(req, "internal", "out of memory", 0);
        ok = false;
    }
    if (!ok) {
        busRequest_Release(req);
        free_subreq(r);
        return;
    }
    if (r->n == 0) { /* renewal of an empty lease */
        grant(r);
        busRequest_Release(req);
        free_subreq(r);
        return;
    }
    size_t n = r->n;
    r->outstanding = n + 1; /* + this loop: a resolution may complete at once (cache hit) */
    for (size_t i = 0; i < n; i++) {
        r->items[i] = (subItem){r, i};
        br_resolve(b, r->keys[i], on_item_resolved, &r->items[i]);
    }
    item_done(r);
}

/* ---------------------------------------------------------------------------------------------- */
/* ib.rpc.unsubscribe                                                                              */
/* ---------------------------------------------------------------------------------------------- */

void brQt_onUnsubscribe(busRequest *req, void *arg)
{
    brBridge *b = arg;
    char id[ST_LEASE_ID_LEN + 1];
    ibbStatus s = busObj_StrCopy(busRequest_Body(req), "lease_id", id, sizeof id);
    if (s == IBB_ERR_NOT_FOUND || s == IBB_ERR_INVALID_ARG)
        busRequest_BadField(req, "lease_id", s, "string");
    else if (s != IBB_OK || (stLeases_End(b->leases, id) != IBB_OK && !br_pnlEndLease(b, id)))
        busRequest_Error(req, "not_found", "no lease with this lease_id (it ended or expired)", 0);
    else {
        brQt_armLeaseTimer(b);
        br_haLeaseEnded(b, id);
        IBB_INFO("quotes.lease_end", "lease=%.8s leases=%zu lines=%zu", id, stLeases_LeaseCount(b->leases),
                 stLeases_KeyCount(b->leases));
        msgpack_packer *pk = busRequest_Packer(req);
        msgpack_pack_map(pk, 3);
        busPack_KeyStr(pk, "lease_id", id);
        busPack_KeyBool(pk, "ended", true);
        busPack_KeyInt(pk, "lines_used", (int64_t)(stLeases_KeyCount(b->leases) - br_streamsCount(b, BR_SK_DEPTH) -
                                                   br_streamsCount(b, BR_SK_TICKS)));
        busRequest_ReplyPacked(req);
    }
    busRequest_Release(req);
}
