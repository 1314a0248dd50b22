/* http_server.c — the lws context, its one protocol callback (HTTP and WebSocket), the wake-up from
 * nats.c threads, the periodic tick, and the service loop with graceful shutdown.
 *
 * NATS I/O on the lws thread: the bus connection is driven by a small libuv loop (http_bus.h) that
 * runs inside lws' own poll loop — lws polls (a dup of) the uv loop's epoll fd, and the uv loop is
 * run without blocking whenever that fd is readable and after every lws service turn. So the bus
 * requests an lws turn makes leave in one write right after it, and nats.c needs no reader thread.
 * (lws' own libuv mode was measured slower per HTTP request than its poll loop: tests/http/BENCH.md.)
 *
 * Threads: only http_server_wake runs off the loop thread (from nats.c threads); it calls
 * lws_cancel_service(), the one thread-safe lws call, and lws then delivers
 * LWS_CALLBACK_EVENT_WAIT_CANCELLED on the loop thread, where the bus queue is drained. */
#include "http_server.h"

#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http_app.h"
#include "ibb_log.h"

#define TICK_US (50 * LWS_US_PER_MS)
#define DRAIN_US (2 * LWS_USEC_PER_SEC)

static volatile sig_atomic_t g_signals;

static void on_signal(int sig)
{
    (void)sig;
    if (g_signals++)
        _exit(1);   /* a second signal exits at once */
}

static void wake(void *arg)
{
    httpApp *app = arg;
    if (app->ctx)
        lws_cancel_service(app->ctx);
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    struct lws_context *ctx = wsi ? lws_get_context(wsi) : NULL;
    httpApp *app = ctx ? lws_context_user(ctx) : NULL;
    httpSess *pss = user;
    if (!app)
        return 0;
    switch (reason) {
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        httpBus_Dispatch(app->bus);
        return 0;
    case LWS_CALLBACK_RAW_RX_FILE: /* the NATS loop's epoll fd: nats.c has something to read or write */
        uv_run(app->loop, UV_RUN_NOWAIT);
        return 0;
    case LWS_CALLBACK_HTTP:
        return pss ? http_restBegin(app, wsi, pss, in ? (const char *)in : "/") : -1;
    case LWS_CALLBACK_HTTP_BODY:
        return pss ? http_restBody(app, wsi, pss, in, len) : -1;
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        return pss ? http_restBodyDone(app, wsi, pss) : -1;
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return pss ? http_restWriteable(app, wsi, pss) : -1;
    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
        if (pss)
            http_restClosed(app, pss);
        return 0;
    case LWS_CALLBACK_ESTABLISHED:
        if (pss && pss->req)
            http_restClosed(app, pss);
        return pss ? http_wsEstablished(app, wsi, pss) : -1;
    case LWS_CALLBACK_RECEIVE:
        return pss ? http_wsReceive(app, wsi, pss, in, len) : -1;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return pss ? http_wsWriteable(app, wsi, pss) : -1;
    case LWS_CALLBACK_CLOSED:
        if (pss)
            http_wsClosed(app, pss);
        return 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

static struct lws_protocols g_protocols[] = {
    {"ib-bridge", callback, sizeof(httpSess), 4096, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static int64_t g_drain_until;

static void tick(lws_sorted_usec_list_t *sul)
{
    httpApp *app = lws_container_of(sul, httpApp, tick);
    httpBus_Dispatch(app->bus);
    httpBus_Tick(app->bus);
    httpHub_Tick(app->hub);
    http_modeTick(app);
    http_statusTick(app);
    http_instancesTick(app);
    if (g_signals && !app->draining) {
        IBB_INFO("http.shutdown", "pending=%d", httpBus_Pending(app->bus));
        app->draining = 1;
        g_drain_until = http_nowUs() + DRAIN_US;
        httpHub_Shutdown(app->hub);
    }
    lws_sul_schedule(app->ctx, 0, &app->tick, tick, TICK_US);
}

static void lws_log(int level, const char *line)
{
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        n--;
    ibbLog_Write(level == LLL_ERR ? IBB_LOG_ERROR : IBB_LOG_WARN, "http.lws", "msg=\"%.*s\"", (int)n, line);
}

/* Lets lws poll the NATS loop: a dup of uv's epoll fd (lws closes its copy), readable when the loop
 * has an event ready. */
static void on_check(uv_check_t *h) { (void)h; }

static bool adopt_loop(httpApp *app)
{
    /* the bus' handles do not keep a loop alive, and uv_run does not poll a loop that is not: this
     * one active handle does (closed in close_loop) */
    uv_check_init(app->loop, &app->keepalive);
    uv_check_start(&app->keepalive, on_check);
    lws_sock_file_fd_type fd;
    fd.filefd = dup(uv_backend_fd(app->loop));
    if (fd.filefd < 0)
        return false;
    const char *proto = g_protocols[0].name;
    return lws_adopt_descriptor_vhost(app->vhost, LWS_ADOPT_RAW_FILE_DESC, fd, proto, NULL) != NULL;
}

/* The bus closes its handles on the loop: run it to the end, then free the app. */
static void close_loop(httpApp *app)
{
    if (uv_is_active((uv_handle_t *)&app->keepalive))
        uv_close((uv_handle_t *)&app->keepalive, NULL);
    uv_run(app->loop, UV_RUN_DEFAULT);
    if (uv_loop_close(app->loop) != 0)
        IBB_WARN("http.loop_busy", "detail=\"a handle was still open at exit\"");
    free(app);
}

ibbStatus httpServer_Run(const httpConfig *cfg)
{
    httpApp *app = calloc(1, sizeof *app);
    if (!app)
        return IBB_ERR_NOMEM;
    if (uv_loop_init(&app->loop_storage) != 0) {
        free(app);
        return IBB_ERR_IO;
    }
    app->loop = &app->loop_storage;
    app->cfg = cfg;
    if (httpAuth_CheckExposure(cfg, stderr) != IBB_OK) {
        uv_loop_close(app->loop);
        free(app);
        return IBB_ERR_CONFIG;
    }
    app->auth_on = cfg->read_tokens.n > 0 || cfg->trade_tokens.n > 0;
    httpMetrics_Init(&app->metrics);
    http_restInit(app);
    lws_set_log_level(LLL_ERR, lws_log);
    ibbStatus st = httpHub_Create(&app->hub, app);
    if (st == IBB_OK)
        st = httpBus_Create(&app->bus, cfg, app->loop, wake, app);
    if (st != IBB_OK) {
        httpHub_Destroy(app->hub);
        close_loop(app);
        return st;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    static lws_retry_bo_t retry;
    retry.secs_since_valid_ping = (uint16_t)cfg->ws_ping_s;
    retry.secs_since_valid_hangup = (uint16_t)cfg->ws_idle_s;
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = (int)cfg->port;
    info.iface = cfg->listen[0] ? cfg->listen : NULL;
    info.protocols = g_protocols;
    info.user = app;
    info.vhost_name = "ib-bridge-http";
    info.server_string = "ib-bridge-http";
    info.max_http_header_data = (unsigned short)cfg->max_header;
    info.retry_and_idle_policy = &retry;
    info.options = LWS_SERVER_OPTION_VALIDATE_UTF8 | LWS_SERVER_OPTION_DISABLE_IPV6 |
                   LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
    info.count_threads = 1;
    info.keepalive_timeout = 60;
    app->ctx = lws_create_context(&info);
    if (app->ctx)
        app->vhost = lws_create_vhost(app->ctx, &info);
    if (app->vhost && !adopt_loop(app)) {
        IBB_ERROR("http.loop_failed", "detail=\"cannot poll the NATS loop from lws\"");
        st = IBB_ERR_IO;
    } else if (!app->ctx || !app->vhost) {
        IBB_ERROR("http.listen_failed", "port=%d iface=%s", (int)cfg->port, cfg->listen[0] ? cfg->listen : "*");
        st = IBB_ERR_IO;
    } else {
        IBB_INFO("http.listening", "port=%d listen=%s prefix=%s auth=%s nats=%s",
                 lws_get_vhost_listen_port(app->vhost), cfg->listen[0] ? cfg->listen : "*", cfg->nats.subject_prefix,
                 app->auth_on ? "on" : "off", cfg->nats_url);
        http_modeTick(app);   /* ask ib-bridge's trading mode at once */
        lws_sul_schedule(app->ctx, 0, &app->tick, tick, TICK_US);
        while (lws_service(app->ctx, 0) >= 0) {
            uv_run(app->loop, UV_RUN_NOWAIT); /* write the bus requests this turn made */
            if (app->draining && (http_nowUs() > g_drain_until ||
                                  (httpBus_Pending(app->bus) == 0 && app->metrics.ws_clients == 0)))
                break;
        }
        IBB_INFO("http.stopped", "ws_clients=%lld", (long long)app->metrics.ws_clients);
    }
    if (app->ctx)
        lws_context_destroy(app->ctx);
    app->ctx = NULL;
    httpHub_Destroy(app->hub);
    http_statusFree(app);
    http_instancesFree(app);
    httpBus_Destroy(app->bus);
    close_loop(app);
    return st;
}
