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
 * b->book / b->leases (destroyed by brBridge_Destroy). Timers are closed in on_stop.
 *
 * Files: this one (records, packing, streaming lines, leases, module hooks), br_quotes_sub.c
 * (ib.rpc.subscribe / unsubscribe) and br_quotes_snap.c (ib.rpc.quote and snapshots);
 * br_quotes_int.h holds what they share. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "br_quotes_int.h"
#include "ibb_log.h"

static quotes *mod(const brBridge *b) { return b->mod[BR_MOD_QUOTES]; }
/* Snapshots in flight: each holds a market-data line at IB until it ends. */
size_t br_quoteSnapshotLines(const brBridge *b)
{
    return b->mod[BR_MOD_QUOTES] ? ibbMap_Count(mod(b)->snaps) : 0;
}

void br_quoteCounters(const brBridge *b, uint64_t *events, uint64_t *kv_writes, uint64_t *kv_errors)
{
    const quotes *m = b->mod[BR_MOD_QUOTES] ? mod(b) : NULL;
    *events = m ? m->events : 0;
    *kv_writes = m ? brQuoteKv_Writes(m->kv) : 0;
    *kv_errors = m ? brQuoteKv_WriteErrors(m->kv) : 0;
}

/* ---------------------------------------------------------------------------------------------- */
/* packing                                                                                         */
/* ---------------------------------------------------------------------------------------------- */

const char *brQt_statusSlug(int64_t code)
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

void brQt_packStatus(msgpack_packer *pk, const stQuote *q)
{
    msgpack_pack_map(pk, 3);
    busPack_KeyStr(pk, "code", brQt_statusSlug(q->status_ib_code));
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

/* An option's `greeks`: a map per side IB computed, each holding only the values IB set. */
static void pack_greeks(msgpack_packer *pk, const stQuote *q)
{
    int nsides = 0;
    for (int s = 0; s < ST_GREEKS_SIDES; s++)
        nsides += (q->greeks_seen >> s) & 1;
    busPack_Str(pk, "greeks");
    msgpack_pack_map(pk, (size_t)nsides);
    for (int s = 0; s < ST_GREEKS_SIDES; s++) {
        if (!((q->greeks_seen >> s) & 1))
            continue;
        const stGreeks *g = &q->greeks[s];
        const struct { const char *k; double v; } f[] = {
            {"iv", g->implied_vol}, {"delta", g->delta}, {"gamma", g->gamma}, {"vega", g->vega},
            {"theta", g->theta}, {"opt_price", g->opt_price}, {"und_price", g->und_price},
            {"pv_dividend", g->pv_dividend},
        };
        size_t n = 0;
        for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
            n += !isnan(f[i].v);
        busPack_Str(pk, stGreeksSide_Name(s));
        msgpack_pack_map(pk, n);
        for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
            if (!isnan(f[i].v))
                busPack_KeyDouble(pk, f[i].k, f[i].v);
    }
}

/* The quote map (schemas/quote_event.json; with source for ib.rpc.quote). seq_override >= 0 replaces
 * seq; qi (may be NULL) caches the packed contract. */
void brQt_packQuote(msgpack_packer *pk, const stQuote *q, qinst *qi, const char *source,
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
    n += (q->halted >= 0) + (q->last_trade_ts > 0) + (q->status_ib_code != 0) + (source != NULL) +
         (q->greeks_seen != 0);
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
    if (q->greeks_seen)
        pack_greeks(pk, q);
    busPack_KeyInt(pk, "recv_ts_ns", q->recv_ts_ns ? q->recv_ts_ns : br_wallNs());
    if (q->status_ib_code != 0) {
        busPack_Str(pk, "status");
        brQt_packStatus(pk, q);
    }
    if (source)
        busPack_KeyStr(pk, "source", source);
}

void br_packSnapshotQuote(msgpack_packer *pk, const stQuote *q) { brQt_packQuote(pk, q, NULL, "snapshot", -1); }

static void kv_pack(void *ud, const char *key, msgpack_packer *pk)
{
    brBridge *b = ud;
    const stQuote *q = stQuoteBook_Find(b->book, key);
    if (q)
        brQt_packQuote(pk, q, q->user, NULL, -1);
    else
        msgpack_pack_nil(pk);
}

static void publish_one(void *ud, stQuote *q)
{
    brBridge *b = ud;
    qinst *qi = q->user;
    if (!qi)
        return;
    brQt_packQuote(busPublisher_Packer(b->quote_pub), q, qi, NULL, -1);
    busPublisher_Send(b->quote_pub, qi->suffix);
    mod(b)->events++;
    brQuoteKv_Touch(mod(b)->kv, qi->kv);
}


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
        brQt_checkWaits(b);
    }
}

/* ---------------------------------------------------------------------------------------------- */
/* streaming lines                                                                                 */
/* ---------------------------------------------------------------------------------------------- */

/* Errors after which IB has dropped the request (the others are warnings about a live line). */
bool brQt_terminalError(int64_t code)
{
    return !(code == 10167 || code == 10197 || code == 10090 || code >= 2100);
}

static void on_stream_error(brBridge *b, int64_t req_id, const ibError *e, void *ctx)
{
    qinst *qi = ctx;
    qi->settled = true;
    mod(b)->settle_check = true;
    stQuote_SetStatus(b->book, qi->q, e->code, e->message);
    if (brQt_terminalError(e->code)) {
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
void brQt_activate(brBridge *b, qinst *qi)
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
    brQt_activate(b, qi);
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


static void on_lease_timer(uv_timer_t *t)
{
    brBridge *b = t->data;
    size_t n = stLeases_Expire(b->leases, br_nowMs(b));
    if (n)
        IBB_INFO("quotes.leases_expired", "count=%zu leases=%zu lines=%zu", n, stLeases_LeaseCount(b->leases),
                 stLeases_KeyCount(b->leases));
    brQt_armLeaseTimer(b);
}

void br_quotesLeasesChanged(brBridge *b) { brQt_armLeaseTimer(b); }

void brQt_armLeaseTimer(brBridge *b)
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
/* module hooks                                                                                    */
/* ---------------------------------------------------------------------------------------------- */

static bool quotes_on_reply(brBridge *b, const ibReply *r)
{
    if (!ibReply_IsMarketData(r))
        return false;
    int64_t id = ibReply_ReqId(r);
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
            brQt_snapFinish(sn, NULL, NULL, 0);
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
            brQt_activate(b, v);
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
        brQt_finishWait(m->waits);
    size_t n = ibbMap_Count(m->snaps), k = 0;
    snap **all = n ? malloc(n * sizeof *all) : NULL;
    ibbMapIter_Init(&it, m->snaps);
    while (all && k < n && ibbMapIter_Next(&it, NULL, NULL, &v))
        all[k++] = v;
    for (size_t i = 0; i < k; i++)
        brQt_snapFinish(all[i], "unavailable", "ib-bridge is shutting down", 0);
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
        {"subscribe", brQt_onSubscribe}, {"unsubscribe", brQt_onUnsubscribe}, {"quote", brQt_onQuote},
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
