/* br_quotes.c — streaming quotes: leases, one reqMktData per instrument, ib.quote.<key> events,
 * ib.rpc.subscribe / unsubscribe / quote, IB snapshots, the KV last-value cache (br_quotes_kv.c).
 *
 * Leases (st_leases) hold instrument keys; the table's acquire hook creates an instrument record
 * (qinst, also the stQuote's user pointer) and subscribes it at IB, the release hook cancels it.
 * A record goes WAIT_IB -> (RESOLVING ->) SUBSCRIBED -> STREAMING, or FAILED when IB refused the
 * line (200, 354, 101, 10168, ...: the status stays on the record and its subject). Every
 * reconnect (and notice 1101) subscribes each record again with a new request id; the subject and
 * the seq continue.
 *
 * Hot path: on_reply finds the quote by request id and applies the tick (no allocation);
 * on_read_done flushes the book: one event per touched instrument per socket read, packed straight
 * into the quote publisher, then the KV slot is touched (throttled write); then busPublisher_Flush
 * puts the read's events on the wire in one write (nats.c alone would hold them ~1 ms).
 *
 * Snapshots (ib.rpc.quote, and br_quoteSnapshot for other modules, e.g. order pricing): one IB
 * snapshot per key in flight, shared by every waiter; each counts as a market-data line, so leased
 * keys + snapshots in flight stay within ib.md_line_budget (line_limit before IB would say 101).
 *
 * Ownership: the module owns its records, snapshots and waits (freed at fini); book and leases are
 * b->book / b->leases (destroyed by brBridge_Destroy). Timers are closed in on_stop. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "br_internal.h"
#include "br_quotes_kv.h"
#include "ibb_log.h"

#define MAX_SUB_ITEMS 100
#define DEFAULT_TTL_S 60
#define MAX_TTL_S 86400
#define SETTLE_MAX_MS 1500       /* a subscribe reply waits this long at most for IB's first answer */
#define KV_MIN_INTERVAL_MS 250

typedef enum { QI_WAIT_IB, QI_RESOLVING, QI_SUBSCRIBED, QI_STREAMING, QI_FAILED } qiState;

typedef struct qinst {
    char key[ST_KEY_MAX];
    char suffix[ST_KEY_MAX + 8];     /* "quote.<key>" */
    stQuote *q;                      /* in b->book */
    qiState state;
    bool settled;                    /* IB answered the current reqMktData */
    brQuoteKvSlot *kv;
    char *contract_mp;               /* q->spec's contract map, packed once; freed where q->spec changes */
    size_t contract_len;
} qinst;

typedef struct subWait {             /* a subscribe reply waiting for IB's first answers */
    brBridge *b;
    busRequest *req;
    char lease_id[ST_LEASE_ID_LEN + 1];
    int64_t ttl_s;
    char (*keys)[ST_KEY_MAX];
    size_t nkeys;
    uv_timer_t timer;
    struct subWait *prev, *next;
} subWait;

typedef struct subItem {
    struct subReq *r;
    size_t i;
} subItem;

typedef struct subReq {              /* a subscribe request resolving its instruments */
    brBridge *b;
    busRequest *req;
    char lease_id[ST_LEASE_ID_LEN + 1];
    int64_t ttl_s;
    size_t n, outstanding;
    char (*keys)[ST_KEY_MAX];        /* as asked */
    char (*canon)[ST_KEY_MAX];       /* canonical keys of the resolved instruments */
    stInstrumentSpec *specs;
    subItem *items;
    bool failed;
    char err_slug[32];
    char err_msg[400];
    int err_code;
} subReq;

typedef struct snapWaiter {          /* an ib.rpc.quote (req) or another module's callback (fn) */
    busRequest *req;
    brSnapFn fn;
    void *ctx;
    int64_t timeout_ms, deadline;    /* deadline: loop ms */
    struct snapWaiter *next;
} snapWaiter;

typedef struct snap {                /* one IB snapshot in flight (shared by every waiter of its key) */
    brBridge *b;
    char key[ST_KEY_MAX];
    uint64_t id;                     /* tells a late resolution whether it is still for this one */
    int64_t req_id;                  /* 0 while resolving */
    stQuote *q;                      /* in the module's snapshot book while subscribed */
    snapWaiter *waiters;
    uv_timer_t timer;                /* the earliest waiter's deadline */
    bool done;                       /* finished; freed by the timer's close callback */
    struct snap *fin_next;           /* on m->finishing while its waiters are answered */
} snap;

typedef struct quotes {
    ibbMap *insts;                   /* key -> qinst* */
    ibbMap *snaps;                   /* key -> snap* (in flight: each counts as a market-data line) */
    snap *finishing;                 /* snapshots answering their waiters (br_quoteSnapshotCancel) */
    uint64_t snap_seq;
    stQuoteBook *snapbook;
    const subReq *staging;           /* the grant in progress: specs for acquire */
    subWait *waits;
    uv_timer_t lease_timer;
    bool timer_open, stopping, settle_check;
    brQuoteKv *kv;
    uint64_t events, resubscribes;
} quotes;

static quotes *mod(const brBridge *b) { return b->mod[BR_MOD_QUOTES]; }
/* Snapshots in flight: each holds a market-data line at IB until it ends. */
size_t br_quoteSnapshotLines(const brBridge *b)
{
    return b->mod[BR_MOD_QUOTES] ? ibbMap_Count(mod(b)->snaps) : 0;
}

/* ---------------------------------------------------------------------------------------------- */
/* packing                                                                                         */
/* ---------------------------------------------------------------------------------------------- */

static const char *status_slug(int64_t code)
{
    switch (code) {
    case 200: return "unknown_symbol";
    case 101: return "line_limit";
    case 10167: return "delayed_data";
    case 354: case 10168: case 10197: case 10089: case 10090: return "forbidden";
    case 0: return "ok";
    default: return "ib_error";
    }
}

static void pack_status(msgpack_packer *pk, const stQuote *q)
{
    msgpack_pack_map(pk, 3);
    busPack_KeyStr(pk, "code", status_slug(q->status_ib_code));
    busPack_KeyStr(pk, "message", q->status_msg);
    busPack_KeyInt(pk, "ib_code", q->status_ib_code);
}

/* Appends the contract map of qi's quote: packed once, then copied (packing its eight strings took a
 * sixth of the loop's time per event). Whoever changes qi->q->spec calls drop_contract. */
static void pack_contract(msgpack_packer *pk, qinst *qi, const stInstrumentSpec *spec)
{
    if (qi && !qi->contract_mp) {
        msgpack_sbuffer sb;
        msgpack_packer tmp;
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&tmp, &sb, msgpack_sbuffer_write);
        br_packContract(&tmp, spec);
        free(qi->contract_mp);
        /* an exact copy: the sbuffer's 8 KiB would cost a page of RSS per instrument */
        qi->contract_mp = sb.data ? malloc(sb.size) : NULL; /* NULL on OOM: packed in place below */
        qi->contract_len = sb.size;
        if (qi->contract_mp)
            memcpy(qi->contract_mp, sb.data, sb.size);
        msgpack_sbuffer_destroy(&sb);
    }
    if (qi && qi->contract_mp)
        pk->callback(pk->data, qi->contract_mp, qi->contract_len);
    else
        br_packContract(pk, spec);
}

static void drop_contract(qinst *qi)
{
    free(qi->contract_mp);
    qi->contract_mp = NULL;
}

static void qinst_free(qinst *qi)
{
    if (qi)
        free(qi->contract_mp);
    free(qi);
}

/* The quote map (schemas/quote_event.json; with source for ib.rpc.quote). seq_override >= 0 replaces
 * seq; qi (may be NULL) caches the packed contract. */
static void pack_quote(msgpack_packer *pk, const stQuote *q, qinst *qi, const char *source,
                       int64_t seq_override)
{
    const struct { const char *k; double v; } nums[] = {
        {"bid", q->bid}, {"ask", q->ask}, {"last", q->last}, {"bid_size", q->bid_size},
        {"ask_size", q->ask_size}, {"last_size", q->last_size}, {"volume", q->volume}, {"open", q->open},
        {"high", q->high}, {"low", q->low}, {"close", q->close},
    };
    size_t n = 5;
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++)
        n += !isnan(nums[i].v);
    n += (q->halted >= 0) + (q->last_trade_ts > 0) + (q->status_ib_code != 0) + (source != NULL);
    msgpack_pack_map(pk, n);
    busPack_KeyStr(pk, "key", q->key);
    busPack_KeyInt(pk, "seq", seq_override >= 0 ? seq_override : (int64_t)q->seq);
    busPack_Str(pk, "contract");
    pack_contract(pk, qi, &q->spec);
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++)
        if (!isnan(nums[i].v))
            busPack_KeyDouble(pk, nums[i].k, nums[i].v);
    if (q->halted >= 0)
        busPack_KeyBool(pk, "halted", q->halted == 1);
    busPack_KeyStr(pk, "market_data_type", stMarketDataType_Name(q->market_data_type));
    if (q->last_trade_ts > 0)
        busPack_KeyInt(pk, "last_trade_ts", q->last_trade_ts);
    busPack_KeyInt(pk, "recv_ts_ns", q->recv_ts_ns ? q->recv_ts_ns : br_wallNs());
    if (q->status_ib_code != 0) {
        busPack_Str(pk, "status");
        pack_status(pk, q);
    }
    if (source)
        busPack_KeyStr(pk, "source", source);
}

static void kv_pack(void *ud, const char *key, msgpack_packer *pk)
{
    brBridge *b = ud;
    const stQuote *q = stQuoteBook_Find(b->book, key);
    if (q)
        pack_quote(pk, q, q->user, NULL, -1);
    else
        msgpack_pack_nil(pk);
}

static void publish_one(void *ud, stQuote *q)
{
    brBridge *b = ud;
    qinst *qi = q->user;
    if (!qi)
        return;
    pack_quote(busPublisher_Packer(b->quote_pub), q, qi, NULL, -1);
    busPublisher_Send(b->quote_pub, qi->suffix);
    mod(b)->events++;
    brQuoteKv_Touch(mod(b)->kv, qi->kv);
}

static void check_waits(brBridge *b);

static void flush(brBridge *b)
{
    quotes *m = mod(b);
    uint64_t before = m->events;
    stQuoteBook_Flush(b->book, publish_one, b);
    if (m->events != before)
        busPublisher_Flush(b->quote_pub); /* on the wire now, not after nats.c's 1 ms flusher wait */
    stQuoteBook_Flush(m->snapbook, NULL, NULL); /* snapshot records are answered, never published */
    if (m->settle_check) {
        m->settle_check = false;
        check_waits(b);
    }
}

/* ---------------------------------------------------------------------------------------------- */
/* streaming lines                                                                                 */
/* ---------------------------------------------------------------------------------------------- */

/* Errors after which IB has dropped the request (the others are warnings about a live line). */
static bool terminal_error(int64_t code)
{
    return !(code == 10167 || code == 10197 || code == 10090 || code >= 2100);
}

static void on_stream_error(brBridge *b, int64_t req_id, const ibError *e, void *ctx)
{
    qinst *qi = ctx;
    qi->settled = true;
    mod(b)->settle_check = true;
    stQuote_SetStatus(b->book, qi->q, e->code, e->message);
    if (terminal_error(e->code)) {
        stQuoteBook_Unbind(b->book, qi->q);
        br_reqClose(b, req_id);
        qi->state = QI_FAILED;
        IBB_WARN("quotes.line_failed", "key=%s ib_code=%" PRId64 " text=\"%s\"", qi->key, e->code,
                 e->message);
    } else {
        IBB_INFO("quotes.line_status", "key=%s ib_code=%" PRId64 " text=\"%s\"", qi->key, e->code,
                 e->message);
    }
}

static void on_stream_lost(brBridge *b, int64_t req_id, void *ctx)
{
    qinst *qi = ctx;
    stQuoteBook_Unbind(b->book, qi->q);
    br_reqClose(b, req_id);
    qi->state = QI_WAIT_IB;
    qi->settled = false;
}

static const brPendingOps stream_ops = {NULL, on_stream_error, on_stream_lost};

static void start_stream(brBridge *b, qinst *qi)
{
    if (!b->ib_ready || mod(b)->stopping)
        return;
    int64_t id = br_reqOpen(b, &stream_ops, qi);
    if (id < 0 || stQuoteBook_Bind(b->book, qi->q, id) != IBB_OK) {
        if (id >= 0)
            br_reqClose(b, id);
        IBB_ERROR("quotes.subscribe_failed", "key=%s reason=out_of_memory", qi->key);
        return;
    }
    ibRequest rq;
    ibRequest_Init(&rq, IB_REQ_MKT_DATA);
    rq.u.mkt_data.req_id = id;
    stInstrument_ToContract(&qi->q->spec, &rq.u.mkt_data.contract);
    rq.u.mkt_data.generic_ticks = "";
    if (br_send(b, &rq) != IBB_OK) {
        stQuoteBook_Unbind(b->book, qi->q);
        br_reqClose(b, id);
        qi->state = QI_WAIT_IB;
        return;
    }
    qi->state = QI_SUBSCRIBED;
    qi->settled = false;
    IBB_DEBUG("quotes.subscribe", "key=%s req_id=%" PRId64, qi->key, id);
}

static void stop_stream(brBridge *b, qinst *qi)
{
    int64_t id = qi->q->req_id;
    if (id == 0)
        return;
    if (b->ib_ready && br_reqSent(b, id)) { /* still queued: closing the id below drops it unsent */
        ibRequest rq;
        ibRequest_Init(&rq, IB_REQ_CANCEL_MKT_DATA);
        rq.u.cancel.req_id = id;
        br_send(b, &rq);
    }
    stQuoteBook_Unbind(b->book, qi->q);
    br_reqClose(b, id);
}

static void on_inst_resolved(brBridge *b, void *ctx, const brInstrument *inst, const char *slug,
                             const char *msg, int ib_code)
{
    char *key = ctx;
    qinst *qi = ibbMap_Get(mod(b)->insts, key);
    free(key);
    if (!qi || qi->state != QI_RESOLVING)
        return; /* released meanwhile */
    if (inst) {
        qi->q->spec = inst->spec;
        drop_contract(qi);
        qi->state = QI_WAIT_IB;
        start_stream(b, qi);
        return;
    }
    if (strcmp(slug, "ib_unavailable") == 0) {
        qi->state = QI_WAIT_IB; /* resolved again when IB is back */
        return;
    }
    qi->state = QI_FAILED;
    qi->settled = true;
    mod(b)->settle_check = true;
    stQuote_SetStatus(b->book, qi->q, ib_code ? ib_code : 200, msg);
    IBB_WARN("quotes.resolve_failed", "key=%s error=%s text=\"%s\"", qi->key, slug, msg);
}

/* Subscribes a record: resolves it first when its conId is unknown. */
static void activate(brBridge *b, qinst *qi)
{
    if (!b->ib_ready || mod(b)->stopping)
        return;
    if (qi->q->spec.con_id > 0) {
        start_stream(b, qi);
        return;
    }
    char *ctx = strdup(qi->key);
    if (!ctx)
        return;
    qi->state = QI_RESOLVING;
    br_resolve(b, qi->key, on_inst_resolved, ctx);
}

/* ---- lease hooks --------------------------------------------------------------------------------- */

static void on_acquire(void *ud, const char *key)
{
    brBridge *b = ud;
    quotes *m = mod(b);
    stInstrumentSpec spec;
    memset(&spec, 0, sizeof spec);
    bool known = false;
    for (size_t i = 0; m->staging && i < m->staging->n && !known; i++)
        if (strcmp(m->staging->canon[i], key) == 0) {
            spec = m->staging->specs[i];
            known = true;
        }
    const brInstrument *inst = known ? NULL : br_instrument(b, key);
    if (inst) {
        spec = inst->spec;
        known = true;
    }
    if (!known && stInstrument_ParseKey(key, &spec, NULL) != IBB_OK)
        memset(&spec, 0, sizeof spec);
    qinst *qi = calloc(1, sizeof *qi);
    stQuote *q = qi ? stQuoteBook_Add(b->book, key, &spec) : NULL;
    if (!q || ibbMap_Put(m->insts, key, qi) != IBB_OK) {
        if (q)
            stQuoteBook_Remove(b->book, key);
        qinst_free(qi);
        IBB_ERROR("quotes.acquire_failed", "key=%s reason=out_of_memory", key);
        return;
    }
    snprintf(qi->key, sizeof qi->key, "%s", key);
    snprintf(qi->suffix, sizeof qi->suffix, "quote.%s", key);
    qi->q = q;
    q->user = qi;
    q->spec = spec;
    qi->state = QI_WAIT_IB;
    qi->kv = brQuoteKv_Slot(m->kv, key);
    IBB_INFO("quotes.acquire", "key=%s lines=%zu", key, stQuoteBook_Count(b->book));
    activate(b, qi);
}

static void on_release(void *ud, const char *key)
{
    brBridge *b = ud;
    quotes *m = mod(b);
    qinst *qi = ibbMap_Del(m->insts, key);
    if (!qi)
        return;
    stop_stream(b, qi);
    brQuoteKv_Drop(m->kv, qi->kv);
    qi->q->user = NULL;
    stQuoteBook_Remove(b->book, key);
    IBB_INFO("quotes.release", "key=%s lines=%zu", key, stQuoteBook_Count(b->book));
    qinst_free(qi);
    m->settle_check = true;
}

/* ---- lease expiry ------------------------------------------------------------------------------- */

static void arm_lease_timer(brBridge *b);

static void on_lease_timer(uv_timer_t *t)
{
    brBridge *b = t->data;
    size_t n = stLeases_Expire(b->leases, br_nowMs(b));
    if (n)
        IBB_INFO("quotes.leases_expired", "count=%zu leases=%zu lines=%zu", n, stLeases_LeaseCount(b->leases),
                 stLeases_KeyCount(b->leases));
    arm_lease_timer(b);
}

void br_quotesLeasesChanged(brBridge *b) { arm_lease_timer(b); }

static void arm_lease_timer(brBridge *b)
{
    quotes *m = mod(b);
    if (!m->timer_open || m->stopping)
        return;
    int64_t next = stLeases_NextExpiry(b->leases);
    if (next == INT64_MAX) {
        uv_timer_stop(&m->lease_timer);
        return;
    }
    int64_t delay = next - br_nowMs(b);
    uv_timer_start(&m->lease_timer, on_lease_timer, (uint64_t)(delay > 0 ? delay : 0), 0);
}

/* ---------------------------------------------------------------------------------------------- */
/* ib.rpc.subscribe                                                                                */
/* ---------------------------------------------------------------------------------------------- */

static void format_utc(int64_t wall_ms, char *out, size_t cap)
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
    format_utc(br_wallNs() / 1000000 + (exp > 0 && exp != INT64_MAX ? exp - br_nowMs(b) : ttl_s * 1000), when,
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
            pack_status(pk, qi->q);
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

static void finish_wait(subWait *w)
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

static void on_wait_timer(uv_timer_t *t) { finish_wait(t->data); }

static void check_waits(brBridge *b)
{
    for (subWait *w = mod(b)->waits, *next; w; w = next) {
        next = w->next;
        if (busRequest_Answered(w->req) || wait_settled(b, w))
            finish_wait(w);
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
    arm_lease_timer(b);
    br_haLeaseSaved(b, id); /* HA: the lease survives a takeover */
    /* instruments IB refused before get another chance with this subscribe */
    for (size_t i = 0; i < n; i++) {
        qinst *qi = ibbMap_Get(m->insts, r->canon[i]);
        if (qi && qi->state == QI_FAILED) {
            stQuote_SetStatus(b->book, qi->q, 0, NULL);
            qi->state = QI_WAIT_IB;
            activate(b, qi);
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
        finish_wait(w);
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

/* Reads the keys of a subscribe body into r->keys (unique, as asked). false = answered with an error. */
static bool parse_keys(busRequest *req, subReq *r, const msgpack_object_array *syms,
                       const msgpack_object_array *cons)
{
    size_t total = (syms ? syms->size : 0) + (cons ? cons->size : 0);
    if (total > MAX_SUB_ITEMS) {
        busRequest_Errorf(req, "bad_request", 0, "at most %d instruments per lease (got %zu)", MAX_SUB_ITEMS,
                          total);
        return false;
    }
    r->keys = calloc(total ? total : 1, sizeof *r->keys);
    if (!r->keys) {
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
        for (size_t j = 0; j < r->n && !dup; j++)
            dup = strcmp(r->keys[j], key) == 0;
        if (!dup)
            snprintf(r->keys[r->n++], ST_KEY_MAX, "%s", key);
    }
    return true;
}

static void on_subscribe(busRequest *req, void *arg)
{
    brBridge *b = arg;
    const msgpack_object *body = busRequest_Body(req);
    subReq *r = calloc(1, sizeof *r);
    if (!r) {
        busRequest_Error(req, "internal", "out of memory", 0);
        busRequest_Release(req);
        return;
    }
    r->b = b;
    r->req = req;
    r->ttl_s = DEFAULT_TTL_S;
    ibbStatus st = busObj_Int(body, "ttl_s", &r->ttl_s);
    const msgpack_object_array *syms = NULL, *cons = NULL;
    ibbStatus ss = busObj_Array(body, "symbols", &syms), cs = busObj_Array(body, "contracts", &cons);
    ibbStatus ls = busObj_StrCopy(body, "lease_id", r->lease_id, sizeof r->lease_id);
    bool ok = false;
    if (st != IBB_OK && st != IBB_ERR_NOT_FOUND)
        busRequest_BadField(req, "ttl_s", st, "integer");
    else if (r->ttl_s < 1 || r->ttl_s > MAX_TTL_S)
        busRequest_Errorf(req, "bad_request", 0, "field 'ttl_s' must be 1 to %d seconds", MAX_TTL_S);
    else if (ss != IBB_OK && ss != IBB_ERR_NOT_FOUND)
        busRequest_BadField(req, "symbols", ss, "array of strings");
    else if (cs != IBB_OK && cs != IBB_ERR_NOT_FOUND)
        busRequest_BadField(req, "contracts", cs, "array of objects");
    else if (ls == IBB_ERR_LIMIT)
        busRequest_Error(req, "not_found", "no lease with this lease_id (it ended or expired)", 0);
    else if (ls != IBB_OK && ls != IBB_ERR_NOT_FOUND)
        busRequest_BadField(req, "lease_id", ls, "string");
    else if (r->lease_id[0] && stLeases_ExpiresAt(b->leases, r->lease_id) < br_nowMs(b))
        busRequest_Error(req, "not_found",
                         "no lease with this lease_id (it ended or expired): subscribe without "
                         "lease_id for a new one",
                         0);
    else if (parse_keys(req, r, syms, cons))
        ok = true;
    if (ok && r->n == 0) {
        const char *const *old;
        size_t nold;
        if (r->lease_id[0] && stLeases_Keys(b->leases, r->lease_id, &old, &nold) == IBB_OK) {
            free(r->keys); /* renewal: the same instruments */
            r->keys = calloc(nold ? nold : 1, sizeof *r->keys);
            r->n = 0;
            for (size_t i = 0; r->keys && i < nold && i < MAX_SUB_ITEMS; i++)
                snprintf(r->keys[r->n++], ST_KEY_MAX, "%s", old[i]);
        }
        if (!r->lease_id[0]) {
            busRequest_Error(req, "bad_request",
                             "give 'symbols' (instrument keys such as [\"AAPL\"]) or 'contracts', "
                             "or 'lease_id' to renew a lease",
                             0);
            ok = false;
        }
    }
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

static void on_unsubscribe(busRequest *req, void *arg)
{
    brBridge *b = arg;
    char id[ST_LEASE_ID_LEN + 1];
    ibbStatus s = busObj_StrCopy(busRequest_Body(req), "lease_id", id, sizeof id);
    if (s == IBB_ERR_NOT_FOUND || s == IBB_ERR_INVALID_ARG)
        busRequest_BadField(req, "lease_id", s, "string");
    else if (s != IBB_OK || stLeases_End(b->leases, id) != IBB_OK)
        busRequest_Error(req, "not_found", "no lease with this lease_id (it ended or expired)", 0);
    else {
        arm_lease_timer(b);
        br_haLeaseEnded(b, id);
        IBB_INFO("quotes.lease_end", "lease=%.8s leases=%zu lines=%zu", id, stLeases_LeaseCount(b->leases),
                 stLeases_KeyCount(b->leases));
        msgpack_packer *pk = busRequest_Packer(req);
        msgpack_pack_map(pk, 3);
        busPack_KeyStr(pk, "lease_id", id);
        busPack_KeyBool(pk, "ended", true);
        busPack_KeyInt(pk, "lines_used", (int64_t)stLeases_KeyCount(b->leases));
        busRequest_ReplyPacked(req);
    }
    busRequest_Release(req);
}

/* ---------------------------------------------------------------------------------------------- */
/* ib.rpc.quote and snapshots                                                                      */
/* ---------------------------------------------------------------------------------------------- */

/* A snapshot serves ib.rpc.quote and other modules (br_quoteSnapshot: order pricing) alike: one
 * record per key in flight, each waiter with its own deadline. It counts as a market-data line from
 * its creation until IB ends it (tickSnapshotEnd or an error), the link drops, or nobody waits any
 * more (then it is cancelled at IB): leased keys + snapshots in flight never pass ib.md_line_budget.
 * Its record is freed by the timer's close callback, so it stays readable for the rest of the loop
 * turn that finished it; a resolution answers through its key and id, never a pointer. */

static void snap_free_cb(uv_handle_t *h) { free(h->data); }

/* Answers one waiter and frees it. q: the quote (slug NULL), or what arrived before the error. */
static void waiter_answer(brBridge *b, snapWaiter *w, const stQuote *q, int64_t seq, const char *slug,
                          const char *msg, int ib_code)
{
    if (!w->req) {
        w->fn(b, w->ctx, q, slug, msg, ib_code);
    } else {
        if (slug)
            busRequest_Error(w->req, slug, msg, ib_code);
        else if (q) {
            pack_quote(busRequest_Packer(w->req), q, NULL, "snapshot", seq);
            busRequest_ReplyPacked(w->req);
        } else
            busRequest_Error(w->req, "internal", "the snapshot ended without a quote", 0);
        busRequest_Release(w->req);
    }
    free(w);
}

/* Ends a snapshot: forgets it (its line is free), then answers every waiter (error when slug). */
static void snap_finish(snap *sn, const char *slug, const char *msg, int ib_code)
{
    brBridge *b = sn->b;
    quotes *m = mod(b);
    if (sn->done)
        return;
    sn->done = true;
    if (ibbMap_Get(m->snaps, sn->key) == sn)
        ibbMap_Del(m->snaps, sn->key);
    if (sn->req_id)
        br_reqClose(b, sn->req_id);
    sn->req_id = 0;
    uv_timer_stop(&sn->timer);
    /* a copy answers, so a waiter may start the next snapshot of this key at once */
    stQuote copy;
    const stQuote *q = NULL;
    if (sn->q) {
        copy = *sn->q;
        q = &copy;
        stQuoteBook_Remove(m->snapbook, sn->key);
        sn->q = NULL;
    }
    const qinst *qi = ibbMap_Get(m->insts, sn->key);
    int64_t seq = qi ? (int64_t)qi->q->seq : 0;
    sn->fin_next = m->finishing;
    m->finishing = sn;
    while (sn->waiters) {
        snapWaiter *w = sn->waiters;
        sn->waiters = w->next;
        waiter_answer(b, w, q, seq, slug, msg, ib_code);
    }
    for (snap **pp = &m->finishing; *pp; pp = &(*pp)->fin_next)
        if (*pp == sn) {
            *pp = sn->fin_next;
            break;
        }
    uv_close((uv_handle_t *)&sn->timer, snap_free_cb);
}

/* Nobody waits any more: free the line now (cancelled at IB when it was sent; the pacer sends
 * cancels first, so IB has let it go before any later request reaches it). */
static void snap_abandon(snap *sn)
{
    brBridge *b = sn->b;
    if (sn->req_id && b->ib_ready && br_reqSent(b, sn->req_id)) { /* still queued: dropped unsent */
        ibRequest rq;
        ibRequest_Init(&rq, IB_REQ_CANCEL_MKT_DATA);
        rq.u.cancel.req_id = sn->req_id;
        br_send(b, &rq);
    }
    IBB_INFO("quotes.snapshot_abandoned", "key=%s req_id=%" PRId64, sn->key, sn->req_id);
    snap_finish(sn, NULL, NULL, 0);
}

static void on_snap_timer(uv_timer_t *t);

static void snap_arm(snap *sn)
{
    int64_t next = INT64_MAX;
    for (const snapWaiter *w = sn->waiters; w; w = w->next)
        if (w->deadline < next)
            next = w->deadline;
    if (next == INT64_MAX)
        return;
    int64_t delay = next - br_nowMs(sn->b);
    uv_timer_start(&sn->timer, on_snap_timer, (uint64_t)(delay > 0 ? delay : 0), 0);
}

/* The earliest deadline passed: those waiters get `timeout` (a callback also gets what arrived). */
static void on_snap_timer(uv_timer_t *t)
{
    snap *sn = t->data;
    brBridge *b = sn->b;
    int64_t now = br_nowMs(b);
    snapWaiter *due = NULL;
    for (snapWaiter **pp = &sn->waiters; *pp;) {
        snapWaiter *w = *pp;
        if (w->deadline <= now) {
            *pp = w->next;
            w->next = due;
            due = w;
        } else
            pp = &w->next;
    }
    stQuote copy;
    const stQuote *q = NULL;
    if (sn->q) {
        copy = *sn->q;
        q = &copy;
    }
    while (due) {
        snapWaiter *w = due;
        due = w->next;
        char msg[200];
        snprintf(msg, sizeof msg, "IB sent no complete snapshot of %s within %" PRId64 " ms", sn->key,
                 w->timeout_ms);
        IBB_INFO("quotes.snapshot_timeout", "key=%s timeout_ms=%" PRId64, sn->key, w->timeout_ms);
        waiter_answer(b, w, q, 0, "timeout", msg, 0);
    }
    if (sn->done)
        return;
    if (!sn->waiters)
        snap_abandon(sn);
    else
        snap_arm(sn);
}

static void on_snap_error(brBridge *b, int64_t req_id, const ibError *e, void *ctx)
{
    (void)req_id;
    snap *sn = ctx;
    if (!terminal_error(e->code)) { /* e.g. 10167: delayed data follows; keep it as the status */
        if (sn->q)
            stQuote_SetStatus(mod(b)->snapbook, sn->q, e->code, e->message);
        return;
    }
    char msg[400];
    snprintf(msg, sizeof msg, "IB error %" PRId64 " for %s: %s", e->code, sn->key, e->message);
    const char *slug = status_slug(e->code);
    snap_finish(sn, strcmp(slug, "ib_error") == 0 || strcmp(slug, "delayed_data") == 0 ? "ib_error" : slug,
                msg, (int)e->code);
}

static void on_snap_lost(brBridge *b, int64_t req_id, void *ctx)
{
    (void)b;
    (void)req_id;
    snap_finish(ctx, "ib_unavailable", "the IB link dropped before the snapshot completed", 0);
}

static const brPendingOps snap_ops = {NULL, on_snap_error, on_snap_lost};

typedef struct snapRef {             /* a resolution's context: the snapshot it is for */
    uint64_t id;
    char key[ST_KEY_MAX];
} snapRef;

static void on_snap_resolved(brBridge *b, void *ctx, const brInstrument *inst, const char *slug,
                             const char *msg, int ib_code)
{
    snapRef *ref = ctx;
    quotes *m = mod(b);
    snap *sn = m ? ibbMap_Get(m->snaps, ref->key) : NULL;
    bool mine = sn && sn->id == ref->id && !sn->done;
    free(ref);
    if (!mine)
        return; /* ended meanwhile (every waiter gave up, the link dropped, stopping) */
    if (!inst) {
        snap_finish(sn, slug, msg, ib_code);
        return;
    }
    if (!b->ib_ready) {
        snap_finish(sn, "ib_unavailable", "the IB link dropped before the snapshot could be sent", 0);
        return;
    }
    sn->q = stQuoteBook_Add(m->snapbook, sn->key, &inst->spec);
    int64_t id = sn->q ? br_reqOpen(b, &snap_ops, sn) : -1;
    if (id < 0 || stQuoteBook_Bind(m->snapbook, sn->q, id) != IBB_OK) {
        if (id >= 0)
            br_reqClose(b, id);
        snap_finish(sn, "internal", "out of memory", 0);
        return;
    }
    sn->req_id = id;
    ibRequest rq;
    ibRequest_Init(&rq, IB_REQ_MKT_DATA);
    rq.u.mkt_data.req_id = id;
    stInstrument_ToContract(&sn->q->spec, &rq.u.mkt_data.contract);
    if (!sn->q->spec.exchange[0])
        rq.u.mkt_data.contract.exchange = "SMART";
    rq.u.mkt_data.generic_ticks = "";
    rq.u.mkt_data.snapshot = true;
    if (br_send(b, &rq) != IBB_OK) {
        sn->req_id = 0;
        br_reqClose(b, id);
        snap_finish(sn, "ib_unavailable", "could not send the snapshot request to IB", 0);
        return;
    }
    IBB_DEBUG("quotes.snapshot", "key=%s req_id=%" PRId64 " snapshots=%zu", sn->key, id,
              br_quoteSnapshotLines(b));
}

/* Answers a waiter that never joined a snapshot (q: the live book's quote when slug is NULL). */
static void answer_now(brBridge *b, busRequest *req, brSnapFn fn, void *ctx, const stQuote *q,
                       const char *slug, const char *msg, int ib_code)
{
    if (!req) {
        fn(b, ctx, q, slug, msg, ib_code);
        return;
    }
    if (slug)
        busRequest_Error(req, slug, msg, ib_code);
    else {
        pack_quote(busRequest_Packer(req), q, NULL, "stream", -1); /* the cached, merged state */
        busRequest_ReplyPacked(req);
    }
    busRequest_Release(req);
}

/* One quote wanted, by an ib.rpc.quote (req, released here once answered) or a callback (fn/ctx). */
static void want_quote(brBridge *b, const char *asked, busRequest *req, brSnapFn fn, void *ctx,
                       int64_t timeout_ms)
{
    quotes *m = mod(b);
    const brInstrument *inst = br_instrument(b, asked);
    const char *key = inst ? inst->key : asked; /* canonical once known: "@265598" shares AAPL's */
    const qinst *qi = ibbMap_Get(m->insts, key);
    /* The merged state answers while IB streams it. With the link down it would be stale under a
     * "realtime" label: that request gets ib_unavailable below (the KV cache keeps the last value). */
    if (b->ib_ready && qi && qi->q->seq > 0 && (qi->state == QI_STREAMING || qi->state == QI_SUBSCRIBED)) {
        answer_now(b, req, fn, ctx, qi->q, NULL, NULL, 0);
        return;
    }
    if (!b->ib_ready) {
        if (req) {
            br_requireIb(b, req);
            busRequest_Release(req);
        } else
            answer_now(b, NULL, fn, ctx, NULL, "ib_unavailable",
                       "the IB link is not ready; retry when ib.evt.conn reports ready", 0);
        return;
    }
    if (m->stopping) {
        answer_now(b, req, fn, ctx, NULL, "unavailable", "ib-bridge is shutting down", 0);
        return;
    }
    snap *sn = ibbMap_Get(m->snaps, key);
    size_t leased = stLeases_KeyCount(b->leases), snaps = br_quoteSnapshotLines(b);
    if (!sn && (int64_t)(leased + snaps) >= b->opt.md_line_budget) {
        char msg[400];
        snprintf(msg, sizeof msg,
                 "no market-data line is free for a snapshot of %s: %zu leased instruments + %zu snapshots "
                 "in flight use the budget of %" PRId64 " (ib.md_line_budget); retry in a moment, or end "
                 "leases you no longer need with ib.rpc.unsubscribe",
                 key, leased, snaps, b->opt.md_line_budget);
        IBB_INFO("quotes.snapshot_line_limit", "key=%s leased=%zu snapshots=%zu budget=%" PRId64, key, leased,
                 snaps, b->opt.md_line_budget);
        answer_now(b, req, fn, ctx, NULL, "line_limit", msg, 0);
        return;
    }
    snapWaiter *w = calloc(1, sizeof *w);
    snapRef *ref = NULL;
    if (w && !sn) {
        sn = calloc(1, sizeof *sn);
        ref = malloc(sizeof *ref);
        if (!sn || !ref || ibbMap_Put(m->snaps, key, sn) != IBB_OK) {
            free(sn);
            free(ref);
            free(w);
            w = NULL;
            sn = NULL;
        } else {
            sn->b = b;
            sn->id = ++m->snap_seq;
            snprintf(sn->key, sizeof sn->key, "%s", key);
            uv_timer_init(b->loop, &sn->timer);
            sn->timer.data = sn;
            ref->id = sn->id;
            snprintf(ref->key, sizeof ref->key, "%s", key);
        }
    }
    if (!w) {
        answer_now(b, req, fn, ctx, NULL, "internal", "out of memory", 0);
        return;
    }
    w->req = req;
    w->fn = fn;
    w->ctx = ctx;
    w->timeout_ms = timeout_ms > 100 ? timeout_ms : 100;
    w->deadline = br_nowMs(b) + w->timeout_ms;
    w->next = sn->waiters;
    sn->waiters = w; /* shared: IB sees one request for this key */
    snap_arm(sn);
    if (ref)
        br_resolve(b, key, on_snap_resolved, ref); /* may answer at once (cache hit) */
}

void br_quoteSnapshot(brBridge *b, const char *key, int64_t timeout_ms, brSnapFn fn, void *ctx)
{
    if (!mod(b)) {
        fn(b, ctx, NULL, "unavailable", "the quotes module is not running", 0);
        return;
    }
    want_quote(b, key, NULL, fn, ctx, timeout_ms);
}

/* Unlinks the callback waiter fn/ctx from sn; true when found. */
static bool drop_waiter(snap *sn, brSnapFn fn, void *ctx)
{
    for (snapWaiter **pp = &sn->waiters; *pp; pp = &(*pp)->next) {
        snapWaiter *w = *pp;
        if (!w->req && w->fn == fn && w->ctx == ctx) {
            *pp = w->next;
            free(w);
            return true;
        }
    }
    return false;
}

void br_quoteSnapshotCancel(brBridge *b, const char *key, brSnapFn fn, void *ctx)
{
    quotes *m = mod(b);
    if (!m)
        return;
    for (snap *f = m->finishing; f; f = f->fin_next)
        if (drop_waiter(f, fn, ctx))
            return;
    snap *sn = m->snaps ? ibbMap_Get(m->snaps, key) : NULL;
    bool found = sn && drop_waiter(sn, fn, ctx);
    if (!found && m->snaps) { /* the key was canonicalised since: look at every snapshot */
        ibbMapIter it;
        void *v;
        ibbMapIter_Init(&it, m->snaps);
        while (!found && ibbMapIter_Next(&it, NULL, NULL, &v))
            if ((found = drop_waiter(v, fn, ctx)))
                sn = v;
    }
    if (found && !sn->waiters)
        snap_abandon(sn);
}

static void on_quote(busRequest *req, void *arg)
{
    brBridge *b = arg;
    char key[ST_KEY_MAX], err[300];
    if (br_keyFromBody(busRequest_Body(req), key, sizeof key, err, sizeof err) != IBB_OK) {
        busRequest_Error(req, "bad_request", err, 0);
        busRequest_Release(req);
        return;
    }
    want_quote(b, key, req, NULL, NULL, busRequest_RemainingMs(req) - 250);
}

/* ---------------------------------------------------------------------------------------------- */
/* module hooks                                                                                    */
/* ---------------------------------------------------------------------------------------------- */

static bool quotes_on_reply(brBridge *b, const ibReply *r)
{
    int64_t id;
    switch (r->id) {
    case IB_MSG_TICK_PRICE: id = r->u.tick_price.req_id; break;
    case IB_MSG_TICK_SIZE: id = r->u.tick_size.req_id; break;
    case IB_MSG_TICK_STRING: id = r->u.tick_string.req_id; break;
    case IB_MSG_TICK_GENERIC: id = r->u.tick_generic.req_id; break;
    case IB_MSG_MARKET_DATA_TYPE: id = r->u.market_data_type.req_id; break;
    case IB_MSG_TICK_REQ_PARAMS: id = r->u.tick_req_params.req_id; break;
    case IB_MSG_TICK_SNAPSHOT_END: id = r->u.end.req_id; break;
    default: return false;
    }
    stQuote *q = stQuoteBook_FindByReqId(b->book, id);
    if (q) {
        qinst *qi = q->user;
        if (qi && !qi->settled) {
            qi->settled = true;
            qi->state = QI_STREAMING;
            mod(b)->settle_check = true;
        }
        stQuoteBook_Apply(b->book, r, coreSession_ReadTimeNs(b->ib));
        return true;
    }
    quotes *m = mod(b);
    q = stQuoteBook_FindByReqId(m->snapbook, id);
    if (!q)
        return false;
    if (r->id == IB_MSG_TICK_SNAPSHOT_END) {
        snap *sn = ibbMap_Get(m->snaps, q->key);
        if (sn && sn->req_id == id)
            snap_finish(sn, NULL, NULL, 0);
    } else {
        stQuoteBook_Apply(m->snapbook, r, coreSession_ReadTimeNs(b->ib));
    }
    return true;
}

static void quotes_on_read_done(brBridge *b) { flush(b); }

static void resubscribe_all(brBridge *b, const char *why)
{
    quotes *m = mod(b);
    ibbMapIter it;
    void *v;
    size_t n = 0;
    ibbMapIter_Init(&it, m->insts);
    while (ibbMapIter_Next(&it, NULL, NULL, &v)) {
        qinst *qi = v;
        if (qi->q->req_id)
            br_reqClose(b, qi->q->req_id); /* IB forgot it */
        if (qi->q->status_ib_code)
            stQuote_SetStatus(b->book, qi->q, 0, NULL);
        if (qi->state != QI_RESOLVING) {
            qi->state = QI_WAIT_IB;
            qi->settled = false;
        }
    }
    stQuoteBook_UnbindAll(b->book);
    ibbMapIter_Init(&it, m->insts);
    while (ibbMapIter_Next(&it, NULL, NULL, &v))
        if (((qinst *)v)->state == QI_WAIT_IB) {
            activate(b, v);
            n++;
        }
    m->resubscribes++;
    if (n)
        IBB_INFO("quotes.resubscribe", "reason=%s instruments=%zu", why, n);
    flush(b);
}

static void quotes_on_ib_ready(brBridge *b) { resubscribe_all(b, "ib_ready"); }

static void quotes_on_notice(brBridge *b, const ibError *e)
{
    if (e->code == 1101 && b->ib_ready) /* connectivity restored, data lost: every line again */
        resubscribe_all(b, "1101");
}

static void quotes_on_stop(brBridge *b)
{
    quotes *m = mod(b);
    m->stopping = true;
    ibbMapIter it;
    void *v;
    ibbMapIter_Init(&it, m->insts);
    while (ibbMapIter_Next(&it, NULL, NULL, &v))
        stop_stream(b, v); /* cancels first in the pacer */
    while (m->waits)
        finish_wait(m->waits);
    size_t n = ibbMap_Count(m->snaps), k = 0;
    snap **all = n ? malloc(n * sizeof *all) : NULL;
    ibbMapIter_Init(&it, m->snaps);
    while (all && k < n && ibbMapIter_Next(&it, NULL, NULL, &v))
        all[k++] = v;
    for (size_t i = 0; i < k; i++)
        snap_finish(all[i], "unavailable", "ib-bridge is shutting down", 0);
    free(all);
    if (m->timer_open) {
        uv_close((uv_handle_t *)&m->lease_timer, NULL);
        m->timer_open = false;
    }
    brQuoteKv_Close(m->kv);
}

static void kv_bucket_name(const char *prefix, char *out, size_t cap)
{
    size_t n = 0;
    for (const char *p = prefix; *p && n + 8 < cap; p++) {
        char c = *p;
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                  c == '_';
        out[n++] = ok ? c : '_';
    }
    snprintf(out + n, cap - n, "_quotes");
}

static ibbStatus quotes_init(brBridge *b)
{
    quotes *m = calloc(1, sizeof *m);
    if (!m)
        return IBB_ERR_NOMEM;
    b->mod[BR_MOD_QUOTES] = m;
    if (ibbMap_Create(&m->insts) != IBB_OK || ibbMap_Create(&m->snaps) != IBB_OK ||
        stQuoteBook_Create(&m->snapbook) != IBB_OK || stQuoteBook_Create(&b->book) != IBB_OK)
        return IBB_ERR_NOMEM;
    stLeaseHooks hooks = {.acquire = on_acquire, .release = on_release, .ud = b};
    ibbStatus s = stLeases_Create(&b->leases, &hooks);
    if (s != IBB_OK)
        return s;
    char bucket[64];
    kv_bucket_name(b->prefix, bucket, sizeof bucket);
    s = brQuoteKv_Create(&m->kv, b->loop, b->conn, bucket, b->opt.quote_mode == BUS_STREAM_JSON,
                         b->opt.js_replicas, KV_MIN_INTERVAL_MS, kv_pack, b);
    if (s != IBB_OK)
        return s;
    uv_timer_init(b->loop, &m->lease_timer);
    m->lease_timer.data = b;
    m->timer_open = true;
    static const struct { const char *name; busHandlerFn fn; } eps[] = {
        {"subscribe", on_subscribe}, {"unsubscribe", on_unsubscribe}, {"quote", on_quote},
    };
    for (size_t i = 0; i < sizeof eps / sizeof eps[0]; i++) {
        busEndpointDef d = {.name = eps[i].name, .subject = eps[i].name, .handler = eps[i].fn, .arg = b};
        if ((s = busService_AddEndpoint(b->svc, &d)) != IBB_OK)
            return s;
    }
    /* the watchlist: one lease that never expires */
    if (b->opt.n_watchlist) {
        size_t n = 0;
        char (*keys)[ST_KEY_MAX] = calloc(b->opt.n_watchlist, sizeof *keys);
        const char **ptrs = calloc(b->opt.n_watchlist, sizeof *ptrs);
        for (size_t i = 0; keys && ptrs && i < b->opt.n_watchlist; i++) {
            stInstrumentSpec spec;
            const char *why = NULL;
            if (stInstrument_ParseKey(b->opt.watchlist[i], &spec, &why) != IBB_OK ||
                stInstrument_FormatKey(&spec, keys[n], ST_KEY_MAX) != IBB_OK) {
                IBB_ERROR("quotes.watchlist_bad_key", "key=\"%s\" reason=\"%s\"", b->opt.watchlist[i],
                          why ? why : "");
                continue;
            }
            ptrs[n] = keys[n];
            n++;
        }
        char id[ST_LEASE_ID_LEN + 1];
        if (n && (int64_t)n > b->opt.md_line_budget)
            IBB_WARN("quotes.watchlist_over_budget", "instruments=%zu budget=%" PRId64, n,
                     b->opt.md_line_budget);
        if (keys && ptrs && n)
            s = stLeases_Grant(b->leases, NULL, ptrs, n, 0, br_nowMs(b), id);
        if (s == IBB_OK && n)
            IBB_INFO("quotes.watchlist", "instruments=%zu", n);
        free(keys);
        free(ptrs);
    }
    return s;
}

static void quotes_fini(brBridge *b)
{
    quotes *m = mod(b);
    if (!m)
        return;
    if (m->timer_open) { /* never started */
        uv_close((uv_handle_t *)&m->lease_timer, NULL);
        uv_run(b->loop, UV_RUN_NOWAIT);
    }
    ibbMapIter it;
    void *v;
    ibbMapIter_Init(&it, m->insts);
    while (m->insts && ibbMapIter_Next(&it, NULL, NULL, &v)) {
        qinst *qi = v;
        brQuoteKv_Drop(m->kv, qi->kv);
        qi->q->user = NULL;
        qinst_free(qi);
    }
    ibbMap_Destroy(m->insts);
    ibbMap_Destroy(m->snaps); /* snapshots were finished by on_stop / on_lost */
    stQuoteBook_Destroy(m->snapbook);
    brQuoteKv_Destroy(m->kv);
    while (m->waits) { /* only when the bridge never ran */
        subWait *w = m->waits;
        m->waits = w->next;
        busRequest_Release(w->req);
        free(w->keys);
        free(w);
    }
    free(m);
    b->mod[BR_MOD_QUOTES] = NULL;
}

const brModule br_quotesModule = {
    .name = "quotes",
    .init = quotes_init,
    .on_reply = quotes_on_reply,
    .on_notice = quotes_on_notice,
    .on_ib_ready = quotes_on_ib_ready,
    .on_read_done = quotes_on_read_done,
    .on_stop = quotes_on_stop,
    .fini = quotes_fini,
};
