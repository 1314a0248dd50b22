/* br_discovery.c — the discovery module: ib.rpc.contract.search {pattern} (reqMatchingSymbols ->
 * symbolSamples, PROTOCOL.md §3.18) here, the scanner in br_discovery_scan.c.
 *
 * IB asks for at least one second between two reqMatchingSymbols: searches wait in a queue and leave
 * one a second. A pattern (case-insensitive) has one entry: identical searches while it is queued or at
 * IB share its one request, and its answer is cached for SEARCH_CACHE_MS. A pattern of fewer than two
 * characters is refused before IB is asked. Errors are not cached. Loop thread. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "br_discovery_int.h"
#include "ibb_log.h"

#define SEARCH_GAP_MS 1100 /* IB: at least 1 s between reqMatchingSymbols (+ a margin for jitter) */
#define SEARCH_CACHE_MS (10 * 60 * 1000)
#define PATTERN_MAX 64

typedef struct searchWaiter {
    busRequest *req;
    struct searchWaiter *next;
} searchWaiter;

typedef struct brSearch {
    char pattern[PATTERN_MAX + 1]; /* upper-cased: the key */
    searchWaiter *waiters;
    int64_t req_id; /* > 0 while at IB */
    bool queued;
    char *items; /* cached: the packed "matches" array; NULL until answered */
    size_t items_len;
    int count;
    int64_t cached_at_ms;
    struct brSearch *next_queued;
} brSearch;

static void arm_timer(brBridge *b);

static void search_free(brBridge *b, brSearch *s)
{
    brDiscovery *d = brd_mod(b);
    ibbMap_Del(d->searches, s->pattern);
    searchWaiter *w = s->waiters;
    while (w) {
        searchWaiter *n = w->next;
        busRequest_Release(w->req);
        free(w);
        w = n;
    }
    free(s->items);
    free(s);
}

static void answer_one(brBridge *b, busRequest *req, const brSearch *s, bool cached)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 4);
    busPack_KeyStr(&pk, "pattern", s->pattern);
    busPack_KeyBool(&pk, "cached", cached);
    busPack_KeyInt(&pk, "count", s->count);
    busPack_Str(&pk, "matches");
    msgpack_sbuffer_write(&sb, s->items, s->items_len);
    br_replyChecked(b, req, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
}

/* Every waiter gets the answer (or the error when slug is set); they are released. */
static void settle(brBridge *b, brSearch *s, const char *slug, const char *msg, const ibError *e)
{
    searchWaiter *w = s->waiters;
    s->waiters = NULL;
    while (w) {
        searchWaiter *n = w->next;
        if (e)
            br_replyIbError(w->req, e);
        else if (slug)
            busRequest_Error(w->req, slug, msg, 0);
        else
            answer_one(b, w->req, s, false);
        busRequest_Release(w->req);
        free(w);
        w = n;
    }
}

/* One match: {key, contract, derivative_sec_types, description}. */
static void pack_sample(msgpack_packer *pk, ibSymbolSample *it)
{
    ibContract c = {.con_id = it->con_id,
                    .symbol = it->symbol,
                    .sec_type = it->sec_type,
                    .primary_exchange = it->primary_exchange,
                    .currency = it->currency,
                    .strike = IB_UNSET_DOUBLE};
    if (strcmp(it->sec_type ? it->sec_type : "", "STK") != 0)
        c.exchange = it->primary_exchange; /* only a stock routes SMART */
    msgpack_pack_map(pk, 4);
    br_packKeyContract(pk, &c, NULL);
    busPack_Str(pk, "derivative_sec_types");
    msgpack_pack_array(pk, (size_t)it->deriv_count);
    const char *t;
    for (int i = 0; i < it->deriv_count; i++)
        busPack_Str(pk, ibSymbolSample_NextDeriv(it, &t) ? t : "");
    busPack_KeyStr(pk, "description", it->description ? it->description : "");
}

static void on_samples(brBridge *b, int64_t req_id, const ibReply *r, void *ctx)
{
    brSearch *s = ctx;
    if (r->id != IB_MSG_SYMBOL_SAMPLES)
        return;
    br_reqClose(b, req_id);
    s->req_id = 0;
    ibSymbolSamples ss = r->u.symbol_samples;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, (size_t)ss.count);
    ibSymbolSample it;
    int n = 0;
    while (n < ss.count && ibSymbolSamples_Next(&ss, &it)) {
        pack_sample(&pk, &it);
        n++;
    }
    for (; n < ss.count; n++)
        msgpack_pack_nil(&pk); /* not reached: the decoder validated every item */
    s->items = sb.data;        /* the buffer is ours now */
    s->items_len = sb.size;
    s->count = ss.count;
    s->cached_at_ms = br_nowMs(b);
    IBB_INFO("discovery.searched", "pattern=\"%s\" symbols=%d", s->pattern, s->count);
    settle(b, s, NULL, NULL, NULL);
}

static void on_search_error(brBridge *b, int64_t req_id, const ibError *e, void *ctx)
{
    brSearch *s = ctx;
    br_reqClose(b, req_id);
    s->req_id = 0;
    settle(b, s, NULL, NULL, e);
    search_free(b, s);
}

static void on_search_lost(brBridge *b, int64_t req_id, void *ctx)
{
    brSearch *s = ctx;
    br_reqClose(b, req_id);
    s->req_id = 0;
    settle(b, s, "ib_unavailable", "the IB link dropped before IB answered the search; retry", NULL);
    search_free(b, s);
}

static const brPendingOps search_ops = {on_samples, on_search_error, on_search_lost};

static bool anyone_waits(const brSearch *s)
{
    for (const searchWaiter *w = s->waiters; w; w = w->next)
        if (!busRequest_Answered(w->req))
            return true;
    return false;
}

/* The queue's next search, when its turn has come. */
static void send_next(brBridge *b)
{
    brDiscovery *d = brd_mod(b);
    while (d->queue_head) {
        int64_t now = br_nowMs(b);
        if (d->last_sent_ms && now - d->last_sent_ms < SEARCH_GAP_MS) {
            arm_timer(b);
            return;
        }
        brSearch *s = d->queue_head;
        d->queue_head = s->next_queued;
        if (!d->queue_head)
            d->queue_tail = NULL;
        s->queued = false;
        if (!anyone_waits(s)) { /* every caller gave up: IB is not asked */
            search_free(b, s);
            continue;
        }
        ibRequest rq;
        ibRequest_Init(&rq, IB_REQ_MATCHING_SYMBOLS);
        s->req_id = br_reqOpen(b, &search_ops, s);
        rq.u.matching_symbols.req_id = s->req_id;
        rq.u.matching_symbols.pattern = s->pattern;
        if (s->req_id < 0 || br_send(b, &rq) != IBB_OK) {
            if (s->req_id > 0)
                br_reqClose(b, s->req_id);
            s->req_id = 0;
            settle(b, s, "ib_unavailable", "reqMatchingSymbols could not be sent to IB; retry", NULL);
            search_free(b, s);
            continue;
        }
        d->last_sent_ms = now;
        d->searches_sent++;
    }
}

static void on_timer(uv_timer_t *t) { send_next(t->data); }

static void arm_timer(brBridge *b)
{
    brDiscovery *d = brd_mod(b);
    int64_t wait = d->last_sent_ms + SEARCH_GAP_MS - br_nowMs(b);
    uv_timer_start(d->timer, on_timer, (uint64_t)(wait > 0 ? wait : 0) + 1, 0);
}

/* The pattern, trimmed and upper-cased into out; false after answering and releasing req. */
static bool read_pattern(busRequest *req, char *out)
{
    const char *s;
    size_t n;
    ibbStatus st = busObj_Str(busRequest_Body(req), "pattern", &s, &n);
    if (st != IBB_OK) {
        busRequest_FailField(req, "pattern", st, "string");
        return false;
    }
    while (n && s[0] == ' ')
        s++, n--;
    while (n && s[n - 1] == ' ')
        n--;
    if (n < 2 || n > PATTERN_MAX) {
        busRequest_Failf(req, "bad_request", 0,
                         "field 'pattern' must be 2 to %d characters (the start of a symbol or a word of the "
                         "company name); got %zu",
                         PATTERN_MAX, n);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 32 || c > 126) {
            busRequest_Fail(req, "bad_request", "field 'pattern' must be printable ASCII", 0);
            return false;
        }
        out[i] = (char)(c >= 'a' && c <= 'z' ? c - 32 : c);
    }
    out[n] = '\0';
    return true;
}

static void on_search(busRequest *req, void *arg)
{
    brBridge *b = arg;
    brDiscovery *d = brd_mod(b);
    char pat[PATTERN_MAX + 1];
    if (!read_pattern(req, pat))
        return;
    brSearch *s = ibbMap_Get(d->searches, pat);
    if (s && s->items && br_nowMs(b) - s->cached_at_ms > SEARCH_CACHE_MS && !s->waiters) {
        search_free(b, s); /* stale */
        s = NULL;
    }
    if (s && s->items) {
        d->searches_cached++;
        answer_one(b, req, s, true);
        busRequest_Release(req);
        return;
    }
    if (!s && !br_requireIb(b, req)) {
        busRequest_Release(req);
        return;
    }
    searchWaiter *w = malloc(sizeof *w);
    if (!s && w && (s = calloc(1, sizeof *s))) {
        snprintf(s->pattern, sizeof s->pattern, "%s", pat);
        if (ibbMap_Put(d->searches, s->pattern, s) != IBB_OK) {
            free(s);
            s = NULL;
        } else {
            s->queued = true;
            if (d->queue_tail)
                d->queue_tail->next_queued = s;
            else
                d->queue_head = s;
            d->queue_tail = s;
        }
    }
    if (!w || !s) {
        free(w);
        busRequest_Fail(req, "internal", "out of memory", 0);
        return;
    }
    w->req = req;
    w->next = s->waiters;
    s->waiters = w;
    send_next(b);
}

/* ---- module --------------------------------------------------------------------------------------- */

static ibbStatus discovery_init(brBridge *b)
{
    brDiscovery *d = calloc(1, sizeof *d);
    if (!d)
        return IBB_ERR_NOMEM;
    b->mod[BR_MOD_DISCOVERY] = d;
    if (ibbMap_Create(&d->searches) != IBB_OK || !(d->timer = malloc(sizeof *d->timer)))
        return IBB_ERR_NOMEM;
    uv_timer_init(b->loop, d->timer);
    d->timer->data = b;
    busEndpointDef def = {
        .name = "contract_search", .subject = "contract.search", .handler = on_search, .arg = b};
    ibbStatus s = busService_AddEndpoint(b->svc, &def);
    return s == IBB_OK ? brd_scanInit(b) : s;
}

static bool discovery_on_reply(brBridge *b, const ibReply *r)
{
    return b->mod[BR_MOD_DISCOVERY] && brd_scanOnReply(b, r);
}

/* The link dropped: queued searches fail (those at IB fail through their lost request). */
static void discovery_on_ib_down(brBridge *b)
{
    brDiscovery *d = brd_mod(b);
    if (!d)
        return;
    while (d->queue_head) {
        brSearch *s = d->queue_head;
        d->queue_head = s->next_queued;
        settle(b, s, "ib_unavailable", "the IB link dropped before the search was sent; retry", NULL);
        search_free(b, s);
    }
    d->queue_tail = NULL;
    brd_scanIbDown(b);
}

static void discovery_on_stop(brBridge *b)
{
    brDiscovery *d = brd_mod(b);
    if (d && d->timer) {
        uv_timer_stop(d->timer);
        uv_close((uv_handle_t *)d->timer, (uv_close_cb)free);
        d->timer = NULL;
    }
}

static void discovery_fini(brBridge *b)
{
    brDiscovery *d = brd_mod(b);
    if (!d)
        return;
    discovery_on_stop(b);
    brd_scanFini(b);
    if (d->searches) {
        ibbMapIter it;
        void *v;
        ibbMapIter_Init(&it, d->searches);
        size_t n = ibbMap_Count(d->searches), k = 0;
        brSearch **all = n ? calloc(n, sizeof *all) : NULL;
        while (all && k < n && ibbMapIter_Next(&it, NULL, NULL, &v))
            all[k++] = v;
        for (size_t i = 0; i < k; i++) {
            settle(b, all[i], "unavailable", "ib-bridge is stopping", NULL);
            search_free(b, all[i]);
        }
        free(all);
        ibbMap_Destroy(d->searches);
    }
    free(d);
    b->mod[BR_MOD_DISCOVERY] = NULL;
}

const brModule br_discoveryModule = {
    .name = "discovery",
    .init = discovery_init,
    .on_reply = discovery_on_reply,
    .on_ib_down = discovery_on_ib_down,
    .on_stop = discovery_on_stop,
    .fini = discovery_fini,
};
