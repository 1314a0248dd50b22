/* br_queries_candles.c — ib.rpc.candles: historical bars behind the pacing governor (st_histgov.h).
 *
 * A request is validated completely before anything reaches IB (duration, bar size, what_to_show,
 * the bar-size/duration steps IB documents, end time), then its instrument is resolved (cached),
 * then it is submitted to the governor under its full identity:
 *   - an identical request queued or in flight: the request waits on that job (one IB request);
 *   - an identical request answered within the cache window (15 s + margin): answered from cache;
 *   - otherwise a new job, released by the poll timer when IB's three rules allow. A job that
 *     cannot start before the request's deadline is refused at once with `pacing` and
 *     retry_after_ms; a queued waiter whose deadline comes first gets the same error just before.
 * The reply of a job is packed once (MessagePack, without the per-waiter "cached" flag) and kept
 * by the governor; every waiter is answered from those bytes. IB errors other than a pacing
 * violation are cached like replies (an identical request would only be refused again).
 *
 * Ownership: candleWaiter (one per request) is owned by the module's list until answered or
 * dropped; jobParams (one per job, job->user) is owned by the module's list until the job
 * completes, fails or is dropped. */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "br_candles_terms.h"
#include "br_queries_int.h"
#include "ibb_log.h"

#define DEADLINE_MARGIN_MS 500 /* time IB needs to answer once a request is sent */
#define SWEEP_MARGIN_MS 200 /* a queued waiter this close to its deadline gets `pacing` */
#define PACE_MARGIN_MS 500 /* clock slack between our send time and IB's receive time */
#define BODY_ENTRIES 11 /* entries of the cached reply body (see pack_body) */

typedef struct jobParams {
    struct jobParams *prev, *next;
    stHistJob *job;
    stInstrumentSpec spec;
    char key[ST_KEY_MAX];
    char duration[16], bar_size[16], what[32], end_ib[24], end_iso[24];
    bool use_rth;
    int64_t sent_ms;
} jobParams;

typedef enum { W_RESOLVING, W_WAITING } waiterState;

typedef struct candleWaiter {
    struct candleWaiter *prev, *next;
    brBridge *b;
    busRequest *req; /* NULL once answered or expired */
    waiterState state;
    stHistJob *job; /* W_WAITING */
    jobParams p; /* the request (spec filled after resolution) */
} candleWaiter;

struct brCandles {
    uv_timer_t timer;
    bool timer_init;
    candleWaiter *waiters;
    jobParams *params;
    stHistJob *send_failed[64];
    size_t nsend_failed;
};

static brCandles *cmod(const brBridge *b) { return brq_mod(b)->candles; }

/* ---- validation (the terms themselves: br_candles_terms.c) ------------------------------------- */

/* Reads and checks the whole request body into w->p (the key is not resolved yet). */
static bool parse_request(brBridge *b, const msgpack_object *body, jobParams *p, char *err, size_t errcap)
{
    (void)b;
    char key_err[300];
    if (br_keyFromBody(body, p->key, sizeof p->key, key_err, sizeof key_err) != IBB_OK) {
        snprintf(err, errcap, "%s", key_err);
        return false;
    }
    const char *s;
    size_t n;
    ibbStatus st;
    char fe[200];
    /* duration */
    int64_t dur;
    if ((st = busObj_Str(body, "duration", &s, &n)) == IBB_ERR_NOT_FOUND) {
        snprintf(p->duration, sizeof p->duration, "1 D");
        dur = 86400;
    } else if (st != IBB_OK) {
        snprintf(err, errcap, "%s",
                 busObj_FieldError(fe, sizeof fe, "duration", st, "string such as \"1 D\""));
        return false;
    } else if (!(dur = brq_parseDuration(s, n, p->duration, sizeof p->duration, err, errcap))) {
        return false;
    }
    /* bar size */
    int64_t bar;
    if ((st = busObj_Str(body, "bar_size", &s, &n)) == IBB_ERR_NOT_FOUND) {
        snprintf(p->bar_size, sizeof p->bar_size, "5 mins");
        bar = 300;
    } else if (st != IBB_OK) {
        snprintf(err, errcap, "%s",
                 busObj_FieldError(fe, sizeof fe, "bar_size", st, "string such as \"5 mins\""));
        return false;
    } else if (!(bar = brq_parseBarSize(s, n, p->bar_size, sizeof p->bar_size, err, errcap))) {
        return false;
    }
    /* what to show */
    if ((st = busObj_Str(body, "what_to_show", &s, &n)) == IBB_ERR_NOT_FOUND) {
        snprintf(p->what, sizeof p->what, "TRADES");
    } else if (st != IBB_OK) {
        snprintf(err, errcap, "%s",
                 busObj_FieldError(fe, sizeof fe, "what_to_show", st, "string such as \"TRADES\""));
        return false;
    } else {
        if (!brq_matchWhatToShow(s, n, p->what, sizeof p->what)) {
            snprintf(err, errcap,
                     "field 'what_to_show' \"%.*s\" is not supported: use TRADES, MIDPOINT, BID, ASK, "
                     "BID_ASK, ADJUSTED_LAST, HISTORICAL_VOLATILITY, OPTION_IMPLIED_VOLATILITY, REBATE_RATE, "
                     "FEE_RATE, YIELD_BID, YIELD_ASK, YIELD_BID_ASK, YIELD_LAST or AGGTRADES",
                     (int)(n > 40 ? 40 : n), s);
            return false;
        }
    }
    /* use_rth: boolean (0/1 accepted) */
    p->use_rth = true;
    int64_t iv;
    if ((st = busObj_Bool(body, "use_rth", &p->use_rth)) == IBB_ERR_INVALID_ARG) {
        if (busObj_Int(body, "use_rth", &iv) == IBB_OK && (iv == 0 || iv == 1)) {
            p->use_rth = iv == 1;
        } else {
            snprintf(err, errcap, "field 'use_rth' must be a boolean (true: regular trading hours only)");
            return false;
        }
    }
    /* end */
    p->end_ib[0] = p->end_iso[0] = '\0';
    if ((st = busObj_Str(body, "end", &s, &n)) == IBB_OK && n > 0) {
        int64_t t;
        if (!brq_parseIso(s, n, &t)) {
            snprintf(err, errcap,
                     "field 'end' \"%.*s\" is not an ISO-8601 time such as \"2024-01-05T16:00:00Z\" "
                     "(no zone means UTC; empty means now)",
                     (int)(n > 40 ? 40 : n), s);
            return false;
        }
        if (t < 315532800 || t > (int64_t)time(NULL) + 60) {
            snprintf(err, errcap,
                     "field 'end' must lie between 1980 and now (historical data ends in the past)");
            return false;
        }
        struct tm tm;
        time_t tt = (time_t)t;
        gmtime_r(&tt, &tm);
        strftime(p->end_ib, sizeof p->end_ib, "%Y%m%d-%H:%M:%S", &tm);
        strftime(p->end_iso, sizeof p->end_iso, "%Y-%m-%dT%H:%M:%SZ", &tm);
    } else if (st != IBB_OK && st != IBB_ERR_NOT_FOUND) {
        snprintf(err, errcap, "%s", busObj_FieldError(fe, sizeof fe, "end", st, "ISO-8601 string"));
        return false;
    }
    if (strcmp(p->what, "ADJUSTED_LAST") == 0 && p->end_ib[0]) {
        snprintf(err, errcap,
                 "what_to_show ADJUSTED_LAST needs an empty 'end' (IB refuses an end time with it)");
        return false;
    }
    return brq_checkSteps(dur, bar, p->duration, p->bar_size, err, errcap);
}

/* ---- the cached reply ------------------------------------------------------------------------------
 * result bytes: 'R' + MessagePack body (BODY_ENTRIES key/value pairs, no map header), or
 *               'E' + int32 ib_code (host order) + slug "\0" + message "\0". */

static void pack_num_or_nil(msgpack_packer *pk, const char *k, double v)
{
    busPack_Str(pk, k);
    if (v < 0 || ib_isUnsetDouble(v))
        msgpack_pack_nil(pk);
    else
        msgpack_pack_double(pk, v);
}

/* Packs the BODY_ENTRIES entries of a reply. IBB_ERR_PROTOCOL when a bar date cannot be read. */
static ibbStatus pack_body(msgpack_packer *pk, const jobParams *p, const ibHistoricalData *hd)
{
    busPack_KeyStr(pk, "key", p->key);
    busPack_Str(pk, "contract");
    br_packContract(pk, &p->spec);
    busPack_KeyStr(pk, "duration", p->duration);
    busPack_KeyStr(pk, "bar_size", p->bar_size);
    busPack_KeyStr(pk, "what_to_show", p->what);
    busPack_KeyBool(pk, "use_rth", p->use_rth);
    busPack_KeyStr(pk, "end", p->end_iso);
    busPack_KeyInt(pk, "as_of_ns", br_wallNs());
    busPack_KeyInt(pk, "count", hd->bar_count);
    busPack_KeyStr(pk, "source", "ib");
    busPack_Str(pk, "bars");
    msgpack_pack_array(pk, (size_t)hd->bar_count);
    ibHistoricalData h = *hd;
    ibBar bar;
    int n = 0;
    while (ibHistoricalData_NextBar(&h, &bar)) {
        int64_t t;
        if (!brq_parseBarTime(bar.date ? bar.date : "", &t)) {
            IBB_WARN("candles.bad_bar_date", "key=%s date=\"%s\"", p->key, bar.date ? bar.date : "");
            return IBB_ERR_PROTOCOL;
        }
        msgpack_pack_map(pk, 8);
        busPack_KeyInt(pk, "t", t);
        busPack_KeyDouble(pk, "o", bar.open);
        busPack_KeyDouble(pk, "h", bar.high);
        busPack_KeyDouble(pk, "l", bar.low);
        busPack_KeyDouble(pk, "c", bar.close);
        pack_num_or_nil(pk, "v", bar.volume);
        pack_num_or_nil(pk, "wap", bar.wap);
        busPack_Str(pk, "count");
        if (bar.count < 0 || ib_isUnsetInt(bar.count))
            msgpack_pack_nil(pk);
        else
            msgpack_pack_int64(pk, bar.count);
        n++;
    }
    return n == hd->bar_count ? IBB_OK : IBB_ERR_PROTOCOL;
}

static void error_result(msgpack_sbuffer *sb, const char *slug, const char *msg, int ib_code)
{
    int32_t code = ib_code;
    msgpack_sbuffer_write(sb, "E", 1);
    msgpack_sbuffer_write(sb, (const char *)&code, sizeof code);
    msgpack_sbuffer_write(sb, slug, strlen(slug) + 1);
    msgpack_sbuffer_write(sb, msg, strlen(msg) + 1);
}

/* Answers one request from a job's result. */
static void answer_from(brBridge *b, busRequest *req, const char *res, size_t len, bool cached)
{
    if (len >= 1 + sizeof(int32_t) + 2 && res[0] == 'E') {
        int32_t code;
        memcpy(&code, res + 1, sizeof code);
        const char *slug = res + 1 + sizeof code;
        const char *msg = slug + strlen(slug) + 1;
        busRequest_Error(req, slug, msg, code);
        return;
    }
    if (len < 1 || res[0] != 'R') {
        busRequest_Error(req, "internal", "the cached candles reply is damaged; please report", 0);
        return;
    }
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, BODY_ENTRIES + 1);
    busPack_KeyBool(&pk, "cached", cached);
    msgpack_sbuffer_write(&sb, res + 1, len - 1);
    brq_replyChecked(b, req, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
}

/* ---- waiters and params ---------------------------------------------------------------------------- */

static void list_unlink_waiter(brCandles *c, candleWaiter *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else if (c->waiters == w)
        c->waiters = w->next;
    if (w->next)
        w->next->prev = w->prev;
    w->prev = w->next = NULL;
}

static void free_waiter(brBridge *b, candleWaiter *w)
{
    list_unlink_waiter(cmod(b), w);
    if (w->req)
        busRequest_Release(w->req);
    free(w);
}

static jobParams *params_new(brCandles *c, const jobParams *src, stHistJob *job)
{
    jobParams *p = malloc(sizeof *p);
    if (!p)
        return NULL;
    *p = *src;
    p->job = job;
    p->prev = NULL;
    p->next = c->params;
    if (c->params)
        c->params->prev = p;
    c->params = p;
    job->user = p;
    return p;
}

static void params_free(brCandles *c, stHistJob *job)
{
    jobParams *p = job->user;
    if (!p)
        return;
    job->user = NULL;
    if (p->prev)
        p->prev->next = p->next;
    else
        c->params = p->next;
    if (p->next)
        p->next->prev = p->prev;
    free(p);
}

/* The waiter leaves its job (deadline, answered early); a queued job left alone is dropped. */
static void detach(brBridge *b, candleWaiter *w)
{
    if (w->state != W_WAITING || !w->job)
        return;
    stHistJob *j = w->job;
    w->job = NULL;
    if (j->state == ST_JOB_QUEUED && j->nwaiters == 1)
        params_free(cmod(b), j);
    stHistGov_Detach(b->hist, j, w);
}

/* stHistGov hands every waiter of a finished job here. */
static void each_done(void *ud, void *waiter, stHistJob *job)
{
    brBridge *b = ud;
    candleWaiter *w = waiter;
    w->job = NULL;
    if (w->req)
        answer_from(b, w->req, job->result, job->result_len, false);
    free_waiter(b, w);
}

typedef struct failInfo {
    brBridge *b;
    const char *slug, *msg;
    int ib_code;
    int64_t retry_ms;
} failInfo;

static void each_failed(void *ud, void *waiter, stHistJob *job)
{
    (void)job;
    failInfo *f = ud;
    candleWaiter *w = waiter;
    w->job = NULL;
    if (w->req)
        busRequest_ErrorRetry(w->req, f->slug, f->msg, f->ib_code, f->retry_ms);
    free_waiter(f->b, w);
}

static void fail_job(brBridge *b, stHistJob *j, const char *slug, const char *msg, int ib_code,
                     int64_t retry_ms)
{
    params_free(cmod(b), j);
    failInfo f = {b, slug, msg, ib_code, retry_ms};
    stHistGov_Fail(b->hist, j, each_failed, &f);
}

static void complete_job(brBridge *b, stHistJob *j, const char *res, size_t len)
{
    params_free(cmod(b), j);
    stHistGov_Complete(b->hist, j, res, len, br_nowMs(b), each_done, b);
}

/* ---- IB side --------------------------------------------------------------------------------------- */

static void kick(brBridge *b, int64_t in_ms);

static void on_hist_reply(brBridge *b, int64_t req_id, const ibReply *r, void *ctx)
{
    stHistJob *j = ctx;
    if (r->id != IB_MSG_HISTORICAL_DATA)
        return; /* historicalDataUpdate: never asked for (keepUpToDate 0) */
    br_reqClose(b, req_id);
    jobParams *p = j->user;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_sbuffer_write(&sb, "R", 1);
    ibbStatus s = p ? pack_body(&pk, p, &r->u.historical) : IBB_ERR_STATE;
    int64_t limit = brq_maxPayload(b);
    IBB_DEBUG("candles.answer", "req_id=%" PRId64 " bars=%d bytes=%zu ms=%" PRId64, req_id,
              r->u.historical.bar_count, sb.size, p ? br_nowMs(b) - p->sent_ms : 0);
    if (s != IBB_OK) {
        msgpack_sbuffer_clear(&sb);
        error_result(&sb, "ib_error", "IB sent historical data ib-bridge cannot read (bad bar date)", 0);
    } else if ((int64_t)sb.size + 16 > limit) {
        char msg[300];
        snprintf(msg, sizeof msg,
                 "the reply would hold %d bars in about %zu bytes, over the NATS max_payload of %" PRId64
                 " bytes (replies are never split): ask for a shorter duration or a larger bar size",
                 r->u.historical.bar_count, sb.size, limit);
        msgpack_sbuffer_clear(&sb);
        error_result(&sb, "payload_too_large", msg, 0);
    }
    complete_job(b, j, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
    kick(b, 0);
}

static void on_hist_error(brBridge *b, int64_t req_id, const ibError *e, void *ctx)
{
    stHistJob *j = ctx;
    br_reqClose(b, req_id);
    char msg[400];
    snprintf(msg, sizeof msg, "IB error %" PRId64 ": %s", e->code, e->message);
    if (e->code == 162 && strstr(e->message, "pacing")) {
        /* another client of the gateway used the budget: not cached, retry after the window */
        IBB_WARN("candles.ib_pacing", "req_id=%" PRId64 " text=\"%s\"", req_id, e->message);
        fail_job(b, j, "pacing", msg, 162, 15000);
    } else {
        const char *slug = "ib_error";
        switch (e->code) {
        case 200: slug = "unknown_symbol"; break;
        case 321:
        case 322: slug = "bad_request"; break;
        case 354:
        case 10167:
        case 10168:
        case 10197:
        case 10089: slug = "forbidden"; break;
        case 162: slug = strstr(e->message, "no data") ? "not_found" : "ib_error"; break;
        default: break;
        }
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        error_result(&sb, slug, msg, (int)e->code);
        complete_job(b, j, sb.data, sb.size);
        msgpack_sbuffer_destroy(&sb);
    }
    kick(b, 0);
}

static void on_hist_lost(brBridge *b, int64_t req_id, void *ctx)
{
    br_reqClose(b, req_id);
    fail_job(b, ctx, "ib_unavailable",
             "the IB link dropped before the historical data arrived; retry when "
             "ib.evt.conn reports ready",
             0, 0);
}

static const brPendingOps hist_ops = {on_hist_reply, on_hist_error, on_hist_lost};

/* stHistGov_Poll released a job: send it (a failure is handled after Poll returns). */
static void send_job(void *ud, stHistJob *j)
{
    brBridge *b = ud;
    brCandles *c = cmod(b);
    jobParams *p = j->user;
    ibRequest rq;
    ibRequest_Init(&rq, IB_REQ_HISTORICAL_DATA);
    int64_t id = p ? br_reqOpen(b, &hist_ops, j) : -1;
    ibbStatus s = IBB_ERR_NOMEM;
    if (id > 0) {
        ibReqHistoricalData *h = &rq.u.historical;
        h->req_id = id;
        stInstrument_ToContract(&p->spec, &h->contract);
        h->end_date_time = p->end_ib;
        h->bar_size = p->bar_size;
        h->duration = p->duration;
        h->use_rth = p->use_rth;
        h->what_to_show = p->what;
        h->format_date = 2;
        h->keep_up_to_date = false;
        p->sent_ms = br_nowMs(b);
        s = br_send(b, &rq);
        if (s != IBB_OK)
            br_reqClose(b, id);
    }
    if (s == IBB_OK) {
        j->req_id = id;
        IBB_DEBUG("candles.sent", "req_id=%" PRId64 " key=%s", id, j->key);
    } else if (c->nsend_failed < sizeof c->send_failed / sizeof c->send_failed[0]) {
        j->req_id = 0;
        c->send_failed[c->nsend_failed++] = j;
    }
}

/* Queued waiters that their deadline is about to overtake get `pacing` now (not a bare timeout). */
static int64_t sweep(brBridge *b, int64_t now)
{
    int64_t next = INT64_MAX;
    for (candleWaiter *w = cmod(b)->waiters, *nx; w; w = nx) {
        nx = w->next;
        if (w->state != W_WAITING || !w->job || w->job->state != ST_JOB_QUEUED || !w->req)
            continue;
        int64_t left = busRequest_RemainingMs(w->req);
        if (left > SWEEP_MARGIN_MS) {
            if (now + left - SWEEP_MARGIN_MS < next)
                next = now + left - SWEEP_MARGIN_MS;
            continue;
        }
        int64_t ready = stHistGov_JobReadyAt(b->hist, w->job, now);
        int64_t retry = ready > now ? ready - now : 1000;
        busRequest_ErrorRetry(
            w->req, "pacing",
            "IB's historical-data pacing rules (identical request within 15 s, "
            "6 per contract in 2 s, 60 in 10 min) could not fit this request before its deadline",
            0, retry);
        detach(b, w);
        free_waiter(b, w);
    }
    return next;
}

static void on_timer(uv_timer_t *t)
{
    brBridge *b = t->data;
    brCandles *c = cmod(b);
    int64_t now = br_nowMs(b);
    if (b->ib_ready && !b->stopping)
        stHistGov_Poll(b->hist, now, send_job, b);
    while (c->nsend_failed > 0)
        fail_job(b, c->send_failed[--c->nsend_failed], "ib_unavailable",
                 "could not send the historical data request to IB (link down or queue full)", 0, 0);
    int64_t next = sweep(b, now);
    int64_t due = stHistGov_NextDue(b->hist, now);
    if (due < next)
        next = due;
    if (next == INT64_MAX && (stHistGov_InFlight(b->hist) > 0 || c->waiters))
        next = now + 1000;
    if (next == INT64_MAX)
        next = now + 20000; /* evicts the cache now and then */
    uv_timer_start(&c->timer, on_timer, (uint64_t)(next > now ? next - now : 1), 0);
}

static void kick(brBridge *b, int64_t in_ms)
{
    brCandles *c = cmod(b);
    if (c && c->timer_init && !uv_is_closing((uv_handle_t *)&c->timer))
        uv_timer_start(&c->timer, on_timer, (uint64_t)in_ms, 0);
}

/* ---- requests ------------------------------------------------------------------------------------ */

static void on_resolved(brBridge *b, void *ctx, const brInstrument *inst, const char *slug, const char *msg,
                        int ib_code);

/* The deadline answered the request. Still resolving: it withdraws from the resolution (whose
 * reqContractDetails is then not sent if nobody else waits). Waiting on a job: a queued job left alone
 * is dropped before reaching IB; a job released by the governor is kept even while it waits in the
 * session's pacer, because the governor logged it as sent (dropping it would block an identical retry
 * for 15 s and spend the window slot for nothing; its answer fills the cache for that retry). */
static void on_expire(busRequest *req, void *arg)
{
    candleWaiter *w = arg;
    (void)req;
    busRequest_Release(w->req);
    w->req = NULL;
    if (w->state == W_WAITING) {
        detach(w->b, w);
        free_waiter(w->b, w);
    } else if (br_resolveCancel(w->b, w->p.key, on_resolved, w)) {
        free_waiter(w->b, w);
    } /* else W_RESOLVING: freed when the resolution calls back */
}

static void submit(brBridge *b, candleWaiter *w)
{
    jobParams *p = &w->p;
    char key[512], pace[256];
    snprintf(pace, sizeof pace, "%" PRId64 "|%s|%s", p->spec.con_id, p->spec.exchange, p->what);
    snprintf(key, sizeof key, "%s|%s|%s|%s|%d", pace, p->bar_size, p->duration, p->end_ib, p->use_rth);
    int weight = strcmp(p->what, "BID_ASK") == 0 ? 2 : 1;
    int64_t now = br_nowMs(b);
    int64_t est = stHistGov_EarliestStart(b->hist, pace, weight, now);
    stHistJob *job;
    stHistOutcome out;
    if (stHistGov_Submit(b->hist, key, pace, weight, w, now, &job, &out) != IBB_OK) {
        busRequest_Error(w->req, "internal", "out of memory queueing the historical data request", 0);
        free_waiter(b, w);
        return;
    }
    if (out == ST_HIST_CACHED) {
        answer_from(b, w->req, job->result, job->result_len, true);
        free_waiter(b, w);
        return;
    }
    w->state = W_WAITING;
    w->job = job;
    if (!b->ib_ready) { /* the instrument was cached, the reply is not: nothing can be sent now */
        if (out == ST_HIST_QUEUED)
            params_new(cmod(b), p, job); /* detach frees it with the job */
        br_requireIb(b, w->req);
        detach(b, w);
        free_waiter(b, w);
        return;
    }
    if (out == ST_HIST_QUEUED) {
        if (!params_new(cmod(b), p, job)) {
            busRequest_Error(w->req, "internal", "out of memory queueing the historical data request", 0);
            detach(b, w);
            free_waiter(b, w);
            return;
        }
        int64_t ready = stHistGov_JobReadyAt(b->hist, job, now);
        if (ready > est)
            est = ready;
        int64_t left = busRequest_RemainingMs(w->req);
        if (est > now && est + DEADLINE_MARGIN_MS > now + left) {
            char msg[300];
            snprintf(msg, sizeof msg,
                     "IB's historical-data pacing rules (identical request within 15 s, 6 per "
                     "contract in 2 s, 60 in 10 min) allow this request in about %" PRId64 " ms, after its "
                     "deadline: retry then",
                     est - now);
            IBB_INFO("candles.pacing_refused", "key=%s wait_ms=%" PRId64 " deadline_ms=%" PRId64, key,
                     est - now, left);
            busRequest_ErrorRetry(w->req, "pacing", msg, 0, est - now);
            detach(b, w);
            free_waiter(b, w);
            return;
        }
        kick(b, 0);
    }
}

static void on_resolved(brBridge *b, void *ctx, const brInstrument *inst, const char *slug, const char *msg,
                        int ib_code)
{
    candleWaiter *w = ctx;
    if (!w->req) { /* expired while resolving */
        free_waiter(b, w);
        return;
    }
    if (slug) {
        busRequest_Error(w->req, slug, msg, ib_code);
        free_waiter(b, w);
        return;
    }
    w->p.spec = inst->spec;
    snprintf(w->p.key, sizeof w->p.key, "%s", inst->key);
    submit(b, w);
}

static void on_candles(busRequest *req, void *arg)
{
    brBridge *b = arg;
    brCandles *c = cmod(b);
    candleWaiter *w = calloc(1, sizeof *w);
    if (!w) {
        busRequest_Fail(req, "internal", "out of memory", 0);
        return;
    }
    char err[400];
    if (!parse_request(b, busRequest_Body(req), &w->p, err, sizeof err)) {
        busRequest_Fail(req, "bad_request", err, 0);
        free(w);
        return;
    }
    w->b = b;
    w->req = req; /* the handler's reference, released by free_waiter */
    w->state = W_RESOLVING;
    w->next = c->waiters;
    if (c->waiters)
        c->waiters->prev = w;
    c->waiters = w;
    if (!b->ib_ready && !br_instrument(b, w->p.key)) {
        br_requireIb(b, req);
        free_waiter(b, w);
        return;
    }
    busRequest_OnExpire(req, on_expire, w);
    br_resolve(b, w->p.key, on_resolved, w);
}

/* ---- module hooks -------------------------------------------------------------------------------- */

ibbStatus brq_candlesInit(brBridge *b)
{
    brCandles *c = calloc(1, sizeof *c);
    if (!c)
        return IBB_ERR_NOMEM;
    brq_mod(b)->candles = c;
    stHistLimits lim;
    stHistLimits_Default(&lim);
    /* our send time is taken before the pacer and the socket: keep a margin over IB's windows */
    lim.identical_window_ms += 2 * PACE_MARGIN_MS;
    lim.per_contract_window_ms += PACE_MARGIN_MS;
    lim.window_ms += 10 * PACE_MARGIN_MS;
    ibbStatus s = stHistGov_Create(&b->hist, &lim);
    if (s != IBB_OK)
        return s;
    uv_timer_init(b->loop, &c->timer);
    c->timer.data = b;
    c->timer_init = true;
    uv_unref((uv_handle_t *)&c->timer); /* never keeps the loop alive on its own */
    busEndpointDef d = {.name = "candles", .subject = "candles", .handler = on_candles, .arg = b};
    return busService_AddEndpoint(b->svc, &d);
}

void brq_candlesIbReady(brBridge *b) { kick(b, 0); }

/* Queued jobs wait for IB: their waiters learn now that it is gone (in-flight ones via on_lost). */
void brq_candlesIbDown(brBridge *b)
{
    brCandles *c = cmod(b);
    for (candleWaiter *w = c->waiters, *nx; w; w = nx) {
        nx = w->next;
        if (w->state != W_WAITING || !w->job || w->job->state != ST_JOB_QUEUED)
            continue;
        if (w->req)
            br_requireIb(b, w->req);
        detach(b, w);
        free_waiter(b, w);
    }
}

void brq_candlesFini(brBridge *b)
{
    brCandles *c = cmod(b);
    if (!c)
        return;
    while (c->waiters) {
        candleWaiter *w = c->waiters;
        list_unlink_waiter(c, w);
        if (w->req)
            busRequest_Release(w->req);
        free(w);
    }
    while (c->params) {
        jobParams *p = c->params;
        c->params = p->next;
        p->job->user = NULL;
        free(p);
    }
    if (c->timer_init && !uv_is_closing((uv_handle_t *)&c->timer)) {
        uv_timer_stop(&c->timer);
        uv_close((uv_handle_t *)&c->timer, (uv_close_cb)free);
        brq_mod(b)->candles = NULL; /* freed by the close callback */
        return;
    }
    free(c);
    brq_mod(b)->candles = NULL;
}
