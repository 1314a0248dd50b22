/* test_conn.c — busConn options against a real nats-server: option conflicts are refused with
 * IBB_ERR_CONFIG, user/password and token auth connect (and the wrong secret does not), events fire;
 * a loop-driven connection (busConnOptions.loop) writes without any flush call, connects in the
 * background when the server comes up late, survives a server restart and closes all its handles. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <uv.h>

#include "bus_conn.h"
#include "ibb_log.h"

#include "nats_proc.h"

static void quiet(void)
{
    ibbLog_SetLevel(getenv("BUS_TEST_LOG") ? IBB_LOG_DEBUG : IBB_LOG_OFF);
}

TestSuite(conn, .init = quiet, .fini = natsProc_Reap);

Test(conn, conflicting_options_refused)
{
    busConnOptions o;
    busConn *c = NULL;
    busConnOptions_Init(&o);
    o.token = "t";
    o.user = "u";
    cr_assert_eq(busConn_Create(&c, &o), IBB_ERR_CONFIG);
    busConnOptions_Init(&o);
    o.nkey = "UABC";
    cr_assert_eq(busConn_Create(&c, &o), IBB_ERR_CONFIG, "nkey without seed file");
    busConnOptions_Init(&o);
    o.creds_file = "/nonexistent/x.creds";
    o.nkey = "UABC";
    o.nkey_seed_file = "/nonexistent/seed";
    cr_assert_eq(busConn_Create(&c, &o), IBB_ERR_CONFIG, "creds and nkey together");
    busConnOptions_Init(&o);
    o.tls_ca_file = "/nonexistent/ca.pem";
    cr_assert_eq(busConn_Create(&c, &o), IBB_ERR_CONFIG, "missing CA file");
    busConnOptions_Init(&o);
    o.tls_cert_file = "/nonexistent/cert.pem";
    cr_assert_eq(busConn_Create(&c, &o), IBB_ERR_CONFIG, "cert without key");
    cr_assert_null(c);
}

typedef struct evLog {
    int connected, disconnected, closed;
} evLog;

static void on_ev(busConn *c, busConnEvent ev, const char *detail, void *arg)
{
    (void)c;
    (void)detail;
    evLog *l = arg;
    if (ev == BUS_CONN_CONNECTED)
        __atomic_add_fetch(&l->connected, 1, __ATOMIC_SEQ_CST);
    if (ev == BUS_CONN_DISCONNECTED)
        __atomic_add_fetch(&l->disconnected, 1, __ATOMIC_SEQ_CST);
    if (ev == BUS_CONN_CLOSED)
        __atomic_add_fetch(&l->closed, 1, __ATOMIC_SEQ_CST);
}

static ibbStatus try_connect(int port, const char *user, const char *pass, const char *token, evLog *l)
{
    char url[64];
    snprintf(url, sizeof url, "nats://127.0.0.1:%d", port);
    busConnOptions o;
    busConnOptions_Init(&o);
    o.urls = url;
    o.user = user;
    o.password = pass;
    o.token = token;
    o.retry_on_failed_connect = false;
    o.max_reconnect = 0;
    o.on_event = on_ev;
    o.event_arg = l;
    busConn *c = NULL;
    ibbStatus st = busConn_Create(&c, &o);
    if (st == IBB_OK) {
        cr_assert(busConn_IsConnected(c));
        cr_assert_eq(natsConnection_Publish(busConn_Nats(c), "x.y", "hi", 2), NATS_OK);
        cr_assert_eq(natsConnection_FlushTimeout(busConn_Nats(c), 2000), NATS_OK);
        busConn_Destroy(c);
    }
    return st;
}

Test(conn, user_password_auth)
{
    int port = 0;
    pid_t pid = natsProc_Start(&port, "--user", "alice", "--pass", "s3cret");
    evLog l = {0};
    cr_assert_eq(try_connect(port, "alice", "s3cret", NULL, &l), IBB_OK);
    cr_assert_eq(l.connected, 1, "one connected event");
    cr_assert_eq(l.closed, 1, "Destroy waits for the closed event");
    cr_assert_neq(try_connect(port, "alice", "wrong", NULL, &l), IBB_OK, "wrong password must not connect");
    natsProc_Stop(pid);
    bus_Shutdown(2000);
}

Test(conn, token_auth)
{
    int port = 0;
    pid_t pid = natsProc_Start(&port, "--auth", "tok-123", NULL, NULL);
    evLog l = {0};
    cr_assert_eq(try_connect(port, NULL, NULL, "tok-123", &l), IBB_OK);
    cr_assert_neq(try_connect(port, NULL, NULL, "nope", &l), IBB_OK);
    natsProc_Stop(pid);
    bus_Shutdown(2000);
}

Test(conn, several_urls_first_dead)
{
    int port = 0;
    pid_t pid = natsProc_Start(&port, NULL, NULL, NULL, NULL);
    char urls[128];
    snprintf(urls, sizeof urls, "nats://127.0.0.1:%d,nats://127.0.0.1:%d", natsProc_FreePort(), port);
    busConnOptions o;
    busConnOptions_Init(&o);
    o.urls = urls;
    o.retry_on_failed_connect = false;
    busConn *c = NULL;
    cr_assert_eq(busConn_Create(&c, &o), IBB_OK, "second URL must be tried");
    cr_assert(busConn_IsConnected(c));
    busConn_Destroy(c);
    natsProc_Stop(pid);
    bus_Shutdown(2000);
}

Test(conn, no_server_without_retry_is_io_error_with_retry_is_ok)
{
    char url[64];
    snprintf(url, sizeof url, "nats://127.0.0.1:%d", natsProc_FreePort());
    busConnOptions o;
    busConnOptions_Init(&o);
    o.urls = url;
    o.retry_on_failed_connect = false;
    o.connect_timeout_ms = 500;
    busConn *c = NULL;
    cr_assert_eq(busConn_Create(&c, &o), IBB_ERR_IO);
    o.retry_on_failed_connect = true;
    cr_assert_eq(busConn_Create(&c, &o), IBB_OK, "retry mode starts without a server");
    cr_assert_not(busConn_IsConnected(c));
    busConn_Destroy(c);
    bus_Shutdown(2000);
}

/* ------------------------------------------------------------------------------------------------
 * Loop-driven connections (bus_evloop.h). A uv timer publishes numbered batches on the loop thread and
 * never flushes; a thread-driven subscriber counts what arrives. */

typedef struct loopRun {
    busConn *pub;
    natsConnection *sub_nc;
    natsSubscription *sub;
    uv_timer_t timer;
    int next;          /* next sequence number to publish */
    int batch;         /* messages per timer tick */
    int got;           /* received (atomic) */
    int last;          /* highest sequence received (atomic) */
    int in_order;      /* 0 once a sequence arrived below the previous one (atomic) */
    int want_after;    /* stop once a message with a sequence > want_after ... */
    int ticks;         /* ... or after this many ticks */
    void (*on_tick)(struct loopRun *r);
} loopRun;

static void on_sub_msg(natsConnection *nc, natsSubscription *sub, natsMsg *m, void *arg)
{
    (void)nc;
    (void)sub;
    loopRun *r = arg;
    int seq = atoi(natsMsg_GetData(m));
    int prev = __atomic_exchange_n(&r->last, seq, __ATOMIC_SEQ_CST);
    if (seq < prev)
        __atomic_store_n(&r->in_order, 0, __ATOMIC_SEQ_CST);
    __atomic_add_fetch(&r->got, 1, __ATOMIC_SEQ_CST);
    natsMsg_Destroy(m);
}

static void on_pub_tick(uv_timer_t *t)
{
    loopRun *r = t->data;
    char buf[16];
    for (int i = 0; i < r->batch; i++) {
        int n = snprintf(buf, sizeof buf, "%d", r->next++);
        natsConnection_Publish(busConn_Nats(r->pub), "evloop.test", buf, n + 1);
    }
    if (r->on_tick)
        r->on_tick(r);
    if (--r->ticks <= 0 || __atomic_load_n(&r->last, __ATOMIC_SEQ_CST) > r->want_after)
        uv_stop(t->loop);
}

static natsConnection *subscriber(int port, loopRun *r)
{
    char url[64];
    snprintf(url, sizeof url, "nats://127.0.0.1:%d", port);
    natsOptions *no = NULL;
    natsConnection *nc = NULL;
    cr_assert_eq(natsOptions_Create(&no), NATS_OK);
    natsOptions_SetURL(no, url);
    natsOptions_SetMaxReconnect(no, -1);
    natsOptions_SetReconnectWait(no, 50);
    cr_assert_eq(natsConnection_Connect(&nc, no), NATS_OK);
    cr_assert_eq(natsConnection_Subscribe(&r->sub, nc, "evloop.test", on_sub_msg, r), NATS_OK);
    cr_assert_eq(natsConnection_FlushTimeout(nc, 2000), NATS_OK);
    natsOptions_Destroy(no);
    return nc;
}

static busConn *loop_conn(uv_loop_t *loop, int port)
{
    char url[64];
    snprintf(url, sizeof url, "nats://127.0.0.1:%d", port);
    busConnOptions o;
    busConnOptions_Init(&o);
    o.urls = url;
    o.loop = loop;
    o.reconnect_wait_ms = 50;
    o.reconnect_jitter_ms = 10;
    o.connect_timeout_ms = 500;
    busConn *c = NULL;
    cr_assert_eq(busConn_Create(&c, &o), IBB_OK);
    cr_assert(busConn_OnLoop(c));
    return c;
}

static void run_ticks(uv_loop_t *loop, loopRun *r, int batch, int ticks, int want_after)
{
    r->batch = batch;
    r->ticks = ticks;
    r->want_after = want_after;
    r->timer.data = r;
    uv_timer_start(&r->timer, on_pub_tick, 5, 5);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_timer_stop(&r->timer);
}

static void close_all(uv_loop_t *loop, loopRun *r)
{
    busConn_Destroy(r->pub);
    uv_close((uv_handle_t *)&r->timer, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    cr_assert_eq(uv_loop_close(loop), 0, "every handle of the loop-driven connection is closed");
    natsSubscription_Destroy(r->sub);
    natsConnection_Destroy(r->sub_nc);
}

Test(conn, loop_driven_writes_without_flush)
{
    int port = 0;
    pid_t pid = natsProc_Start(&port, NULL, NULL, NULL, NULL);
    uv_loop_t loop;
    uv_loop_init(&loop);
    loopRun r = {.in_order = 1, .last = -1};
    uv_timer_init(&loop, &r.timer);
    r.sub_nc = subscriber(port, &r);
    r.pub = loop_conn(&loop, port);
    cr_assert(busConn_IsConnected(r.pub));
    run_ticks(&loop, &r, 100, 2000, 100 * 20 - 2); /* 20 batches of 100, then wait for the last */
    cr_assert_geq(__atomic_load_n(&r.got, __ATOMIC_SEQ_CST), 1999, "got %d of 2000+", r.got);
    cr_assert_eq(__atomic_load_n(&r.in_order, __ATOMIC_SEQ_CST), 1, "published order kept");
    /* the last tick's batch must leave on the loop's next turn, before Destroy writes leftovers */
    int sent = r.next;
    for (int i = 0; i < 400 && __atomic_load_n(&r.got, __ATOMIC_SEQ_CST) < sent; i++)
        uv_run(&loop, UV_RUN_NOWAIT), usleep(5000);
    cr_assert_eq(__atomic_load_n(&r.got, __ATOMIC_SEQ_CST), sent, "every message arrives, no flush called");
    close_all(&loop, &r);
    natsProc_Stop(pid);
    bus_Shutdown(2000);
}

Test(conn, loop_driven_connects_late_and_survives_restart)
{
    int port = natsProc_FreePort();
    uv_loop_t loop;
    uv_loop_init(&loop);
    loopRun r = {.in_order = 1, .last = -1};
    uv_timer_init(&loop, &r.timer);
    r.pub = loop_conn(&loop, port); /* no server yet: nats.c attaches later from its reconnect thread */
    cr_assert_not(busConn_IsConnected(r.pub));
    pid_t pid = natsProc_Start(&port, NULL, NULL, NULL, NULL);
    r.sub_nc = subscriber(port, &r);
    run_ticks(&loop, &r, 10, 2000, 0); /* until something arrives (10 s at most) */
    cr_assert_gt(__atomic_load_n(&r.got, __ATOMIC_SEQ_CST), 0, "late connect: nothing arrived");
    natsProc_Stop(pid);
    run_ticks(&loop, &r, 10, 20, 1 << 30); /* publish while the server is gone (buffered) */
    pid = natsProc_Start(&port, NULL, NULL, NULL, NULL);
    int before = r.next;
    run_ticks(&loop, &r, 10, 2000, before + 100);
    cr_assert_gt(__atomic_load_n(&r.last, __ATOMIC_SEQ_CST), before + 100, "nothing after the restart");
    close_all(&loop, &r);
    natsProc_Stop(pid);
    bus_Shutdown(2000);
}
