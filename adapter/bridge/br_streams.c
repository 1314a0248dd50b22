/* br_streams.c — streams beyond level 1: market depth (ib.depth.<key>), tick-by-tick (ib.ticks.<key>)
 * and 5-second real-time bars (ib.bars.<key>), leased like quotes.
 *
 * Leases: the quotes module's lease table (b->leases) holds these too, under lease keys
 * "<kind>/<param>/<instrument key>" ("depth/10/AAPL", "ticks/last/AAPL", "bars/TRADES/AAPL"); its
 * acquire / release hooks hand them here (br_streamsAcquire / Release), so expiry, renewal,
 * unsubscribe and the hot standby's lease copy in KV work unchanged. One record (sinst) per lease key
 * is one IB subscription however many consumers lease it.
 *
 * IB's limits are kept before IB would refuse (br_streams_sub.c answers line_limit past a budget);
 * here the pacing: a tick-by-tick request waits until 15 s after the instrument's last one (IB
 * answers 322 otherwise), a real-time-bar request until the 60-per-10-minutes window has room. A
 * waiting record is SI_PACED and one timer sends it when its turn comes.
 *
 * Events: depth applies IB's row operations to the record's book (st_depthbook) and publishes the
 * whole book once per socket read; every tick-by-tick event and every bar is published as it comes.
 * seq counts per subject: every record publishing on one subject (two tick types of one instrument)
 * shares its counter, so a consumer sees no gap. Encoding: b->quote_pub (ib.quote_mode).
 *
 * Reconnect and 1101: every record subscribes again with a new request id (pacing still applies).
 *
 * ib.rpc.depth waits for a stream's first book in streams.waiters (each holds a reference on its
 * request), answered at that book, the line's failure, its release or the stop.
 *
 * Ownership: the module owns its records, seq counters, pacing windows, waiters and held subscribe
 * replies (freed at fini); a record lives from acquire to release. The pace timer is closed in on_stop.
 * Loop thread only. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "br_quotes_int.h" /* brQt_terminalError */
#include "br_streams_int.h"
#include "ibb_log.h"

#define TBT_PACE_MS 15250          /* IB: one request per instrument per 15 s (+ margin for clocks) */
#define BARS_WINDOW_MS 600500      /* IB: 60 new real-time-bar requests per 10 minutes */
#define BARS_WINDOW_MAX 60

static streams *mod(const brBridge *b) { return b->mod[BR_MOD_STREAMS]; }

static const char *const KIND_NAMES[BR_SK_COUNT] = {"depth", "ticks", "bars"};
static const char *const TBT_NAMES[] = {"", "last", "all_last", "bid_ask", "midpoint"};

const char *brSt_kindName(brStreamKind kind) { return KIND_NAMES[kind]; }

bool brSt_leaseKey(brStreamKind kind, const char *param, const char *key, char *out)
{
    int n = snprintf(out, ST_KEY_MAX, "%s/%s/%s", KIND_NAMES[kind], param, key);
    return n > 0 && n < ST_KEY_MAX;
}

bool brSt_parseLeaseKey(const char *lkey, brStreamKind *kind, char *param, size_t pcap, const char **key)
{
    const char *s1 = strchr(lkey, '/');
    const char *s2 = s1 ? strchr(s1 + 1, '/') : NULL;
    if (!s2 || (size_t)(s2 - s1 - 1) >= pcap)
        return false;
    for (int k = 0; k < BR_SK_COUNT; k++)
        if ((size_t)(s1 - lkey) == strlen(KIND_NAMES[k]) && strncmp(lkey, KIND_NAMES[k], (size_t)(s1 - lkey)) == 0) {
            *kind = (brStreamKind)k;
            memcpy(param, s1 + 1, (size_t)(s2 - s1 - 1));
            param[s2 - s1 - 1] = '\0';
            *key = s2 + 1;
            return true;
        }
    return false;
}

bool br_streamsOwnsKey(const char *lease_key)
{
    brStreamKind k;
    char param[32];
    const char *key;
    return brSt_parseLeaseKey(lease_key, &k, param, sizeof param, &key);
}

size_t br_streamsCount(const brBridge *b, brStreamKind kind)
{
    return b->mod[BR_MOD_STREAMS] ? mod(b)->count[kind] : 0;
}

void br_streamsPackStatus(const brBridge *b, msgpack_packer *pk)
{
    const streams *m = b->mod[BR_MOD_STREAMS] ? mod(b) : NULL;
    size_t paced = 0;
    ibbMapIter it;
    void *v;
    ibbMapIter_Init(&it, m ? m->recs : NULL);
    while (m && ibbMapIter_Next(&it, NULL, NULL, &v))
        paced += ((const sinst *)v)->state == SI_PACED;
    msgpack_pack_map(pk, 10);
    busPack_KeyInt(pk, "depth_used", (int64_t)br_streamsCount(b, BR_SK_DEPTH));
    busPack_KeyInt(pk, "depth_budget", b->opt.depth_budget);
    busPack_KeyInt(pk, "tick_by_tick_used", (int64_t)br_streamsCount(b, BR_SK_TICKS));
    busPack_KeyInt(pk, "tick_by_tick_budget", b->opt.tick_by_tick_budget);
    busPack_KeyInt(pk, "bars_used", (int64_t)br_streamsCount(b, BR_SK_BARS));
    busPack_KeyInt(pk, "bars_budget", b->opt.md_line_budget);
    busPack_KeyInt(pk, "paced", (int64_t)paced);
    busPack_KeyInt(pk, "depth_events", m ? (int64_t)m->events[BR_SK_DEPTH] : 0);
    busPack_KeyInt(pk, "tick_events", m ? (int64_t)m->events[BR_SK_TICKS] : 0);
    busPack_KeyInt(pk, "bar_events", m ? (int64_t)m->events[BR_SK_BARS] : 0);
}

const char *brSt_stateName(const brBridge *b, const sinst *si)
{
    if (!si)
        return "ended";
    switch (si->state) {
    case SI_STREAMING: return "streaming";
    case SI_SUBSCRIBED: return "subscribed";
    case SI_PACED: return "paced";
    case SI_FAILED: return "failed";
    default: return b->ib_ready ? "pending" : "waiting_for_ib";
    }
}

/* ---------------------------------------------------------------------------------------------- */
/* packing and publishing                                                                          */
/* ---------------------------------------------------------------------------------------------- */

static void pack_side(msgpack_packer *pk, const stDepthBook *bk, int side)
{
    int n = bk->count[side] < bk->rows ? bk->count[side] : bk->rows;
    msgpack_pack_array(pk, (size_t)n);
    for (int i = 0; i < n; i++) {
        const stDepthRow *r = &bk->side[side][i];
        msgpack_pack_map(pk, 2 + (r->market_maker[0] != '\0'));
        busPack_KeyDouble(pk, "price", r->price);
        busPack_KeyDouble(pk, "size", r->size);
        if (r->market_maker[0])
            busPack_KeyStr(pk, "market_maker", r->market_maker);
    }
}

void brSt_packDepth(msgpack_packer *pk, const sinst *si, int64_t seq)
{
    msgpack_pack_map(pk, 6);
    busPack_KeyStr(pk, "key", si->key);
    busPack_KeyInt(pk, "seq", seq);
    busPack_KeyInt(pk, "rows", si->rows);
    busPack_Str(pk, "bids");
    pack_side(pk, si->book, ST_DEPTH_BID);
    busPack_Str(pk, "asks");
    pack_side(pk, si->book, ST_DEPTH_ASK);
    busPack_KeyInt(pk, "recv_ts_ns", si->recv_ts_ns ? si->recv_ts_ns : br_wallNs());
}

static void send_event(brBridge *b, sinst *si)
{
    busPublisher_Send(b->quote_pub, si->suffix);
    mod(b)->events[si->kind]++;
    mod(b)->published = true;
}

/* Answers the ib.rpc.depth waiters of lkey (all when lkey is NULL): the book, or an error when slug. */
static void answer_waiters(brBridge *b, const char *lkey, const sinst *si, const char *slug, const char *msg)
{
    for (depthWaiter **p = &mod(b)->waiters; *p;) {
        depthWaiter *w = *p;
        bool gone = busRequest_Answered(w->req); /* the service answered it at its deadline */
        if (!gone && lkey && strcmp(w->lkey, lkey) != 0) {
            p = &w->next;
            continue;
        }
        if (!gone && slug)
            busRequest_Error(w->req, slug, msg, 0);
        else if (!gone) {
            brSt_packDepth(busRequest_Packer(w->req), si, (int64_t)si->seq->seq);
            busRequest_ReplyPacked(w->req);
        }
        busRequest_Release(w->req);
        *p = w->next;
        free(w);
    }
}

void brSt_waitDepth(brBridge *b, busRequest *req, const char *lkey)
{
    const sinst *si = ibbMap_Get(mod(b)->recs, lkey);
    if (si && si->seq->seq > 0 && si->state == SI_STREAMING) {
        brSt_packDepth(busRequest_Packer(req), si, (int64_t)si->seq->seq);
        busRequest_ReplyPacked(req);
        return;
    }
    depthWaiter *w = calloc(1, sizeof *w);
    if (!w) {
        busRequest_Error(req, "internal", "out of memory", 0);
        return;
    }
    w->req = req;
    busRequest_Retain(req);
    snprintf(w->lkey, sizeof w->lkey, "%s", lkey);
    w->next = mod(b)->waiters;
    mod(b)->waiters = w;
}

static void publish_depth(brBridge *b, sinst *si)
{
    brSt_packDepth(busPublisher_Packer(b->quote_pub), si, (int64_t)++si->seq->seq);
    send_event(b, si);
    if (mod(b)->waiters)
        answer_waiters(b, si->lkey, si, NULL, NULL);
}

static void pack_tick_body(msgpack_packer *pk, const ibTickByTick *t)
{
    if (t->tick_type == IB_TBT_LAST || t->tick_type == IB_TBT_ALL_LAST) {
        busPack_KeyDouble(pk, "price", t->price);
        busPack_KeyDouble(pk, "size", t->size);
        busPack_KeyStr(pk, "exchange", t->exchange ? t->exchange : "");
        busPack_KeyStr(pk, "special_conditions", t->special_conditions ? t->special_conditions : "");
        busPack_KeyBool(pk, "past_limit", (t->attr_mask & IB_TBT_ATTR_PAST_LIMIT) != 0);
        busPack_KeyBool(pk, "unreported", (t->attr_mask & IB_TBT_ATTR_UNREPORTED) != 0);
    } else if (t->tick_type == IB_TBT_BID_ASK) {
        busPack_KeyDouble(pk, "bid_price", t->bid_price);
        busPack_KeyDouble(pk, "ask_price", t->ask_price);
        busPack_KeyDouble(pk, "bid_size", t->bid_size);
        busPack_KeyDouble(pk, "ask_size", t->ask_size);
        busPack_KeyBool(pk, "bid_past_low", (t->attr_mask & IB_TBT_ATTR_BID_PAST_LOW) != 0);
        busPack_KeyBool(pk, "ask_past_high", (t->attr_mask & IB_TBT_ATTR_ASK_PAST_HIGH) != 0);
    } else {
        busPack_KeyDouble(pk, "mid_point", t->mid_point);
    }
}

static void publish_tick(brBridge *b, sinst *si, const ibTickByTick *t)
{
    if (t->tick_type < IB_TBT_LAST || t->tick_type > IB_TBT_MIDPOINT)
        return; /* type 0 carries nothing */
    static const size_t body_fields[] = {0, 6, 6, 6, 1};
    msgpack_packer *pk = busPublisher_Packer(b->quote_pub);
    msgpack_pack_map(pk, 5 + body_fields[t->tick_type]);
    busPack_KeyStr(pk, "key", si->key);
    busPack_KeyInt(pk, "seq", (int64_t)++si->seq->seq);
    busPack_KeyStr(pk, "type", TBT_NAMES[t->tick_type]);
    busPack_KeyInt(pk, "time", t->time);
    busPack_KeyInt(pk, "recv_ts_ns", si->recv_ts_ns);
    pack_tick_body(pk, t);
    send_event(b, si);
}

static void publish_bar(brBridge *b, sinst *si, const ibRealTimeBar *r)
{
    msgpack_packer *pk = busPublisher_Packer(b->quote_pub);
    msgpack_pack_map(pk, 12);
    busPack_KeyStr(pk, "key", si->key);
    busPack_KeyInt(pk, "seq", (int64_t)++si->seq->seq);
    busPack_KeyStr(pk, "what_to_show", si->what);
    busPack_KeyInt(pk, "time", r->time);
    busPack_KeyDouble(pk, "open", r->open);
    busPack_KeyDouble(pk, "high", r->high);
    busPack_KeyDouble(pk, "low", r->low);
    busPack_KeyDouble(pk, "close", r->close);
    busPack_KeyDouble(pk, "volume", r->volume);
    busPack_KeyDouble(pk, "wap", r->wap);
    busPack_KeyInt(pk, "count", r->count);
    busPack_KeyInt(pk, "recv_ts_ns", si->recv_ts_ns);
    send_event(b, si);
}

/* ---------------------------------------------------------------------------------------------- */
/* IB lines                                                                                        */
/* ---------------------------------------------------------------------------------------------- */

static void apply_depth(brBridge *b, sinst *si, const ibMktDepth *d)
{
    ibbStatus s = stDepthBook_Apply(si->book, (int)d->side, (int)d->operation, d->position, d->price, d->size,
                                    d->market_maker);
    if (s != IBB_OK) {
        IBB_WARN("streams.depth_bad_op", "key=%s side=%" PRId64 " op=%" PRId64 " position=%" PRId64, si->key,
                 d->side, d->operation, d->position);
        return;
    }
    if (!si->dirty) {
        si->dirty = true;
        si->dirty_next = mod(b)->dirty;
        mod(b)->dirty = si;
    }
}

static void on_line_reply(brBridge *b, int64_t req_id, const ibReply *r, void *ctx)
{
    (void)req_id;
    sinst *si = ctx;
    if (si->state != SI_STREAMING)
        mod(b)->hold_check = true;
    si->state = SI_STREAMING;
    si->recv_ts_ns = coreSession_ReadTimeNs(b->ib);
    if ((r->id == IB_MSG_MARKET_DEPTH || r->id == IB_MSG_MARKET_DEPTH_L2) && si->kind == BR_SK_DEPTH)
        apply_depth(b, si, &r->u.depth);
    else if (r->id == IB_MSG_TICK_BY_TICK && si->kind == BR_SK_TICKS)
        publish_tick(b, si, &r->u.tick_by_tick);
    else if (r->id == IB_MSG_REAL_TIME_BAR && si->kind == BR_SK_BARS)
        publish_bar(b, si, &r->u.real_time_bar);
}

static void on_line_error(brBridge *b, int64_t req_id, const ibError *e, void *ctx)
{
    sinst *si = ctx;
    if (e->code == 317 && si->book) { /* reset: empty the book, keep the line; inserts follow */
        stDepthBook_Clear(si->book);
        IBB_INFO("streams.depth_reset", "key=%s rows=%d", si->key, si->rows);
        return;
    }
    si->status_code = e->code;
    snprintf(si->status_msg, sizeof si->status_msg, "%s", e->message ? e->message : "");
    if (!brQt_terminalError(e->code)) {
        IBB_INFO("streams.line_status", "lease_key=%s ib_code=%" PRId64 " text=\"%s\"", si->lkey, e->code,
                 si->status_msg);
        return;
    }
    br_reqClose(b, req_id);
    si->req_id = 0;
    si->state = SI_FAILED;
    mod(b)->hold_check = true;
    if (mod(b)->waiters) {
        char msg[260];
        snprintf(msg, sizeof msg, "IB refused the depth stream (%" PRId64 "): %s", e->code, si->status_msg);
        answer_waiters(b, si->lkey, si, brQt_statusSlug(e->code), msg);
    }
    IBB_WARN("streams.line_failed", "lease_key=%s ib_code=%" PRId64 " text=\"%s\"", si->lkey, e->code,
             si->status_msg);
}

static void on_line_lost(brBridge *b, int64_t req_id, void *ctx)
{
    sinst *si = ctx;
    br_reqClose(b, req_id);
    si->req_id = 0;
    if (si->state != SI_RESOLVING)
        si->state = SI_WAIT_IB;
}

static const brPendingOps line_ops = {on_line_reply, on_line_error, on_line_lost};

static void arm_pace_timer(brBridge *b);

/* How long IB's pacing keeps this record waiting (0 = it may go now). */
static int64_t pace_wait(brBridge *b, const sinst *si, stRateWin **win)
{
    streams *m = mod(b);
    *win = NULL;
    if (si->kind == BR_SK_BARS)
        *win = &m->bars_win;
    else if (si->kind == BR_SK_TICKS) {
        *win = ibbMap_Get(m->tbt_win, si->key);
        if (!*win) {
            stRateWin *w = malloc(sizeof *w);
            if (!w || ibbMap_Put(m->tbt_win, si->key, w) != IBB_OK) {
                free(w);
                return 0;
            }
            stRateWin_Init(w, 1, TBT_PACE_MS);
            *win = w;
        }
    }
    return *win ? stRateWin_WaitMs(*win, br_nowMs(b)) : 0;
}

static void fill_request(const sinst *si, int64_t id, ibRequest *rq)
{
    ibContract *c;
    if (si->kind == BR_SK_DEPTH) {
        ibRequest_Init(rq, IB_REQ_MKT_DEPTH);
        rq->u.mkt_depth.req_id = id;
        rq->u.mkt_depth.num_rows = si->rows;
        c = &rq->u.mkt_depth.contract;
    } else if (si->kind == BR_SK_TICKS) {
        ibRequest_Init(rq, IB_REQ_TICK_BY_TICK);
        rq->u.tick_by_tick.req_id = id;
        rq->u.tick_by_tick.tick_type = ib_tickByTickTypeName(si->tbt_type);
        c = &rq->u.tick_by_tick.contract;
    } else {
        ibRequest_Init(rq, IB_REQ_REAL_TIME_BARS);
        rq->u.real_time_bars.req_id = id;
        rq->u.real_time_bars.what_to_show = si->what;
        c = &rq->u.real_time_bars.contract;
    }
    stInstrument_ToContract(&si->spec, c);
    if (si->kind == BR_SK_DEPTH) /* SMART depth for SMART-routed instruments, else that exchange's book */
        rq->u.mkt_depth.is_smart_depth = c->exchange && strcmp(c->exchange, "SMART") == 0;
}

static void start_line(brBridge *b, sinst *si)
{
    if (!b->ib_ready || mod(b)->stopping || si->req_id)
        return;
    stRateWin *win;
    int64_t wait = pace_wait(b, si, &win);
    if (wait > 0) {
        if (si->state != SI_PACED)
            mod(b)->paced++;
        si->state = SI_PACED;
        si->due_ms = br_nowMs(b) + wait;
        arm_pace_timer(b);
        return;
    }
    int64_t id = br_reqOpen(b, &line_ops, si);
    if (id < 0) {
        IBB_ERROR("streams.subscribe_failed", "lease_key=%s reason=out_of_memory", si->lkey);
        return;
    }
    ibRequest rq;
    fill_request(si, id, &rq);
    if (br_send(b, &rq) != IBB_OK) {
        br_reqClose(b, id);
        si->state = SI_WAIT_IB;
        return;
    }
    if (win)
        stRateWin_Note(win, br_nowMs(b));
    if (si->book)
        stDepthBook_Clear(si->book); /* IB sends the book again from inserts */
    si->req_id = id;
    si->state = SI_SUBSCRIBED;
    si->status_code = 0;
    si->status_msg[0] = '\0';
    IBB_DEBUG("streams.subscribe", "lease_key=%s req_id=%" PRId64, si->lkey, id);
}

static void stop_line(brBridge *b, sinst *si)
{
    int64_t id = si->req_id;
    if (id == 0)
        return;
    if (b->ib_ready && br_reqSent(b, id)) { /* still queued: closing the id below drops it unsent */
        ibRequest rq;
        if (si->kind == BR_SK_DEPTH) {
            ibRequest_Init(&rq, IB_REQ_CANCEL_MKT_DEPTH);
            rq.u.cancel_mkt_depth.req_id = id;
            rq.u.cancel_mkt_depth.is_smart_depth = strcmp(si->spec.exchange, "SMART") == 0;
        } else {
            ibRequest_Init(&rq, si->kind == BR_SK_TICKS ? IB_REQ_CANCEL_TICK_BY_TICK : IB_REQ_CANCEL_REAL_TIME_BARS);
            rq.u.cancel.req_id = id;
        }
        br_send(b, &rq);
    }
    br_reqClose(b, id);
    si->req_id = 0;
}

static void on_pace_timer(uv_timer_t *t)
{
    brBridge *b = t->data;
    ibbMapIter it;
    void *v;
    int64_t now = br_nowMs(b);
    ibbMapIter_Init(&it, mod(b)->recs);
    while (ibbMapIter_Next(&it, NULL, NULL, &v)) {
        sinst *si = v;
        if (si->state == SI_PACED && si->due_ms <= now) {
            si->state = SI_WAIT_IB;
            start_line(b, si);
        }
    }
    arm_pace_timer(b);
}

static void arm_pace_timer(brBridge *b)
{
    streams *m = mod(b);
    if (!m->timer_open || m->stopping)
        return;
    int64_t next = INT64_MAX;
    ibbMapIter it;
    void *v;
    ibbMapIter_Init(&it, m->recs);
    while (ibbMapIter_Next(&it, NULL, NULL, &v))
        if (((sinst *)v)->state == SI_PACED && ((sinst *)v)->due_ms < next)
            next = ((sinst *)v)->due_ms;
    if (next == INT64_MAX) {
        uv_timer_stop(&m->pace_timer);
        return;
    }
    int64_t delay = next - br_nowMs(b);
    uv_timer_start(&m->pace_timer, on_pace_timer, (uint64_t)(delay > 0 ? delay : 0), 0);
}

static void on_resolved(brBridge *b, void *ctx, const brInstrument *inst, const char *slug, const char *msg,
                        int ib_code)
{
    char *lkey = ctx;
    sinst *si = b->mod[BR_MOD_STREAMS] ? ibbMap_Get(mod(b)->recs, lkey) : NULL;
    free(lkey);
    if (!si || si->state != SI_RESOLVING)
        return; /* released meanwhile */
    if (inst) {
        si->spec = inst->spec;
        si->state = SI_WAIT_IB;
        start_line(b, si);
    } else if (strcmp(slug, "ib_unavailable") == 0) {
        si->state = SI_WAIT_IB;
    } else {
        si->state = SI_FAILED;
        si->status_code = ib_code ? ib_code : 200;
        snprintf(si->status_msg, sizeof si->status_msg, "%s", msg ? msg : slug);
    }
}

/* Subscribes a record: resolves it first when its conId is unknown (a lease restored from KV). */
static void activate(brBridge *b, sinst *si)
{
    if (!b->ib_ready || mod(b)->stopping)
        return;
    if (si->spec.con_id > 0) {
        start_line(b, si);
        return;
    }
    char *ctx = strdup(si->lkey);
    if (!ctx)
        return;
    si->state = SI_RESOLVING;
    br_resolve(b, si->key, on_resolved, ctx);
}

/* ---------------------------------------------------------------------------------------------- */
/* records (the lease table's hooks, through the quotes module)                                    */
/* ---------------------------------------------------------------------------------------------- */

static subjSeq *seq_of(streams *m, const char *suffix)
{
    subjSeq *q = ibbMap_Get(m->seqs, suffix);
    if (!q) {
        q = calloc(1, sizeof *q);
        if (!q || ibbMap_Put(m->seqs, suffix, q) != IBB_OK) {
            free(q);
            return NULL;
        }
    }
    q->users++;
    return q;
}

static void sinst_free(sinst *si)
{
    if (si)
        free(si->book);
    free(si);
}

/* Fills a record's kind and parameters from its lease key. false for a malformed one. */
static bool parse_record(sinst *si, const char *lkey)
{
    char param[32];
    const char *key;
    if (!brSt_parseLeaseKey(lkey, &si->kind, param, sizeof param, &key) || !*key)
        return false;
    snprintf(si->lkey, sizeof si->lkey, "%s", lkey);
    snprintf(si->key, sizeof si->key, "%s", key);
    snprintf(si->suffix, sizeof si->suffix, "%s.%s", KIND_NAMES[si->kind], key);
    if (si->kind == BR_SK_DEPTH) {
        si->rows = atoi(param);
        si->book = malloc(sizeof *si->book);
        if (!si->book || si->rows < 1 || si->rows > ST_DEPTH_MAX_ROWS)
            return false;
        stDepthBook_Init(si->book, si->rows);
    } else if (si->kind == BR_SK_TICKS) {
        for (int t = IB_TBT_LAST; t <= IB_TBT_MIDPOINT; t++)
            if (strcmp(param, TBT_NAMES[t]) == 0)
                si->tbt_type = t;
        return si->tbt_type != IB_TBT_NONE;
    } else {
        snprintf(si->what, sizeof si->what, "%.15s", param);
    }
    return true;
}

void br_streamsAcquire(brBridge *b, const char *lease_key)
{
    streams *m = mod(b);
    sinst *si = m ? calloc(1, sizeof *si) : NULL;
    if (!si || !parse_record(si, lease_key) || !(si->seq = seq_of(m, si->suffix)) ||
        ibbMap_Put(m->recs, lease_key, si) != IBB_OK) {
        if (si && si->seq)
            si->seq->users--;
        sinst_free(si);
        IBB_ERROR("streams.acquire_failed", "lease_key=%s", lease_key);
        return;
    }
    const brInstrument *inst = br_instrument(b, si->key);
    if (inst)
        si->spec = inst->spec;
    else if (stInstrument_ParseKey(si->key, &si->spec, NULL) != IBB_OK)
        memset(&si->spec, 0, sizeof si->spec);
    m->count[si->kind]++;
    IBB_INFO("streams.acquire", "lease_key=%s %s=%zu", lease_key, KIND_NAMES[si->kind], m->count[si->kind]);
    activate(b, si);
}

void br_streamsRelease(brBridge *b, const char *lease_key)
{
    streams *m = mod(b);
    sinst *si = m ? ibbMap_Del(m->recs, lease_key) : NULL;
    if (!si)
        return;
    stop_line(b, si);
    m->count[si->kind]--;
    si->seq->users--; /* the counter stays: a subject's seq never goes back */
    if (si->dirty) {  /* off the dirty list */
        for (sinst **p = &m->dirty; *p; p = &(*p)->dirty_next)
            if (*p == si) {
                *p = si->dirty_next;
                break;
            }
    }
    if (m->waiters)
        answer_waiters(b, lease_key, si, "timeout", "the depth lease ended before IB sent the book");
    IBB_INFO("streams.release", "lease_key=%s %s=%zu", lease_key, KIND_NAMES[si->kind], m->count[si->kind]);
    sinst_free(si);
}

/* ---------------------------------------------------------------------------------------------- */
/* module hooks                                                                                    */
/* ---------------------------------------------------------------------------------------------- */

static void streams_on_read_done(brBridge *b)
{
    streams *m = mod(b);
    while (m->dirty) {
        sinst *si = m->dirty;
        m->dirty = si->dirty_next;
        si->dirty = false;
        publish_depth(b, si);
    }
    if (m->published) {
        m->published = false;
        busPublisher_Flush(b->quote_pub);
    }
    if (m->hold_check) {
        m->hold_check = false;
        brSt_checkHolds(b, false);
    }
}

static void resubscribe_all(brBridge *b, const char *why)
{
    streams *m = mod(b);
    ibbMapIter it;
    void *v;
    size_t n = 0;
    ibbMapIter_Init(&it, m->recs);
    while (ibbMapIter_Next(&it, NULL, NULL, &v)) {
        sinst *si = v;
        if (si->req_id)
            br_reqClose(b, si->req_id); /* IB forgot it */
        si->req_id = 0;
        if (si->state != SI_RESOLVING && si->state != SI_PACED)
            si->state = SI_WAIT_IB;
    }
    ibbMapIter_Init(&it, m->recs);
    while (ibbMapIter_Next(&it, NULL, NULL, &v))
        if (((sinst *)v)->state == SI_WAIT_IB || ((sinst *)v)->state == SI_FAILED) {
            ((sinst *)v)->state = SI_WAIT_IB;
            activate(b, v);
            n++;
        }
    m->resubscribes++;
    if (n)
        IBB_INFO("streams.resubscribe", "reason=%s subscriptions=%zu", why, n);
}

static void streams_on_ib_ready(brBridge *b) { resubscribe_all(b, "ib_ready"); }

static void streams_on_notice(brBridge *b, const ibError *e)
{
    if (e->code == 1101 && b->ib_ready) /* connectivity restored, data lost: every line again */
        resubscribe_all(b, "1101");
}

static void streams_on_stop(brBridge *b)
{
    streams *m = mod(b);
    m->stopping = true;
    ibbMapIter it;
    void *v;
    ibbMapIter_Init(&it, m->recs);
    while (ibbMapIter_Next(&it, NULL, NULL, &v))
        stop_line(b, v); /* cancels first in the pacer */
    answer_waiters(b, NULL, NULL, "unavailable", "ib-bridge is shutting down");
    brSt_checkHolds(b, true);
    if (m->timer_open) {
        uv_close((uv_handle_t *)&m->pace_timer, NULL);
        m->timer_open = false;
    }
}

static ibbStatus streams_init(brBridge *b)
{
    streams *m = calloc(1, sizeof *m);
    if (!m)
        return IBB_ERR_NOMEM;
    b->mod[BR_MOD_STREAMS] = m;
    if (ibbMap_Create(&m->recs) != IBB_OK || ibbMap_Create(&m->seqs) != IBB_OK ||
        ibbMap_Create(&m->tbt_win) != IBB_OK)
        return IBB_ERR_NOMEM;
    stRateWin_Init(&m->bars_win, BARS_WINDOW_MAX, BARS_WINDOW_MS);
    uv_timer_init(b->loop, &m->pace_timer);
    m->pace_timer.data = b;
    m->timer_open = true;
    busEndpointDef d = {.name = "depth", .subject = "depth", .handler = brSt_onDepth, .arg = b};
    return busService_AddEndpoint(b->svc, &d);
}

static void free_all(ibbMap *map, void (*fn)(void *))
{
    ibbMapIter it;
    void *v;
    ibbMapIter_Init(&it, map);
    while (map && ibbMapIter_Next(&it, NULL, NULL, &v))
        fn(v);
    ibbMap_Destroy(map);
}

static void free_sinst(void *v) { sinst_free(v); }

static void streams_fini(brBridge *b)
{
    streams *m = mod(b);
    if (!m)
        return;
    if (m->timer_open) { /* never started */
        uv_close((uv_handle_t *)&m->pace_timer, NULL);
        uv_run(b->loop, UV_RUN_NOWAIT);
    }
    while (m->waiters) { /* only when the bridge never ran */
        depthWaiter *w = m->waiters;
        m->waiters = w->next;
        busRequest_Release(w->req);
        free(w);
    }
    free_all(m->recs, free_sinst);
    free_all(m->seqs, free);
    free_all(m->tbt_win, free);
    free(m);
    b->mod[BR_MOD_STREAMS] = NULL;
}

const brModule br_streamsModule = {
    .name = "streams",
    .init = streams_init,
    .on_notice = streams_on_notice,
    .on_ib_ready = streams_on_ib_ready,
    .on_read_done = streams_on_read_done,
    .on_stop = streams_on_stop,
    .fini = streams_fini,
};
