/* test_session.c — coreSession against a scripted IB server over real TCP: handshake to ready,
 * reconnect with growing backoff, refusal of an old server, garbage, stalls, error 326. */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core_session.h"
#include "peer.h"
#include "testutil.h"

/* ---- fixture --------------------------------------------------------------------------------- */

typedef struct fixture {
    uv_loop_t loop;
    coreSession *s;
    testPeer *peer;
    int ready_count;
    int nstates;
    coreState to[256];
    ibbStatus reason[256];
    int replies;
    int next_valid_id_seen, accounts_seen, notices_seen;
} fixture;

static fixture F;

static void on_state(void *ud, coreState from, coreState to, ibbStatus reason)
{
    (void)from;
    fixture *f = ud;
    if (f->nstates < 256) {
        f->to[f->nstates] = to;
        f->reason[f->nstates] = reason;
        f->nstates++;
    }
    if (to == CORE_STATE_READY)
        f->ready_count++;
}

static void on_reply(void *ud, const ibReply *r)
{
    fixture *f = ud;
    f->replies++;
    if (r->id == IB_MSG_NEXT_VALID_ID)
        f->next_valid_id_seen++;
    if (r->id == IB_MSG_MANAGED_ACCOUNTS)
        f->accounts_seen++;
    if (r->id == IB_MSG_ERROR && r->u.error.id == -1)
        f->notices_seen++;
}

static void base_config(coreSessionConfig *c)
{
    coreSessionConfig_Init(c);
    c->host = "127.0.0.1";
    c->client_id = 77;
    c->handshake_timeout_ms = 5000;
    c->keepalive_idle_ms = 20000;
    c->stall_timeout_ms = 60000;
    c->backoff_min_ms = 50;
    c->backoff_max_ms = 400;
}

static void fx_start(testPeerScript script, void *arg, coreSessionConfig *cfg)
{
    signal(SIGPIPE, SIG_IGN);
    memset(&F, 0, sizeof F);
    test_LogCapture();
    cr_assert_eq(uv_loop_init(&F.loop), 0);
    F.peer = peer_Start(script, arg);
    cr_assert_not_null(F.peer, "peer did not start");
    cfg->port = peer_Port(F.peer);
    cr_assert_eq(coreSession_Create(&F.s, &F.loop, cfg), IBB_OK);
    coreSession_OnState(F.s, on_state, &F);
    coreSession_OnReply(F.s, on_reply, &F);
    cr_assert_eq(coreSession_Start(F.s), IBB_OK);
}

static void fx_stop(void)
{
    coreSession_Destroy(F.s);
    F.s = NULL;
    peer_Stop(F.peer);
    F.peer = NULL;
    uv_run(&F.loop, UV_RUN_NOWAIT);
    cr_expect_eq(uv_loop_close(&F.loop), 0, "a handle was left open");
}

static bool is_ready(void *arg) { return coreSession_State(arg) == CORE_STATE_READY; }
static bool ready_twice(void *arg) { return ((fixture *)arg)->ready_count >= 2; }

/* ---- 1. handshake to ready -------------------------------------------------------------------- */

typedef struct readyScript {
    int64_t client_id;
    bool open_ok;
    int fields_after; /* frames received after ready (keep-alives) */
} readyScript;

static void script_ready(testPeer *p, void *arg)
{
    readyScript *r = arg;
    int fd = peer_Accept(p, 5000);
    if (fd < 0)
        return;
    r->open_ok = peer_Open(p, fd, "176", &r->client_id);
    if (!r->open_ok)
        return;
    /* Anything may come before nextValidId/managedAccounts, in any order (PROTOCOL.md §2.4). */
    peer_Send(fd, "999", "1", "something new", (const char *)NULL); /* unknown id */
    peer_Send(fd, "4", "2", "-1", "2104", "Market data farm connection is OK:usfarm", "", (const char *)NULL);
    peer_Send(fd, "9", "1", "42", (const char *)NULL); /* nextValidId first */
    peer_Send(fd, "4", "2", "-1", "2158", "Sec-def data farm connection is OK:secdefnj", "",
              (const char *)NULL);
    peer_Send(fd, "15", "1", "DU111,DU222,", (const char *)NULL);
    char buf[256];
    const char *f[8];
    while (!peer_Stopping(p))
        if (peer_ReadFrame(p, fd, buf, sizeof buf, f, 8, 100, NULL) < 0)
            break;
}

Test(session, handshake_reaches_ready)
{
    readyScript r = {0};
    coreSessionConfig cfg;
    base_config(&cfg);
    fx_start(script_ready, &r, &cfg);

    ibRequest req;
    ibRequest_Init(&req, IB_REQ_CURRENT_TIME);
    cr_expect_eq(coreSession_Send(F.s, &req, CORE_PRIO_AUTO), IBB_ERR_STATE, "send before ready must fail");

    bool ok = test_RunUntil(&F.loop, is_ready, F.s, 8000);
    if (!ok)
        test_LogDump();
    cr_assert(ok, "never ready (state %s)", coreState_Name(coreSession_State(F.s)));
    cr_expect(r.open_ok, "handshake bytes or startApi differ from PROTOCOL.md 2.1");
    cr_expect_eq(r.client_id, 77, "startApi carried client id %" PRId64, r.client_id);
    cr_expect_eq(coreSession_ServerVersion(F.s), 176);
    cr_expect_str_eq(coreSession_ConnectionTime(F.s), "20250415 19:38:30 British Summer Time");
    cr_expect_str_eq(coreSession_Accounts(F.s), "DU111,DU222");
    cr_expect_eq(coreSession_NextOrderId(F.s), 42);
    cr_expect_eq(coreSession_TakeOrderId(F.s), 42);
    cr_expect_eq(coreSession_TakeOrderId(F.s), 43);

    coreSessionStats st;
    coreSession_GetStats(F.s, &st);
    cr_expect_eq(st.unknown_skipped, 1, "unknown skipped %" PRIu64, st.unknown_skipped);
    cr_expect_eq(st.msgs_in, 5, "msgs_in %" PRIu64, st.msgs_in); /* server version + 4 decoded */
    cr_expect_eq(st.msgs_out, 1, "only startApi went out, got %" PRIu64, st.msgs_out);
    cr_expect_eq(st.decode_errors, 0);
    cr_expect_eq(st.reconnects, 0);
    cr_expect_eq(F.next_valid_id_seen, 1);
    cr_expect_eq(F.accounts_seen, 1);
    cr_expect_eq(F.notices_seen, 2);
    /* connecting -> handshaking -> ready */
    cr_expect_eq(F.nstates, 3);
    cr_expect_eq(F.to[0], CORE_STATE_CONNECTING);
    cr_expect_eq(F.to[1], CORE_STATE_HANDSHAKING);
    cr_expect_eq(F.to[2], CORE_STATE_READY);
    cr_expect(test_LogContains("ib.ready"), "no ib.ready log line");
    cr_expect(test_LogContains("ib.state from=handshaking to=ready"), "state change not logged");

    ibRequest_Init(&req, IB_REQ_IDS);
    req.u.req_ids.num_ids = 1;
    cr_expect_eq(coreSession_Send(F.s, &req, CORE_PRIO_AUTO), IBB_OK);
    coreSession_Disconnect(F.s);
    cr_expect_eq(coreSession_State(F.s), CORE_STATE_DISCONNECTED);
    cr_expect_eq(coreSession_Send(F.s, &req, CORE_PRIO_AUTO), IBB_ERR_STATE);
    fx_stop();
}

/* ---- 2. the peer closes: reconnect with growing backoff --------------------------------------- */

static void script_close_at_once(testPeer *p, void *arg)
{
    (void)arg;
    while (!peer_Stopping(p) && peer_Accepts(p) < 6) {
        int fd = peer_Accept(p, 10000);
        if (fd < 0)
            return;
        shutdown(fd, SHUT_RDWR);
    }
}

static bool five_accepts(void *arg) { return peer_Accepts(arg) >= 5; }

Test(session, reconnect_backoff_grows)
{
    coreSessionConfig cfg;
    base_config(&cfg);
    cfg.backoff_min_ms = 200;
    cfg.backoff_max_ms = 10000;
    fx_start(script_close_at_once, NULL, &cfg);
    bool ok = test_RunUntil(&F.loop, five_accepts, F.peer, 15000);
    if (!ok)
        test_LogDump();
    cr_assert(ok, "only %d connection attempts", peer_Accepts(F.peer));
    double g[4];
    for (int i = 0; i < 4; i++)
        g[i] = peer_AcceptTime(F.peer, i + 1) - peer_AcceptTime(F.peer, i);
    cr_log_info("gaps: %.3f %.3f %.3f %.3f s", g[0], g[1], g[2], g[3]);
    cr_expect(g[0] >= 0.18, "first gap %.3f s is below backoff_min_ms", g[0]);
    for (int i = 0; i < 3; i++)
        cr_expect(g[i + 1] > g[i], "gap %d (%.3f s) not longer than gap %d (%.3f s)", i + 1, g[i + 1], i,
                  g[i]);
    cr_expect(g[3] > 3.0 * g[0], "backoff did not grow exponentially: %.3f vs %.3f", g[3], g[0]);
    coreSessionStats st;
    coreSession_GetStats(F.s, &st);
    cr_expect_geq(st.reconnects, 4);
    cr_expect_eq(F.ready_count, 0);
    int64_t code;
    const char *text;
    cr_expect_eq(coreSession_LastError(F.s, &code, &text), IBB_ERR_CLOSED);
    cr_expect(test_LogContains("ib.backoff delay_ms="), "backoff not logged");
    fx_stop();
}

/* ---- 3. a ready session whose peer closes comes back ------------------------------------------ */

static void script_ready_close_ready(testPeer *p, void *arg)
{
    (void)arg;
    int fd = peer_Accept(p, 5000);
    if (fd < 0 || !peer_OpenReady(p, fd, NULL))
        return;
    usleep(200 * 1000);
    shutdown(fd, SHUT_RDWR);
    fd = peer_Accept(p, 5000);
    if (fd < 0 || !peer_OpenReady(p, fd, NULL))
        return;
    peer_WaitEof(p, fd, 20000);
}

Test(session, reconnects_after_ready)
{
    coreSessionConfig cfg;
    base_config(&cfg);
    fx_start(script_ready_close_ready, NULL, &cfg);
    bool ok = test_RunUntil(&F.loop, ready_twice, &F, 10000);
    if (!ok)
        test_LogDump();
    cr_assert(ok, "ready %d times", F.ready_count);
    bool saw_closed_backoff = false;
    for (int i = 0; i < F.nstates; i++)
        if (F.to[i] == CORE_STATE_BACKOFF && F.reason[i] == IBB_ERR_CLOSED)
            saw_closed_backoff = true;
    cr_expect(saw_closed_backoff, "no ready -> backoff(closed) transition");
    coreSessionStats st;
    coreSession_GetStats(F.s, &st);
    cr_expect_eq(st.reconnects, 1);
    fx_stop();
}

/* ---- 4. server version 150 is refused --------------------------------------------------------- */

typedef struct oldScript {
    bool hs_ok;
    int frames_after;
    bool eof;
} oldScript;

static void script_old_server(testPeer *p, void *arg)
{
    oldScript *o = arg;
    int fd = peer_Accept(p, 5000);
    if (fd < 0)
        return;
    char ver[64];
    o->hs_ok = peer_ReadHandshake(p, fd, ver, sizeof ver, 5000);
    peer_Send(fd, "150", "20250415 19:38:30 EST", (const char *)NULL);
    char buf[256];
    const char *f[8];
    for (;;) {
        int n = peer_ReadFrame(p, fd, buf, sizeof buf, f, 8, 3000, NULL);
        if (n < 0) {
            o->eof = true;
            break;
        }
        if (n == 0)
            break;
        o->frames_after++;
    }
    while (!peer_Stopping(p)) { /* later attempts: keep refusing */
        int fd2 = peer_Accept(p, 200);
        if (fd2 >= 0 && peer_ReadHandshake(p, fd2, ver, sizeof ver, 2000))
            peer_Send(fd2, "150", "20250415 19:38:30 EST", (const char *)NULL);
    }
}

static bool refused(void *arg)
{
    return coreSession_LastError(arg, NULL, NULL) == IBB_ERR_UNSUPPORTED_VERSION;
}

Test(session, old_server_version_refused)
{
    oldScript o = {0};
    coreSessionConfig cfg;
    base_config(&cfg);
    cfg.backoff_min_ms = 1000;
    cfg.backoff_max_ms = 4000;
    fx_start(script_old_server, &o, &cfg);
    bool ok = test_RunUntil(&F.loop, refused, F.s, 5000);
    if (!ok)
        test_LogDump();
    cr_assert(ok, "no unsupported-version refusal");
    const char *text;
    coreSession_LastError(F.s, NULL, &text);
    cr_expect(strstr(text, "150") && strstr(text, "176"), "refusal text not clear: %s", text);
    cr_expect_eq(coreSession_State(F.s), CORE_STATE_BACKOFF);
    cr_expect_eq(F.reason[F.nstates - 1], IBB_ERR_UNSUPPORTED_VERSION, "state change reason");
    test_RunFor(&F.loop, 300);
    cr_expect_eq(F.ready_count, 0);
    cr_expect(test_LogContains("ib.version_unsupported server_version=150 required=176"),
              "no clear log line");
    fx_stop();
    cr_expect(o.hs_ok);
    cr_expect_eq(o.frames_after, 0, "startApi sent to a server that was refused");
    cr_expect(o.eof, "the client did not hang up");
}

/* ---- 5. garbage: reset, reconnect, never crash ------------------------------------------------ */

typedef struct garbageScript {
    int stage_ok[4];
} garbageScript;

static void script_garbage(testPeer *p, void *arg)
{
    garbageScript *g = arg;
    /* 1: ready, then a frame longer than IB_MAX_FRAME. */
    int fd = peer_Accept(p, 5000);
    if (fd < 0 || !peer_OpenReady(p, fd, NULL))
        return;
    usleep(100 * 1000);
    peer_SendRaw(fd,
                 "\xff\xff\xff\xff"
                 "xxxx",
                 8);
    g->stage_ok[0] = peer_WaitEof(p, fd, 5000);
    /* 2: a known message with a malformed number (nextValidId "abc"). */
    fd = peer_Accept(p, 5000);
    if (fd < 0 || !peer_Open(p, fd, "176", NULL))
        return;
    peer_Send(fd, "9", "1", "abc", (const char *)NULL);
    g->stage_ok[1] = peer_WaitEof(p, fd, 5000);
    /* 3: noise instead of the server version. */
    fd = peer_Accept(p, 5000);
    char ver[64];
    if (fd < 0 || !peer_ReadHandshake(p, fd, ver, sizeof ver, 5000))
        return;
    peer_SendRaw(fd, "\0\0\0\x05hello\0\0\0\x02zz", 15);
    g->stage_ok[2] = peer_WaitEof(p, fd, 5000);
    /* 4: a good session again. */
    fd = peer_Accept(p, 5000);
    if (fd < 0 || !peer_OpenReady(p, fd, NULL))
        return;
    g->stage_ok[3] = 1;
    peer_WaitEof(p, fd, 20000);
}

Test(session, garbage_resets_connection)
{
    garbageScript g = {{0}};
    coreSessionConfig cfg;
    base_config(&cfg);
    fx_start(script_garbage, &g, &cfg);
    bool ok = test_RunUntil(&F.loop, ready_twice, &F, 12000);
    if (!ok)
        test_LogDump();
    cr_assert(ok, "ready %d times (stages %d %d %d %d)", F.ready_count, g.stage_ok[0], g.stage_ok[1],
              g.stage_ok[2], g.stage_ok[3]);
    cr_expect(g.stage_ok[0] && g.stage_ok[1] && g.stage_ok[2], "a garbage connection was not closed");
    coreSessionStats st;
    coreSession_GetStats(F.s, &st);
    cr_expect_eq(st.decode_errors, 3, "decode errors %" PRIu64, st.decode_errors);
    cr_expect_eq(st.reconnects, 3);
    cr_expect(test_LogContains("ib.decode_error"), "decode error not logged");
    fx_stop();
}

/* ---- 6. keep-alive, then a silent peer: stall -> reconnect ------------------------------------ */

typedef struct stallScript {
    int pings_answered;
    double ready_at, eof_at;
} stallScript;

static void script_stall(testPeer *p, void *arg)
{
    stallScript *s = arg;
    int fd = peer_Accept(p, 5000);
    if (fd < 0 || !peer_OpenReady(p, fd, NULL))
        return;
    s->ready_at = peer_Now();
    char buf[256];
    const char *f[8];
    while (!peer_Stopping(p)) {
        int n = peer_ReadFrame(p, fd, buf, sizeof buf, f, 8, 100, NULL);
        if (n < 0) {
            s->eof_at = peer_Now();
            break;
        }
        bool answering = peer_Now() - s->ready_at < 1.5;
        if (n >= 2 && strcmp(f[0], "49") == 0 && answering) {
            peer_Send(fd, "49", "1", "1752606307", (const char *)NULL);
            s->pings_answered++;
        }
    }
    int fd2 = peer_Accept(p, 5000); /* the reconnect */
    if (fd2 >= 0)
        peer_WaitEof(p, fd2, 20000);
}

static bool second_accept(void *arg) { return peer_Accepts(arg) >= 2; }

Test(session, stall_detected_and_reconnects)
{
    stallScript s = {0};
    coreSessionConfig cfg;
    base_config(&cfg);
    cfg.keepalive_idle_ms = 200;
    cfg.stall_timeout_ms = 700;
    fx_start(script_stall, &s, &cfg);
    bool ok = test_RunUntil(&F.loop, second_accept, F.peer, 10000);
    if (!ok)
        test_LogDump();
    cr_assert(ok, "no reconnect after the peer went silent");
    coreSessionStats st;
    coreSession_GetStats(F.s, &st);
    cr_expect_geq(s.pings_answered, 4, "keep-alives answered: %d (one per idle period)", s.pings_answered);
    cr_expect_geq(st.keepalives, 3, "keep-alives sent %" PRIu64, st.keepalives);
    cr_expect_eq(st.stalls, 1, "stalls %" PRIu64, st.stalls);
    /* Answered keep-alives held the link for 1.5 s although the stall window is 0.7 s. */
    cr_expect(s.eof_at - s.ready_at >= 1.5, "closed after %.2f s", s.eof_at - s.ready_at);
    cr_expect(test_LogContains("ib.stall"), "stall not logged");
    int64_t code;
    cr_expect_eq(coreSession_LastError(F.s, &code, NULL), IBB_ERR_TIMEOUT);
    fx_stop();
}

/* ---- 7. error 326: client id in use ----------------------------------------------------------- */

static void script_326(testPeer *p, void *arg)
{
    (void)arg;
    int fd = peer_Accept(p, 5000);
    if (fd < 0 || !peer_Open(p, fd, "176", NULL))
        return;
    peer_Send(fd, "4", "2", "-1", "326",
              "Unable to connect as the client id is already in use. Retry with a unique client id.", "",
              (const char *)NULL);
    shutdown(fd, SHUT_RDWR);
    while (!peer_Stopping(p)) { /* later attempts: accept and hold */
        int fd2 = peer_Accept(p, 200);
        (void)fd2;
    }
}

static bool got_326(void *arg)
{
    int64_t code = 0;
    coreSession_LastError(arg, &code, NULL);
    return code == 326;
}

Test(session, client_id_in_use_reported)
{
    coreSessionConfig cfg;
    base_config(&cfg);
    cfg.client_id = 5;
    cfg.backoff_min_ms = 2000;
    cfg.backoff_max_ms = 4000;
    fx_start(script_326, NULL, &cfg);
    bool ok = test_RunUntil(&F.loop, got_326, F.s, 5000);
    if (!ok)
        test_LogDump();
    cr_assert(ok, "326 not reported");
    const char *text;
    coreSession_LastError(F.s, NULL, &text);
    cr_expect(strstr(text, "client id 5") != NULL, "text does not name the client id: %s", text);
    cr_expect(strstr(text, "IB_CLIENT_ID") != NULL, "text does not say what to do: %s", text);
    cr_expect(test_LogContains("ib.client_id_in_use client_id=5"), "no clear log line");
    test_RunFor(&F.loop, 100);
    cr_expect_eq(coreSession_State(F.s), CORE_STATE_BACKOFF);
    cr_expect_eq(F.ready_count, 0);
    fx_stop();
}

/* ---- 8. handshake timeout: a peer that accepts and never answers ------------------------------ */

static void script_mute(testPeer *p, void *arg)
{
    (void)arg;
    while (!peer_Stopping(p))
        peer_Accept(p, 200);
}

Test(session, handshake_timeout_reconnects)
{
    coreSessionConfig cfg;
    base_config(&cfg);
    cfg.handshake_timeout_ms = 300;
    fx_start(script_mute, NULL, &cfg);
    bool ok = test_RunUntil(&F.loop, second_accept, F.peer, 5000);
    cr_assert(ok, "no reconnect after a handshake timeout");
    cr_expect_eq(coreSession_LastError(F.s, NULL, NULL), IBB_ERR_TIMEOUT);
    fx_stop();
}

/* ---- 9. random noise after the handshake: never a crash --------------------------------------- */

#define NOISE_ROUNDS 12

static void script_noise(testPeer *p, void *arg)
{
    int *rounds = arg;
    unsigned seed = 4242;
    for (int r = 0; r < NOISE_ROUNDS && !peer_Stopping(p); r++) {
        int fd = peer_Accept(p, 5000);
        if (fd < 0 || !peer_OpenReady(p, fd, NULL))
            return;
        char noise[600];
        size_t n = 1 + (size_t)(rand_r(&seed) % sizeof noise);
        for (size_t i = 0; i < n; i++)
            noise[i] = (char)(rand_r(&seed) & 0xff);
        if (r % 3 == 0) { /* a plausible small frame holding random fields */
            noise[0] = noise[1] = 0;
            noise[2] = (char)((n - 4) >> 8);
            noise[3] = (char)(n - 4);
            noise[4] = (char)('1' + r % 9);
            noise[5] = '\0';
            noise[n - 1] = '\0';
        }
        peer_SendRaw(fd, noise, n);
        shutdown(fd, SHUT_WR); /* whatever the client made of it, the connection ends */
        peer_WaitEof(p, fd, 5000);
        (*rounds)++;
    }
}

static bool noise_done(void *arg) { return *(int *)arg >= NOISE_ROUNDS; }

Test(session, random_noise_never_crashes)
{
    static int rounds;
    rounds = 0;
    coreSessionConfig cfg;
    base_config(&cfg);
    cfg.backoff_min_ms = 10;
    cfg.backoff_max_ms = 40;
    fx_start(script_noise, &rounds, &cfg);
    bool ok = test_RunUntil(&F.loop, noise_done, &rounds, 20000);
    cr_assert(ok, "only %d noise rounds completed", rounds);
    coreSessionStats st;
    coreSession_GetStats(F.s, &st);
    cr_expect_geq(st.reconnects, NOISE_ROUNDS - 1);
    cr_expect_geq(F.ready_count, NOISE_ROUNDS);
    fx_stop();
}
