/* test_stale.c — requests whose caller gave up are not sent: the pacer asks a keep callback as a keyed
 * message reaches the head of the queue, drops the refused ones without spending a token (fake clock),
 * never drops cancels or messages without a key; and through a real session to a scripted IB peer,
 * exactly the wanted reqContractDetails reach the wire, cancels always do, and dropped_stale counts
 * the others. */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core_pacer.h"
#include "core_session.h"
#include "ibb_log.h"
#include "peer.h"
#include "testutil.h"

/* ---- corePacer with a fake clock -------------------------------------------------------------- */

#define MAX_LOG 512

typedef struct staleLog {
    int n;
    int tags[MAX_LOG];
    int64_t keys[MAX_LOG]; /* decoded from the bytes: the payload is "k<key>" */
    int asked;             /* keep callback calls */
    int64_t asked_keys[MAX_LOG];
    bool unwanted[MAX_LOG]; /* by key */
} staleLog;

static void record(void *ud, int tag, const char *data, size_t len)
{
    staleLog *l = ud;
    char buf[32];
    cr_assert(len > 1 && len < sizeof buf && data[0] == 'k', "bytes were not handed over intact");
    memcpy(buf, data, len);
    buf[len] = '\0';
    if (l->n < MAX_LOG) {
        l->tags[l->n] = tag;
        l->keys[l->n] = strtoll(buf + 1, NULL, 10);
    }
    l->n++;
}

static bool keep(void *ud, int tag, int64_t key)
{
    (void)tag;
    staleLog *l = ud;
    if (l->asked < MAX_LOG)
        l->asked_keys[l->asked] = key;
    l->asked++;
    return !(key >= 0 && key < MAX_LOG && l->unwanted[key]);
}

static void push(corePacer *p, corePriority prio, int tag, int64_t key)
{
    char buf[32];
    int n = snprintf(buf, sizeof buf, "k%" PRId64, key);
    cr_assert_eq(corePacer_PushKeyed(p, prio, tag, key, buf, (size_t)n), IBB_OK);
}

Test(stale_pacer, refused_requests_spend_no_token)
{
    corePacer *p;
    cr_assert_eq(corePacer_Create(&p, 10.0, 5, 0), IBB_OK);
    static staleLog l;
    memset(&l, 0, sizeof l);
    corePacer_SetKeep(p, keep, &l);
    /* 10 requests with ids 1..10; the callers of the odd ones gave up while they were queued. */
    for (int64_t k = 1; k <= 10; k++)
        push(p, CORE_PRIO_AUTO, IB_REQ_CONTRACT_DETAILS, k);
    for (int64_t k = 1; k <= 10; k += 2)
        l.unwanted[k] = true;
    int64_t wait = corePacer_Run(p, 0.0, record, &l);
    /* A full bucket holds 5 tokens: all 5 wanted ones leave in that burst, so the 5 dropped ones took
     * none. Had they spent tokens, only 2 or 3 wanted ones would have left now. */
    cr_assert_eq(l.n, 5, "wanted requests sent in the first burst: %d", l.n);
    for (int i = 0; i < 5; i++)
        cr_expect_eq(l.keys[i], 2 * (i + 1), "send %d carried key %" PRId64, i, l.keys[i]);
    cr_expect_eq(wait, -1, "nothing left to send: %" PRId64, wait);
    cr_expect_eq(corePacer_Dropped(p), 5);
    cr_expect_eq(corePacer_Sent(p), 5);
    cr_expect_eq(l.asked, 10, "the keep callback is asked once per keyed request");
    cr_expect_eq(corePacer_Depth(p, NULL, NULL), 0);
    /* The bucket is empty now: a wanted request waits for a token (~100 ms), it does not jump. */
    push(p, CORE_PRIO_AUTO, IB_REQ_CONTRACT_DETAILS, 12);
    cr_expect_gt(corePacer_Run(p, 1.0, record, &l), 0);
    cr_expect_eq(l.n, 5);
    corePacer_Destroy(p);
}

Test(stale_pacer, a_stale_head_waits_for_a_token_then_is_skipped_for_free)
{
    corePacer *p;
    /* 15.625 msg/s: one token every 64 ms, exact in binary floating point */
    cr_assert_eq(corePacer_Create(&p, 1000.0 / 64.0, 1, 0), IBB_OK);
    static staleLog l;
    memset(&l, 0, sizeof l);
    corePacer_SetKeep(p, keep, &l);
    push(p, CORE_PRIO_AUTO, IB_REQ_HISTORICAL_DATA, 1);
    cr_assert_eq(l.n, 0);
    corePacer_Run(p, 0.0, record, &l); /* the one token goes to key 1 */
    cr_assert_eq(l.n, 1);
    for (int64_t k = 2; k <= 6; k++)
        push(p, CORE_PRIO_AUTO, IB_REQ_HISTORICAL_DATA, k);
    l.unwanted[2] = l.unwanted[3] = l.unwanted[4] = true;
    int64_t wait = corePacer_Run(p, 32.0, record, &l); /* half a token: nothing asked, nothing sent */
    cr_expect_eq(l.n, 1);
    cr_expect_eq(l.asked, 1, "the keep callback is asked only when a token is there");
    cr_expect_eq(wait, 32, "next token in %" PRId64 " ms", wait);
    corePacer_Run(p, 64.0, record, &l); /* one token: 2, 3, 4 dropped, 5 sent */
    cr_assert_eq(l.n, 2);
    cr_expect_eq(l.keys[1], 5);
    corePacer_Run(p, 96.0, record, &l);
    cr_expect_eq(l.n, 2, "the token went to key 5; key 6 waits");
    corePacer_Run(p, 128.0, record, &l);
    cr_assert_eq(l.n, 3);
    cr_expect_eq(l.keys[2], 6);
    cr_expect_eq(corePacer_Dropped(p), 3);
    corePacer_Destroy(p);
}

Test(stale_pacer, cancels_and_unkeyed_messages_are_never_dropped)
{
    corePacer *p;
    cr_assert_eq(corePacer_Create(&p, 45.0, 50, 0), IBB_OK);
    static staleLog l;
    memset(&l, 0, sizeof l);
    for (int k = 0; k < MAX_LOG; k++)
        l.unwanted[k] = true; /* nobody wants anything */
    corePacer_SetKeep(p, keep, &l);
    push(p, CORE_PRIO_AUTO, IB_REQ_CANCEL_MKT_DATA, 11);        /* cancel queue */
    push(p, CORE_PRIO_NORMAL, IB_REQ_CANCEL_HISTORICAL_DATA, 12); /* a cancel in the normal queue */
    push(p, CORE_PRIO_CANCEL, IB_REQ_MKT_DATA, 13);             /* anything in the cancel queue */
    push(p, CORE_PRIO_AUTO, IB_REQ_CANCEL_ORDER, 14);
    push(p, CORE_PRIO_AUTO, IB_REQ_PLACE_ORDER, 0);             /* no key */
    push(p, CORE_PRIO_AUTO, IB_REQ_IDS, 0);
    push(p, CORE_PRIO_AUTO, IB_REQ_MKT_DATA, 15);               /* the only droppable one */
    corePacer_Run(p, 0.0, record, &l);
    cr_assert_eq(l.n, 6, "sent %d of the 6 undroppable messages", l.n);
    cr_expect_eq(corePacer_Dropped(p), 1);
    cr_expect_eq(l.asked, 1, "asked only about the keyed normal request");
    cr_expect_eq(l.asked_keys[0], 15);
    int tags[] = {IB_REQ_CANCEL_MKT_DATA, IB_REQ_MKT_DATA, IB_REQ_CANCEL_ORDER,
                  IB_REQ_CANCEL_HISTORICAL_DATA, IB_REQ_PLACE_ORDER, IB_REQ_IDS};
    for (int i = 0; i < 6; i++)
        cr_expect_eq(l.tags[i], tags[i], "message %d: %d", i, l.tags[i]);
    /* Without a keep callback nothing is dropped. */
    corePacer_SetKeep(p, NULL, NULL);
    push(p, CORE_PRIO_AUTO, IB_REQ_MKT_DATA, 16);
    corePacer_Run(p, 1000.0, record, &l);
    cr_expect_eq(l.n, 7);
    cr_expect_eq(corePacer_Dropped(p), 1);
    corePacer_Destroy(p);
}

/* ---- a real session: what reaches the wire ---------------------------------------------------- */

#define N_REQ 200     /* reqContractDetails, ids BASE + i */
#define N_CXL 5       /* cancelMktData for ids nobody wants */
#define BASE 5000
#define MAX_FRAMES 512

typedef struct wireLog {
    int n;
    int kind[MAX_FRAMES];
    int64_t id[MAX_FRAMES];
    double t[MAX_FRAMES];
    bool ok;
} wireLog;

static void script_record(testPeer *p, void *arg)
{
    wireLog *w = arg;
    int fd = peer_Accept(p, 5000);
    if (fd < 0 || !peer_OpenReady(p, fd, NULL))
        return;
    w->ok = true;
    char buf[1024];
    const char *f[32];
    while (!peer_Stopping(p)) {
        double t;
        int k = peer_ReadFrame(p, fd, buf, sizeof buf, f, 32, 200, &t);
        if (k < 0)
            break;
        if (k == 0)
            continue;
        int i = w->n;
        if (i < MAX_FRAMES) {
            w->kind[i] = atoi(f[0]);
            w->id[i] = k >= 3 ? strtoll(f[2], NULL, 10) : -1;
            w->t[i] = t;
        }
        w->n = i + 1;
    }
}

typedef struct staleCtx {
    coreSession *s;
    bool queued;
    ibbStatus first_err;
    bool unwanted[N_REQ + N_CXL];
    int asked;
} staleCtx;

static bool still_wanted(void *ud, int request, int64_t req_id)
{
    staleCtx *c = ud;
    c->asked++;
    cr_assert_eq(request, IB_REQ_CONTRACT_DETAILS, "asked about request %d", request);
    int64_t i = req_id - BASE;
    return !(i >= 0 && i < N_REQ + N_CXL && c->unwanted[i]);
}

/* The caller of request i gave up: 3 of every 4, except the first 5 (they leave in the first burst,
 * inside Send). Those before LATE gave up before Send; the others only after all were queued. */
#define LATE 150
static bool gives_up(int i) { return i >= 5 && i % 4 != 0; }

static void on_ready_queue(void *ud, coreState from, coreState to, ibbStatus reason)
{
    (void)from;
    (void)reason;
    staleCtx *c = ud;
    if (to != CORE_STATE_READY || c->queued)
        return;
    c->queued = true;
    ibRequest req;
    for (int i = 0; i < LATE; i++)
        c->unwanted[i] = gives_up(i);
    for (int i = 0; i < N_REQ; i++) {
        ibRequest_Init(&req, IB_REQ_CONTRACT_DETAILS);
        req.u.contract_details.req_id = BASE + i;
        ibContract *k = &req.u.contract_details.contract;
        k->symbol = "AAPL";
        k->sec_type = "STK";
        k->exchange = "SMART";
        k->currency = "USD";
        cr_assert_eq(coreSession_RequestKey(&req), BASE + i);
        ibbStatus st = coreSession_Send(c->s, &req, CORE_PRIO_AUTO);
        if (st != IBB_OK && c->first_err == IBB_OK)
            c->first_err = st;
    }
    /* The callers of the last ones give up while their requests wait in the queue (their module
     * closes the ids): the session decides at dequeue time. */
    for (int i = LATE; i < N_REQ; i++)
        c->unwanted[i] = gives_up(i);
    for (int i = 0; i < N_CXL; i++) {
        c->unwanted[N_REQ + i] = true;
        ibRequest_Init(&req, IB_REQ_CANCEL_MKT_DATA);
        req.u.cancel.req_id = BASE + N_REQ + i;
        cr_assert_eq(coreSession_RequestKey(&req), 0, "a cancel is never droppable");
        ibbStatus st = coreSession_Send(c->s, &req, CORE_PRIO_AUTO);
        if (st != IBB_OK && c->first_err == IBB_OK)
            c->first_err = st;
    }
}

typedef struct doneArg {
    wireLog *w;
    coreSession *s;
    int want;
} doneArg;

static bool drained(void *arg)
{
    doneArg *d = arg;
    coreSessionStats st;
    coreSession_GetStats(d->s, &st);
    return d->w->n >= d->want && st.queue_normal + st.queue_cancel == 0;
}

Test(stale_session, only_wanted_requests_reach_the_wire, .timeout = 60)
{
    signal(SIGPIPE, SIG_IGN);
    test_LogCapture();
    ibbLog_SetLevel(IBB_LOG_INFO);
    static wireLog w;
    memset(&w, 0, sizeof w);
    uv_loop_t loop;
    cr_assert_eq(uv_loop_init(&loop), 0);
    testPeer *peer = peer_Start(script_record, &w);
    cr_assert_not_null(peer);
    coreSessionConfig cfg;
    coreSessionConfig_Init(&cfg);
    cfg.port = peer_Port(peer);
    cfg.pacing_rate = 45.0;
    cfg.pacing_burst = 5;
    coreSession *s;
    cr_assert_eq(coreSession_Create(&s, &loop, &cfg), IBB_OK);
    static staleCtx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.s = s;
    coreSession_SetStillWanted(s, still_wanted, &ctx);
    coreSession_OnState(s, on_ready_queue, &ctx);
    coreSession_Start(s);

    int wanted = 0;
    for (int i = 0; i < N_REQ; i++)
        wanted += !gives_up(i);
    doneArg d = {&w, s, wanted + N_CXL};
    bool ok = test_RunUntil(&loop, drained, &d, 30000);
    test_RunFor(&loop, 300); /* anything sent late would show up now */
    coreSessionStats st;
    coreSession_GetStats(s, &st);
    coreSession_Destroy(s);
    peer_Stop(peer);
    cr_expect_eq(uv_loop_close(&loop), 0);
    if (!ok)
        test_LogDump();
    cr_assert(w.ok, "the session never reached the peer");
    cr_assert(ok, "peer received %d of %d messages", w.n, wanted + N_CXL);
    cr_expect_eq(ctx.first_err, IBB_OK, "send failed: %s", ibbStatus_Name(ctx.first_err));

    cr_assert_eq(w.n, wanted + N_CXL, "frames on the wire: %d, wanted %d + %d cancels", w.n, wanted, N_CXL);
    int cancels = 0, details = 0;
    int64_t prev = -1;
    for (int i = 0; i < w.n && i < MAX_FRAMES; i++) {
        if (w.kind[i] == IB_REQ_CANCEL_MKT_DATA) {
            cancels++;
            continue;
        }
        cr_assert_eq(w.kind[i], IB_REQ_CONTRACT_DETAILS, "frame %d is message %d", i, w.kind[i]);
        int64_t idx = w.id[i] - BASE;
        cr_assert(idx >= 0 && idx < N_REQ, "unknown id %" PRId64, w.id[i]);
        cr_expect(!gives_up((int)idx), "request %" PRId64 " was sent after its caller gave up", idx);
        cr_expect_gt(idx, prev, "FIFO order broken at frame %d", i);
        prev = idx;
        details++;
    }
    cr_expect_eq(cancels, N_CXL, "every cancel is sent, wanted or not");
    cr_expect_eq(details, wanted);
    cr_expect_eq(st.dropped_stale, (uint64_t)(N_REQ - wanted), "dropped_stale %" PRIu64, st.dropped_stale);
    cr_expect_eq(st.msgs_out, (uint64_t)(1 + wanted + N_CXL), "msgs_out %" PRIu64 " (startApi + sent)",
                 st.msgs_out);
    cr_expect_eq(ctx.asked, N_REQ, "asked once per reqContractDetails, never about a cancel");
    /* Tokens went only to what was sent: 5 + 45/s drains (wanted + cancels) in about 1.1 s; had
     * every dropped request spent one, it would take 4.4 s. A loose bound (a busy machine only
     * makes the loop late, and late wake-ups find more tokens, not fewer). */
    double span = w.t[w.n - 1] - w.t[0];
    cr_log_info("%d frames in %.2f s, %" PRIu64 " dropped", w.n, span, st.dropped_stale);
    cr_expect_lt(span, 3.0, "draining took %.2f s: dropped requests spent pacing tokens?", span);
}
