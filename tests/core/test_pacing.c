/* test_pacing.c — the token bucket (fake clock), the backoff curve, and 500 real requests through
 * a session measured by the peer: never more than rate + burst in any 1 s window, cancels first. */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core_backoff.h"
#include "core_pacer.h"
#include "core_session.h"
#include "ibb_log.h"
#include "peer.h"
#include "testutil.h"

/* ---- corePacer with a fake clock -------------------------------------------------------------- */

typedef struct emitLog {
    int n;
    int tags[1024];
} emitLog;

static void record(void *ud, int tag, const char *data, size_t len)
{
    emitLog *l = ud;
    cr_assert(len == 3 && data[0] == 'm', "bytes were not handed over intact");
    if (l->n < 1024)
        l->tags[l->n] = tag;
    l->n++;
}

Test(pacer, bucket_limits_rate_and_burst)
{
    corePacer *p;
    cr_assert_eq(corePacer_Create(&p, 45.0, 5, 0), IBB_OK);
    for (int i = 0; i < 500; i++)
        cr_assert_eq(corePacer_Push(p, CORE_PRIO_NORMAL, 1000 + i, "m1", 3), IBB_OK);
    emitLog l = {0};
    int64_t wait = corePacer_Run(p, 0.0, record, &l);
    cr_expect_eq(l.n, 5, "a full bucket releases its burst, got %d", l.n);
    cr_expect(wait >= 22 && wait <= 23, "next token in %" PRId64 " ms (1000/45)", wait);
    corePacer_Run(p, 10.0, record, &l);
    cr_expect_eq(l.n, 5, "no token yet after 10 ms");
    /* Drive it like the session's timer does: wake when it says, until 1 s has passed. */
    double t = 10.0;
    int wakeups = 0;
    while (t <= 1000.0) {
        int64_t w = corePacer_Run(p, t, record, &l);
        cr_assert(w > 0);
        t += (double)w;
        wakeups++;
    }
    cr_expect(l.n >= 49 && l.n <= 50, "first second: burst 5 + 45/s, got %d", l.n);
    cr_expect(wakeups >= 40 && wakeups <= 50, "one wake-up per token expected, got %d", wakeups);
    /* A single wake-up, even after a long pause, releases at most the bucket size. */
    int before = l.n;
    corePacer_Run(p, 60000.0, record, &l);
    cr_expect_eq(l.n - before, 5, "after a pause: burst only, got %d", l.n - before);
    for (int i = 0; i < l.n; i++)
        cr_assert_eq(l.tags[i], 1000 + i, "FIFO order broken at %d", i);
    size_t c, n;
    size_t left = 500 - (size_t)l.n;
    cr_expect_eq(corePacer_Depth(p, &c, &n), left);
    cr_expect_eq(c, 0);
    cr_expect_eq(n, left);
    cr_expect_eq(corePacer_Sent(p), (uint64_t)l.n);
    cr_expect_eq(corePacer_Clear(p), left);
    cr_expect_eq(corePacer_Run(p, 70000.0, record, &l), -1, "empty queue: no timer needed");
    corePacer_Destroy(p);
}

Test(pacer, cancels_jump_the_queue)
{
    corePacer *p;
    cr_assert_eq(corePacer_Create(&p, 10.0, 1, 0), IBB_OK);
    for (int i = 0; i < 5; i++)
        corePacer_Push(p, CORE_PRIO_AUTO, IB_REQ_MKT_DATA, "m1", 3);
    corePacer_Push(p, CORE_PRIO_AUTO, IB_REQ_CANCEL_MKT_DATA, "m2", 3);
    corePacer_Push(p, CORE_PRIO_AUTO, IB_REQ_CANCEL_ORDER, "m3", 3);
    corePacer_Push(p, CORE_PRIO_CANCEL, IB_REQ_CURRENT_TIME, "m4", 3);
    size_t c, n;
    corePacer_Depth(p, &c, &n);
    cr_expect_eq(c, 3);
    cr_expect_eq(n, 5);
    emitLog l = {0};
    for (int t = 0; t <= 800; t += 100)
        corePacer_Run(p, (double)t, record, &l);
    cr_assert_eq(l.n, 8);
    cr_expect_eq(l.tags[0], IB_REQ_CANCEL_MKT_DATA);
    cr_expect_eq(l.tags[1], IB_REQ_CANCEL_ORDER);
    cr_expect_eq(l.tags[2], IB_REQ_CURRENT_TIME);
    for (int i = 3; i < 8; i++)
        cr_expect_eq(l.tags[i], IB_REQ_MKT_DATA);
    corePacer_Destroy(p);
}

Test(pacer, limits_and_classification)
{
    corePacer *p = NULL;
    cr_expect_eq(corePacer_Create(&p, 51.0, 1, 0), IBB_ERR_INVALID_ARG, "above 50 msg/s must be refused");
    cr_expect_eq(corePacer_Create(&p, 0.0, 1, 0), IBB_ERR_INVALID_ARG);
    cr_expect_eq(corePacer_Create(&p, 45.0, 0, 0), IBB_ERR_INVALID_ARG);
    cr_assert_eq(corePacer_Create(&p, 45.0, 5, 3), IBB_OK);
    for (int i = 0; i < 3; i++)
        cr_expect_eq(corePacer_Push(p, CORE_PRIO_AUTO, 1, "m1", 3), IBB_OK);
    cr_expect_eq(corePacer_Push(p, CORE_PRIO_AUTO, 1, "m1", 3), IBB_ERR_LIMIT, "queue limit not enforced");
    corePacer_Destroy(p);
    corePacer_Destroy(NULL);
    int cancels[] = {IB_REQ_CANCEL_MKT_DATA,        IB_REQ_CANCEL_ORDER,     IB_REQ_CANCEL_HISTORICAL_DATA,
                     IB_REQ_CANCEL_ACCOUNT_SUMMARY, IB_REQ_CANCEL_POSITIONS, IB_REQ_GLOBAL_CANCEL};
    for (size_t i = 0; i < sizeof cancels / sizeof cancels[0]; i++)
        cr_expect(corePacer_IsCancel(cancels[i]), "%d is a cancel", cancels[i]);
    int others[] = {IB_REQ_MKT_DATA, IB_REQ_PLACE_ORDER, IB_REQ_HISTORICAL_DATA, IB_REQ_START_API};
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
        cr_expect(!corePacer_IsCancel(others[i]), "%d is not a cancel", others[i]);
}

Test(backoff, grows_with_jitter_within_bounds)
{
    uint64_t rng = 12345;
    for (int trial = 0; trial < 200; trial++) {
        int64_t prev = 0;
        for (int a = 0; a < 12; a++) {
            int64_t d = coreBackoff_Delay(a, 1000, 60000, coreBackoff_Random(&rng));
            cr_assert(d >= 1000 && d <= 60000, "attempt %d: %" PRId64 " outside [min, max]", a, d);
            if (d < 48000) /* below the cap every attempt waits longer than the one before */
                cr_assert(d > prev, "attempt %d: %" PRId64 " <= %" PRId64, a, d, prev);
            prev = d;
        }
    }
    int64_t lo = INT64_MAX, hi = 0;
    for (int i = 0; i < 1000; i++) {
        int64_t d = coreBackoff_Delay(3, 1000, 60000, coreBackoff_Random(&rng));
        lo = d < lo ? d : lo;
        hi = d > hi ? d : hi;
    }
    cr_expect(hi - lo > 1000, "no jitter: %" PRId64 "..%" PRId64, lo, hi);
}

/* ---- 500 requests through a real session, measured by the peer ------------------------------- */

#define N_NORMAL 500
#define N_CANCEL 5
#define N_TOTAL (N_NORMAL + N_CANCEL)

typedef struct paceScript {
    int n;
    double t[N_TOTAL + 8];
    int kind[N_TOTAL + 8]; /* request id */
    int64_t arg[N_TOTAL + 8];
    bool ok;
} paceScript;

static void script_pacing(testPeer *p, void *arg)
{
    paceScript *s = arg;
    int fd = peer_Accept(p, 5000);
    if (fd < 0 || !peer_OpenReady(p, fd, NULL))
        return;
    s->ok = true;
    char buf[512];
    const char *f[16];
    while (s->n < N_TOTAL && !peer_Stopping(p)) {
        double t;
        int k = peer_ReadFrame(p, fd, buf, sizeof buf, f, 16, 20000, &t);
        if (k <= 0)
            break;
        s->t[s->n] = t;
        s->kind[s->n] = atoi(f[0]);
        s->arg[s->n] = k >= 3 ? strtoll(f[2], NULL, 10) : -1;
        s->n++;
    }
    peer_WaitEof(p, fd, 30000);
}

typedef struct paceCtx {
    coreSession *s;
    bool queued;
    ibbStatus first_err;
} paceCtx;

/* Queues everything at once, from inside the loop, the moment the session is ready. */
static void on_ready(void *ud, coreState from, coreState to, ibbStatus reason)
{
    (void)from;
    (void)reason;
    paceCtx *c = ud;
    if (to != CORE_STATE_READY || c->queued)
        return;
    c->queued = true;
    ibRequest req;
    for (int i = 0; i < N_NORMAL; i++) {
        ibRequest_Init(&req, IB_REQ_IDS);
        req.u.req_ids.num_ids = i; /* a sequence number the peer can check */
        ibbStatus st = coreSession_Send(c->s, &req, CORE_PRIO_AUTO);
        if (st != IBB_OK && c->first_err == IBB_OK)
            c->first_err = st;
    }
    for (int i = 0; i < N_CANCEL; i++) {
        ibRequest_Init(&req, IB_REQ_CANCEL_MKT_DATA);
        req.u.cancel.req_id = 9000 + i;
        ibbStatus st = coreSession_Send(c->s, &req, CORE_PRIO_AUTO);
        if (st != IBB_OK && c->first_err == IBB_OK)
            c->first_err = st;
    }
}

static bool all_received(void *arg) { return ((paceScript *)arg)->n >= N_TOTAL; }

Test(pacing, rate_window_and_cancels_first, .timeout = 60)
{
    signal(SIGPIPE, SIG_IGN);
    test_LogCapture();
    ibbLog_SetLevel(IBB_LOG_INFO);
    static paceScript ps;
    memset(&ps, 0, sizeof ps);
    uv_loop_t loop;
    cr_assert_eq(uv_loop_init(&loop), 0);
    testPeer *peer = peer_Start(script_pacing, &ps);
    cr_assert_not_null(peer);
    coreSessionConfig cfg;
    coreSessionConfig_Init(&cfg);
    cfg.port = peer_Port(peer);
    cfg.keepalive_idle_ms = 30000;
    cfg.stall_timeout_ms = 60000;
    cfg.pacing_rate = 45.0;
    cfg.pacing_burst = 5;
    coreSession *s;
    cr_assert_eq(coreSession_Create(&s, &loop, &cfg), IBB_OK);
    paceCtx ctx = {s, false, IBB_OK};
    coreSession_OnState(s, on_ready, &ctx);
    coreSession_Start(s);

    /* Watch the queue while it drains: depth must be visible. */
    bool ok = test_RunUntil(&loop, NULL, NULL, 1500), saw_depth = false;
    (void)ok;
    coreSessionStats st;
    coreSession_GetStats(s, &st);
    saw_depth = st.queue_normal > 300;
    ok = test_RunUntil(&loop, all_received, &ps, 40000);
    if (!ok)
        test_LogDump();
    cr_assert(ok, "peer received %d of %d messages", ps.n, N_TOTAL);
    cr_expect_eq(ctx.first_err, IBB_OK, "send failed: %s", ibbStatus_Name(ctx.first_err));
    cr_expect(saw_depth, "queue depth not visible: %zu", st.queue_normal);

    /* Sliding 1 s windows over kernel receive times. */
    int worst = 0;
    for (int i = 0; i < ps.n; i++) {
        int k = 0;
        for (int j = i; j < ps.n && ps.t[j] - ps.t[i] < 1.0; j++)
            k++;
        worst = k > worst ? k : worst;
    }
    double span = ps.t[ps.n - 1] - ps.t[0];
    cr_log_info("worst 1 s window: %d messages; %d messages in %.2f s", worst, ps.n, span);
    cr_expect_leq(worst, 45 + 5, "%d messages in one second (rate 45 + burst 5 allowed)", worst);
    cr_expect(span >= (N_TOTAL - 10) / 45.0 * 0.97, "drained too fast: %.2f s", span);

    /* Cancels jumped the queue: they left right after the first burst, not after 500 requests. */
    int last_cancel = -1, cancels = 0;
    int64_t expect_seq = 0;
    bool fifo = true;
    for (int i = 0; i < ps.n; i++) {
        if (ps.kind[i] == IB_REQ_CANCEL_MKT_DATA) {
            cancels++;
            last_cancel = i;
        } else if (ps.kind[i] == IB_REQ_IDS) {
            fifo = fifo && ps.arg[i] == expect_seq;
            expect_seq++;
        }
    }
    cr_expect_eq(cancels, N_CANCEL);
    cr_expect(last_cancel >= 0 && last_cancel < 15, "last cancel left at position %d of %d", last_cancel,
              ps.n);
    cr_expect(fifo, "normal requests left out of order");
    coreSession_GetStats(s, &st);
    cr_expect_eq(st.msgs_out, N_TOTAL + 1, "msgs_out %" PRIu64 " (startApi + all)", st.msgs_out);
    cr_expect_eq(st.queue_normal + st.queue_cancel, 0);

    coreSession_Destroy(s);
    peer_Stop(peer);
    cr_expect_eq(uv_loop_close(&loop), 0);
}
