/* core_session.c — the IB session state machine on a libuv loop; see core_session.h.
 *
 * One sessConn per TCP connection attempt. It is reference counted because libuv may still call
 * back into it (getaddrinfo, connect, write, close) after the session moved on: the session
 * drops its own reference when the connection ends, the tcp handle holds one until its close
 * callback, a pending getaddrinfo holds one until its callback. A callback for a connection that
 * is no longer current (conn->dead) does nothing. */
#include "core_session.h"

#include <inttypes.h>
#include <time.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core_backoff.h"
#include "ibb_log.h"

#define READ_BUF_SIZE 65536
#define WATCHDOG_MIN_MS 10

typedef struct sessConn {
    coreSession *s;
    uv_tcp_t tcp;
    uv_getaddrinfo_t gai;
    uv_connect_t connect_req;
    bool tcp_init;
    bool gai_pending;
    bool dead;
    int refs;
} sessConn;

typedef struct sessWrite {
    uv_write_t req;
    sessConn *conn;
    size_t len;
    char data[];
} sessWrite;

typedef struct sessHandler {
    void *fn;
    void *ud;
} sessHandler;

struct coreSession {
    uv_loop_t *loop;
    coreSessionConfig cfg;
    char *host;
    coreState state;
    bool started; /* reconnect wanted */
    bool destroying;
    sessConn *conn; /* current connection, NULL when none */
    int live_conns; /* allocated sessConn, current or closing */
    int open_timers;
    ibFramer *framer;
    corePacer *pacer;
    char *obuf; /* pacer output waiting for one uv_write */
    size_t olen, ocap;
    bool obuf_err;
    ibWriter enc; /* scratch for encoding one request */
    uv_timer_t backoff_timer, deadline_timer, watchdog_timer, pacer_timer;
    int attempt; /* consecutive failed attempts since the last "ready" */
    uint64_t rng;

    int sv;
    char conn_time[128];
    char *accounts;
    int64_t next_order_id;
    bool have_next_id, have_accounts;

    uint64_t last_rx_ms;
    bool ping_outstanding;

    coreSessionStats stats;
    ibbStatus last_error;
    bool error_fresh; /* last_error was set for the failure being handled now */
    int64_t last_ib_code;
    char last_error_text[320];

    sessHandler state_handlers[CORE_MAX_HANDLERS];
    int n_state_handlers;
    sessHandler reply_handlers[CORE_MAX_HANDLERS];
    int n_reply_handlers;
    coreStillWantedFn still_wanted;
    void *still_wanted_ud;
    coreWriteGateFn write_gate;       /* HA fencing: asked before every write and connect */
    void *write_gate_ud;
    sessHandler read_done_handlers[CORE_MAX_HANDLERS];
    int n_read_done_handlers;
    int64_t read_time_ns;       /* CLOCK_REALTIME when the current socket read arrived */

    char rbuf[READ_BUF_SIZE];
    bool rbuf_busy;
};

static const char *const state_names[] = {"disconnected", "connecting", "handshaking", "ready", "backoff"};

const char *coreState_Name(coreState st)
{
    if ((int)st < 0 || (size_t)st >= sizeof state_names / sizeof state_names[0])
        return "unknown";
    return state_names[st];
}

void coreSessionConfig_Init(coreSessionConfig *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->host = "127.0.0.1";
    cfg->port = 4002;
    cfg->client_id = 1;
    cfg->handshake_timeout_ms = 10000;
    cfg->keepalive_idle_ms = 30000;
    cfg->stall_timeout_ms = 90000;
    cfg->backoff_min_ms = 1000;
    cfg->backoff_max_ms = 60000;
    cfg->pacing_rate = 45.0;
    cfg->pacing_burst = 5;
    cfg->max_queue = 10000;
}

static uint64_t now_ms(coreSession *s)
{
    uv_update_time(s->loop);
    return uv_now(s->loop);
}

/* ---------------------------------------------------------------------------------------------- */
/* state                                                                                          */
/* ---------------------------------------------------------------------------------------------- */

static void set_state(coreSession *s, coreState st, ibbStatus reason)
{
    coreState from = s->state;
    if (from == st)
        return;
    s->state = st;
    IBB_INFO("ib.state", "from=%s to=%s reason=%s", coreState_Name(from), coreState_Name(st),
             ibbStatus_Name(reason));
    for (int i = 0; i < s->n_state_handlers && !s->destroying; i++)
        ((coreStateFn)s->state_handlers[i].fn)(s->state_handlers[i].ud, from, st, reason);
}

static void set_error(coreSession *s, ibbStatus st, int64_t ib_code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void set_error(coreSession *s, ibbStatus st, int64_t ib_code, const char *fmt, ...)
{
    s->last_error = st;
    s->last_ib_code = ib_code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->last_error_text, sizeof s->last_error_text, fmt, ap);
    va_end(ap);
    s->error_fresh = true;
}

static void reset_link_state(coreSession *s)
{
    s->sv = 0;
    s->conn_time[0] = '\0';
    s->have_next_id = s->have_accounts = false;
    s->next_order_id = -1;
    s->ping_outstanding = false;
    ibFramer_Reset(s->framer);
    s->olen = 0;
    size_t n = corePacer_Clear(s->pacer);
    if (n) {
        s->stats.dropped += n;
        IBB_WARN("ib.queue_dropped", "count=%zu", n);
    }
}

/* ---------------------------------------------------------------------------------------------- */
/* connections                                                                                    */
/* ---------------------------------------------------------------------------------------------- */

static void conn_unref(sessConn *c)
{
    if (--c->refs > 0)
        return;
    c->s->live_conns--;
    free(c);
}

static void on_tcp_closed(uv_handle_t *h) { conn_unref((sessConn *)h->data); }

/* Ends the current connection (if any); the session forgets it at once. */
static void close_conn(coreSession *s)
{
    sessConn *c = s->conn;
    if (!c)
        return;
    s->conn = NULL;
    c->dead = true;
    if (c->tcp_init && !uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, on_tcp_closed);
    if (c->gai_pending)
        uv_cancel((uv_req_t *)&c->gai); /* its callback still runs (UV_ECANCELED) and unrefs */
    conn_unref(c);
}

static void stop_timers(coreSession *s)
{
    uv_timer_stop(&s->deadline_timer);
    uv_timer_stop(&s->watchdog_timer);
    uv_timer_stop(&s->pacer_timer);
    uv_timer_stop(&s->backoff_timer);
}

static void start_connect(coreSession *s);

static void on_backoff_timer(uv_timer_t *t)
{
    coreSession *s = t->data;
    if (!s->started || s->state != CORE_STATE_BACKOFF)
        return;
    s->stats.reconnects++;
    start_connect(s);
}

/* The one place a connection fails: log, close, and either back off or stay disconnected. */
static void fail(coreSession *s, ibbStatus st, const char *what)
{
    if (!s->conn && s->state != CORE_STATE_CONNECTING && s->state != CORE_STATE_HANDSHAKING &&
        s->state != CORE_STATE_READY)
        return;
    IBB_WARN("ib.disconnected", "host=%s port=%d state=%s status=%s reason=\"%s\"", s->host, s->cfg.port,
             coreState_Name(s->state), ibbStatus_Name(st), what);
    if (!s->error_fresh)
        set_error(s, st, 0, "%s", what);
    s->error_fresh = false;
    close_conn(s);
    stop_timers(s);
    reset_link_state(s);
    if (!s->started) {
        set_state(s, CORE_STATE_DISCONNECTED, st);
        return;
    }
    int64_t delay = coreBackoff_Delay(s->attempt, s->cfg.backoff_min_ms, s->cfg.backoff_max_ms,
                                      coreBackoff_Random(&s->rng));
    s->attempt++;
    IBB_INFO("ib.backoff", "delay_ms=%" PRId64 " attempt=%d", delay, s->attempt);
    uv_timer_start(&s->backoff_timer, on_backoff_timer, (uint64_t)delay, 0);
    set_state(s, CORE_STATE_BACKOFF, st);
}

static void failf(coreSession *s, ibbStatus st, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void failf(coreSession *s, ibbStatus st, const char *fmt, ...)
{
    char what[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    fail(s, st, what);
}

/* ---------------------------------------------------------------------------------------------- */
/* writing                                                                                        */
/* ---------------------------------------------------------------------------------------------- */

static void on_write(uv_write_t *req, int status)
{
    sessWrite *w = (sessWrite *)req;
    sessConn *c = w->conn;
    if (status < 0 && !c->dead && c->s->conn == c)
        failf(c->s, IBB_ERR_IO, "write failed: %s", uv_strerror(status));
    free(w);
}

/* Writes bytes to the current connection in one uv_write (copied). */
static void write_bytes(coreSession *s, const char *data, size_t len)
{
    sessConn *c = s->conn;
    if (!c || !c->tcp_init || len == 0)
        return;
    if (s->write_gate && !s->write_gate(s->write_gate_ud)) {
        s->stats.fenced++;
        fail(s, IBB_ERR_STATE, "fenced: this process may not write to IB (its lease ended)");
        return;
    }
    sessWrite *w = malloc(sizeof *w + len);
    if (!w) {
        fail(s, IBB_ERR_NOMEM, "out of memory writing to the socket");
        return;
    }
    w->conn = c;
    w->len = len;
    memcpy(w->data, data, len);
    uv_buf_t buf = uv_buf_init(w->data, (unsigned)len);
    int rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &buf, 1, on_write);
    if (rc < 0) {
        free(w);
        failf(s, IBB_ERR_IO, "write failed: %s", uv_strerror(rc));
        return;
    }
    s->stats.bytes_out += len;
}

static void on_emit(void *ud, int tag, const char *data, size_t len)
{
    coreSession *s = ud;
    s->stats.msgs_out++;
    IBB_DEBUG("ib.send", "msg=%s id=%d bytes=%zu", ib_requestName(tag), tag, len);
    if (s->olen + len > s->ocap) {
        size_t cap = s->ocap ? s->ocap : 1024;
        while (cap < s->olen + len)
            cap *= 2;
        char *nb = realloc(s->obuf, cap);
        if (!nb) {
            s->obuf_err = true;
            return;
        }
        s->obuf = nb;
        s->ocap = cap;
    }
    memcpy(s->obuf + s->olen, data, len);
    s->olen += len;
}

static void on_pacer_timer(uv_timer_t *t);

/* Lets the pacer release what the bucket allows, writes it, re-arms the pacer timer. */
static void pump(coreSession *s)
{
    if (!s->conn)
        return;
    uv_update_time(s->loop);
    double now = (double)uv_hrtime() / 1e6;
    int64_t wait = corePacer_Run(s->pacer, now, on_emit, s);
    size_t n = s->olen;
    s->olen = 0;
    if (s->obuf_err) {
        s->obuf_err = false;
        fail(s, IBB_ERR_NOMEM, "out of memory queueing output");
        return;
    }
    if (n)
        write_bytes(s, s->obuf, n);
    if (!s->conn)
        return;
    if (wait >= 0)
        uv_timer_start(&s->pacer_timer, on_pacer_timer, (uint64_t)wait, 0);
    else
        uv_timer_stop(&s->pacer_timer);
}

static void on_pacer_timer(uv_timer_t *t) { pump(t->data); }

int64_t coreSession_RequestKey(const ibRequest *req)
{
    if (!req)
        return 0;
    switch (req->id) {
    case IB_REQ_MKT_DATA: return req->u.mkt_data.req_id;
    case IB_REQ_CONTRACT_DETAILS: return req->u.contract_details.req_id;
    case IB_REQ_HISTORICAL_DATA: return req->u.historical.req_id;
    case IB_REQ_ACCOUNT_SUMMARY: return req->u.account_summary.req_id;
    case IB_REQ_EXECUTIONS: return req->u.executions.req_id;
    case IB_REQ_MKT_DEPTH: return req->u.mkt_depth.req_id;
    case IB_REQ_TICK_BY_TICK: return req->u.tick_by_tick.req_id;
    case IB_REQ_REAL_TIME_BARS: return req->u.real_time_bars.req_id;
    default: return 0; /* cancels, orders, keep-alives, startApi, subscriptions without an id */
    }
}

/* The pacer's keep callback: asks the owner whether the request is still wanted. */
static bool keep_queued(void *ud, int tag, int64_t key)
{
    coreSession *s = ud;
    if (!s->still_wanted || s->still_wanted(s->still_wanted_ud, tag, key))
        return true;
    IBB_DEBUG("ib.send_dropped_stale", "msg=%s req_id=%" PRId64, ib_requestName(tag), key);
    return false;
}

void coreSession_SetWriteGate(coreSession *s, coreWriteGateFn fn, void *ud)
{
    s->write_gate = fn;
    s->write_gate_ud = fn ? ud : NULL;
}

void coreSession_SetStillWanted(coreSession *s, coreStillWantedFn fn, void *ud)
{
    if (!s)
        return;
    s->still_wanted = fn;
    s->still_wanted_ud = fn ? ud : NULL;
}

/* Encodes and queues one request (no state check). */
static ibbStatus enqueue(coreSession *s, const ibRequest *req, corePriority prio)
{
    ibWriter_Reset(&s->enc);
    ibbStatus st = ib_encodeRequest(&s->enc, s->sv, req);
    if (st != IBB_OK)
        return st;
    st = corePacer_PushKeyed(s->pacer, prio, (int)req->id, coreSession_RequestKey(req), s->enc.buf,
                             s->enc.len);
    if (st != IBB_OK)
        return st;
    pump(s);
    return IBB_OK;
}

ibbStatus coreSession_Send(coreSession *s, const ibRequest *req, corePriority prio)
{
    if (!s || !req)
        return IBB_ERR_INVALID_ARG;
    if (s->state != CORE_STATE_READY)
        return IBB_ERR_STATE;
    ibbStatus st = enqueue(s, req, prio);
    if (st == IBB_ERR_LIMIT)
        IBB_WARN("ib.queue_full", "msg=%s depth=%zu", ib_requestName(req->id),
                 corePacer_Depth(s->pacer, NULL, NULL));
    return st;
}

/* ---------------------------------------------------------------------------------------------- */
/* keep-alive and stall watchdog                                                                  */
/* ---------------------------------------------------------------------------------------------- */

static void on_watchdog(uv_timer_t *t)
{
    coreSession *s = t->data;
    if (s->state != CORE_STATE_READY)
        return;
    uint64_t now = now_ms(s);
    int64_t silent = (int64_t)(now - s->last_rx_ms);
    if (silent >= s->cfg.stall_timeout_ms) {
        s->stats.stalls++;
        IBB_WARN("ib.stall", "silent_ms=%" PRId64 " stall_timeout_ms=%" PRId64, silent,
                 s->cfg.stall_timeout_ms);
        failf(s, IBB_ERR_TIMEOUT, "stalled: nothing received for %" PRId64 " ms", silent);
        return;
    }
    if (silent >= s->cfg.keepalive_idle_ms && !s->ping_outstanding) {
        ibRequest req;
        ibRequest_Init(&req, IB_REQ_CURRENT_TIME);
        ibbStatus st = enqueue(s, &req, CORE_PRIO_CANCEL);
        if (!s->conn)
            return;
        s->ping_outstanding = true; /* also on failure: the stall check decides, no retry storm */
        if (st == IBB_OK) {
            s->stats.keepalives++;
            IBB_DEBUG("ib.keepalive", "silent_ms=%" PRId64, silent);
        } else {
            IBB_WARN("ib.keepalive_failed", "status=%s", ibbStatus_Name(st));
        }
    }
    int64_t next = (s->ping_outstanding ? s->cfg.stall_timeout_ms : s->cfg.keepalive_idle_ms) - silent;
    if (next < WATCHDOG_MIN_MS)
        next = WATCHDOG_MIN_MS;
    uv_timer_start(&s->watchdog_timer, on_watchdog, (uint64_t)next, 0);
}

/* ---------------------------------------------------------------------------------------------- */
/* reading                                                                                        */
/* ---------------------------------------------------------------------------------------------- */

static void become_ready(coreSession *s)
{
    uv_timer_stop(&s->deadline_timer);
    s->attempt = 0;
    s->last_error = IBB_OK;
    s->last_ib_code = 0;
    s->last_error_text[0] = '\0';
    IBB_INFO("ib.ready", "host=%s port=%d sv=%d client_id=%" PRId64 " accounts=%s next_order_id=%" PRId64,
             s->host, s->cfg.port, s->sv, s->cfg.client_id, s->accounts ? s->accounts : "", s->next_order_id);
    s->last_rx_ms = now_ms(s);
    uv_timer_start(&s->watchdog_timer, on_watchdog, (uint64_t)s->cfg.keepalive_idle_ms, 0);
    set_state(s, CORE_STATE_READY, IBB_OK);
}

/* Copies "DU1,DU2," into "DU1,DU2" (empty items dropped). */
static void store_accounts(coreSession *s, const char *list)
{
    size_t n = strlen(list);
    char *out = malloc(n + 1);
    if (!out)
        return;
    size_t o = 0;
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len) {
            if (o)
                out[o++] = ',';
            memcpy(out + o, p, len);
            o += len;
        }
        p += len + (e ? 1 : 0);
    }
    out[o] = '\0';
    free(s->accounts);
    s->accounts = out;
}

static void handle_error_msg(coreSession *s, const ibError *e)
{
    int64_t code = e->code;
    if (code == 326) {
        IBB_ERROR("ib.client_id_in_use",
                  "client_id=%" PRId64
                  " code=326 hint=\"another API client is connected with client id %" PRId64
                  "; stop it or set ib.client_id (env IB_CLIENT_ID) to an unused id\"",
                  s->cfg.client_id, s->cfg.client_id);
        set_error(s, IBB_ERR_CONFIG, 326,
                  "client id %" PRId64 " is already in use by another API client: stop that client or set "
                  "ib.client_id (IB_CLIENT_ID) to an unused id",
                  s->cfg.client_id);
        return;
    }
    if (e->id != -1) {
        IBB_DEBUG("ib.error", "id=%" PRId64 " code=%" PRId64 " msg=\"%s\"", e->id, code, e->message);
        return;
    }
    bool info = (code >= 2100 && code <= 2169) || code == 1102;
    if (!info) {
        IBB_WARN("ib.notice", "code=%" PRId64 " msg=\"%s\"", code, e->message);
    } else {
        IBB_INFO("ib.notice", "code=%" PRId64 " msg=\"%s\"", code, e->message);
    }
}

/* Returns false when the connection was closed (stop processing frames). */
static bool handle_server_version(coreSession *s, sessConn *c, const char *payload, size_t len)
{
    ibServerVersion v;
    ibbStatus st = ib_decodeServerVersion(payload, len, &v);
    if (st != IBB_OK) {
        s->stats.decode_errors++;
        failf(s, st, "malformed server version reply (%s)", ibbStatus_Name(st));
        return false;
    }
    s->stats.msgs_in++;
    if (v.server_version != IB_SV_TARGET) {
        const char *why = v.server_version < IB_SV_TARGET ? "too old" : "above the version we asked for";
        IBB_ERROR("ib.version_unsupported",
                  "server_version=%" PRId64 " required=%d hint=\"the gateway speaks API version %" PRId64
                  " (%s); ib-bridge needs exactly %d: update IB Gateway/TWS\"",
                  v.server_version, IB_SV_TARGET, v.server_version, why, IB_SV_TARGET);
        set_error(s, IBB_ERR_UNSUPPORTED_VERSION, 0,
                  "server version %" PRId64
                  " is not supported (%s): ib-bridge needs %d; update IB Gateway/TWS",
                  v.server_version, why, IB_SV_TARGET);
        fail(s, IBB_ERR_UNSUPPORTED_VERSION, s->last_error_text);
        return false;
    }
    s->sv = (int)v.server_version;
    snprintf(s->conn_time, sizeof s->conn_time, "%s", v.connection_time ? v.connection_time : "");
    IBB_INFO("ib.server_version", "sv=%d connection_time=\"%s\"", s->sv, s->conn_time);
    ibRequest req;
    ibRequest_Init(&req, IB_REQ_START_API);
    req.u.start_api.client_id = s->cfg.client_id;
    req.u.start_api.optional_capabilities = "";
    st = enqueue(s, &req, CORE_PRIO_NORMAL);
    if (st != IBB_OK) {
        failf(s, st, "cannot send startApi (%s)", ibbStatus_Name(st));
        return false;
    }
    return s->conn == c;
}

static bool handle_frame(coreSession *s, sessConn *c, const char *payload, size_t len)
{
    if (s->sv == 0)
        return handle_server_version(s, c, payload, len);
    ibReply reply;
    memset(&reply, 0, sizeof reply);
    ibbStatus st = ib_decodeReply(s->sv, payload, len, &reply);
    if (st == IBB_ERR_UNKNOWN_MSG) {
        s->stats.unknown_skipped++;
        IBB_DEBUG("ib.unknown_msg", "id=%d", (int)reply.id);
        return true;
    }
    if (st != IBB_OK) {
        s->stats.decode_errors++;
        long id = strtol(payload, NULL, 10);
        IBB_ERROR("ib.decode_error", "msg=%s id=%ld status=%s bytes=%zu", ib_replyName((int)id), id,
                  ibbStatus_Name(st), len);
        failf(s, st, "malformed %s message from the gateway (%s)", ib_replyName((int)id), ibbStatus_Name(st));
        return false;
    }
    s->stats.msgs_in++;
    switch (reply.id) {
    case IB_MSG_NEXT_VALID_ID:
        /* Never move backwards within a connection: ids handed out already must not be reused. */
        if (!s->have_next_id || reply.u.next_valid_id.order_id > s->next_order_id)
            s->next_order_id = reply.u.next_valid_id.order_id;
        s->have_next_id = true;
        break;
    case IB_MSG_MANAGED_ACCOUNTS:
        store_accounts(s, reply.u.managed_accounts.accounts ? reply.u.managed_accounts.accounts : "");
        s->have_accounts = true;
        break;
    case IB_MSG_ERROR:
        handle_error_msg(s, &reply.u.error);
        if (reply.u.error.code == 326) {
            fail(s, IBB_ERR_CONFIG, s->last_error_text);
            return false;
        }
        break;
    case IB_MSG_CURRENT_TIME: IBB_DEBUG("ib.current_time", "time=%" PRId64, reply.u.current_time.time); break;
    default: break;
    }
    for (int i = 0; i < s->n_reply_handlers && s->conn == c; i++)
        ((coreReplyFn)s->reply_handlers[i].fn)(s->reply_handlers[i].ud, &reply);
    if (s->conn != c)
        return false;
    if (s->state == CORE_STATE_HANDSHAKING && s->have_next_id && s->have_accounts)
        become_ready(s);
    return s->conn == c;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    sessConn *c = h->data;
    coreSession *s = c->s;
    if (s->rbuf_busy) {
        *buf = uv_buf_init(NULL, 0);
        return;
    }
    s->rbuf_busy = true;
    *buf = uv_buf_init(s->rbuf, sizeof s->rbuf);
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    sessConn *c = stream->data;
    coreSession *s = c->s;
    if (buf->base == s->rbuf)
        s->rbuf_busy = false;
    if (c->dead || s->conn != c || nread == 0)
        return;
    if (nread < 0) {
        if (nread == UV_EOF)
            fail(s, IBB_ERR_CLOSED, "the gateway closed the connection");
        else
            failf(s, IBB_ERR_IO, "read failed: %s", uv_strerror((int)nread));
        return;
    }
    s->stats.bytes_in += (uint64_t)nread;
    s->last_rx_ms = now_ms(s);
    if (s->ping_outstanding) {
        /* The watchdog sleeps until the stall deadline while a ping is out: wake it for the
         * next idle period instead, so keep-alives keep their cadence. */
        s->ping_outstanding = false;
        if (s->state == CORE_STATE_READY)
            uv_timer_start(&s->watchdog_timer, on_watchdog, (uint64_t)s->cfg.keepalive_idle_ms, 0);
    }
    if (ibFramer_Feed(s->framer, buf->base, (size_t)nread) != IBB_OK) {
        fail(s, IBB_ERR_NOMEM, "out of memory buffering input");
        return;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    s->read_time_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    for (int frames = 0;; frames++) {
        const char *payload;
        size_t len;
        ibbStatus st = ibFramer_Next(s->framer, &payload, &len, NULL);
        if (st == IBB_NEED_MORE) {
            /* Everything from this read is applied: let batching consumers flush once. */
            for (int i = 0; frames > 0 && i < s->n_read_done_handlers && s->conn == c; i++)
                ((coreReadDoneFn)s->read_done_handlers[i].fn)(s->read_done_handlers[i].ud);
            return;
        }
        if (st != IBB_OK) {
            s->stats.decode_errors++;
            IBB_ERROR("ib.decode_error", "msg=frame status=%s", ibbStatus_Name(st));
            failf(s, st, "malformed frame from the gateway (%s)", ibbStatus_Name(st));
            return;
        }
        if (!handle_frame(s, c, payload, len))
            return;
    }
}

/* ---------------------------------------------------------------------------------------------- */
/* connecting                                                                                     */
/* ---------------------------------------------------------------------------------------------- */

static void on_deadline(uv_timer_t *t)
{
    coreSession *s = t->data;
    if (s->state != CORE_STATE_CONNECTING && s->state != CORE_STATE_HANDSHAKING)
        return;
    failf(s, IBB_ERR_TIMEOUT, "no %s within %" PRId64 " ms",
          s->state == CORE_STATE_CONNECTING ? "connection" : "complete handshake",
          s->cfg.handshake_timeout_ms);
}

static void on_connect(uv_connect_t *req, int status)
{
    sessConn *c = req->data;
    coreSession *s = c->s;
    if (c->dead || s->conn != c)
        return;
    if (status < 0) {
        failf(s, IBB_ERR_IO, "cannot connect to %s:%d: %s%s", s->host, s->cfg.port, uv_strerror(status),
              status == UV_ECONNREFUSED ? " (is IB Gateway/TWS running, with the API enabled on this port?)"
                                        : "");
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    IBB_INFO("ib.connected", "host=%s port=%d", s->host, s->cfg.port);
    set_state(s, CORE_STATE_HANDSHAKING, IBB_OK);
    if (s->conn != c)
        return;
    int rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    if (rc < 0) {
        failf(s, IBB_ERR_IO, "cannot read: %s", uv_strerror(rc));
        return;
    }
    ibWriter hs;
    ibWriter_Init(&hs);
    ibbStatus st = ibWriter_Handshake(&hs, IB_SV_MIN_CLIENT, IB_SV_TARGET, NULL);
    if (st == IBB_OK)
        write_bytes(s, hs.buf, hs.len);
    else
        failf(s, st, "cannot build the handshake (%s)", ibbStatus_Name(st));
    ibWriter_Free(&hs);
}

static void connect_addr(coreSession *s, sessConn *c, const struct sockaddr *addr)
{
    int rc = uv_tcp_init(s->loop, &c->tcp);
    if (rc < 0) {
        failf(s, IBB_ERR_IO, "socket: %s", uv_strerror(rc));
        return;
    }
    c->tcp.data = c;
    c->tcp_init = true;
    c->refs++; /* released by on_tcp_closed */
    c->connect_req.data = c;
    rc = uv_tcp_connect(&c->connect_req, &c->tcp, addr, on_connect);
    if (rc < 0)
        failf(s, IBB_ERR_IO, "cannot connect to %s:%d: %s", s->host, s->cfg.port, uv_strerror(rc));
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    sessConn *c = req->data;
    coreSession *s = c->s;
    c->gai_pending = false;
    if (!c->dead && s->conn == c) {
        if (status < 0 || !res) {
            failf(s, IBB_ERR_IO, "cannot resolve %s: %s", s->host,
                  status < 0 ? uv_strerror(status) : "no address");
        } else {
            const struct addrinfo *pick = res; /* prefer IPv4: gateways listen on 127.0.0.1 by default */
            for (const struct addrinfo *a = res; a; a = a->ai_next)
                if (a->ai_family == AF_INET) {
                    pick = a;
                    break;
                }
            connect_addr(s, c, pick->ai_addr);
        }
    }
    uv_freeaddrinfo(res);
    conn_unref(c);
}

static void start_connect(coreSession *s)
{
    close_conn(s);
    reset_link_state(s);
    if (s->write_gate && !s->write_gate(s->write_gate_ud)) { /* fenced: not even a TCP connect */
        s->stats.fenced++;
        uv_timer_start(&s->backoff_timer, on_backoff_timer, (uint64_t)s->cfg.backoff_min_ms, 0);
        set_state(s, CORE_STATE_BACKOFF, IBB_ERR_STATE);
        return;
    }
    sessConn *c = calloc(1, sizeof *c);
    if (!c) { /* try again later rather than sit in "backoff" forever */
        IBB_ERROR("ib.connect_failed", "reason=nomem");
        uv_timer_start(&s->backoff_timer, on_backoff_timer, (uint64_t)s->cfg.backoff_max_ms, 0);
        set_state(s, CORE_STATE_BACKOFF, IBB_ERR_NOMEM);
        return;
    }
    c->s = s;
    c->refs = 1; /* the session's reference */
    s->live_conns++;
    s->conn = c;
    IBB_INFO("ib.connecting", "host=%s port=%d client_id=%" PRId64 " attempt=%d", s->host, s->cfg.port,
             s->cfg.client_id, s->attempt);
    uv_timer_start(&s->deadline_timer, on_deadline, (uint64_t)s->cfg.handshake_timeout_ms, 0);
    set_state(s, CORE_STATE_CONNECTING, IBB_OK);
    if (s->conn != c)
        return;
    struct sockaddr_storage ss;
    if (uv_ip4_addr(s->host, s->cfg.port, (struct sockaddr_in *)&ss) == 0 ||
        uv_ip6_addr(s->host, s->cfg.port, (struct sockaddr_in6 *)&ss) == 0) {
        connect_addr(s, c, (const struct sockaddr *)&ss);
        return;
    }
    char port[16];
    snprintf(port, sizeof port, "%d", s->cfg.port);
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    c->gai.data = c;
    c->refs++; /* released by on_resolved */
    c->gai_pending = true;
    int rc = uv_getaddrinfo(s->loop, &c->gai, on_resolved, s->host, port, &hints);
    if (rc < 0) {
        c->gai_pending = false;
        conn_unref(c);
        failf(s, IBB_ERR_IO, "cannot resolve %s: %s", s->host, uv_strerror(rc));
    }
}

/* ---------------------------------------------------------------------------------------------- */
/* public API                                                                                     */
/* ---------------------------------------------------------------------------------------------- */

ibbStatus coreSession_Create(coreSession **out, uv_loop_t *loop, const coreSessionConfig *cfg)
{
    if (!out || !loop || !cfg || !cfg->host || !*cfg->host || cfg->port <= 0 || cfg->port > 65535 ||
        cfg->handshake_timeout_ms <= 0 || cfg->keepalive_idle_ms <= 0 ||
        cfg->stall_timeout_ms <= cfg->keepalive_idle_ms || cfg->backoff_min_ms <= 0 ||
        cfg->backoff_max_ms < cfg->backoff_min_ms)
        return IBB_ERR_INVALID_ARG;
    coreSession *s = calloc(1, sizeof *s);
    if (!s)
        return IBB_ERR_NOMEM;
    s->loop = loop;
    s->cfg = *cfg;
    s->host = strdup(cfg->host);
    s->cfg.host = s->host;
    s->next_order_id = -1;
    s->rng = uv_hrtime() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)s;
    ibWriter_Init(&s->enc);
    ibbStatus st = s->host ? IBB_OK : IBB_ERR_NOMEM;
    if (st == IBB_OK)
        st = ibFramer_Create(&s->framer, IB_FRAMER_CLIENT);
    if (st == IBB_OK)
        st = corePacer_Create(&s->pacer, cfg->pacing_rate, cfg->pacing_burst, cfg->max_queue);
    if (st == IBB_OK)
        corePacer_SetKeep(s->pacer, keep_queued, s);
    if (st != IBB_OK) {
        ibFramer_Destroy(s->framer);
        free(s->host);
        free(s);
        return st;
    }
    uv_timer_t *timers[] = {&s->backoff_timer, &s->deadline_timer, &s->watchdog_timer, &s->pacer_timer};
    for (size_t i = 0; i < sizeof timers / sizeof timers[0]; i++) {
        uv_timer_init(loop, timers[i]);
        timers[i]->data = s;
        s->open_timers++;
    }
    *out = s;
    return IBB_OK;
}

static void on_timer_closed(uv_handle_t *h)
{
    coreSession *s = h->data;
    s->open_timers--;
}

void coreSession_Destroy(coreSession *s)
{
    if (!s)
        return;
    s->destroying = true;
    s->n_state_handlers = s->n_reply_handlers = s->n_read_done_handlers = 0;
    coreSession_Disconnect(s);
    uv_timer_t *timers[] = {&s->backoff_timer, &s->deadline_timer, &s->watchdog_timer, &s->pacer_timer};
    for (size_t i = 0; i < sizeof timers / sizeof timers[0]; i++)
        uv_close((uv_handle_t *)timers[i], on_timer_closed);
    while (s->open_timers > 0 || s->live_conns > 0)
        uv_run(s->loop, UV_RUN_ONCE);
    ibFramer_Destroy(s->framer);
    corePacer_Destroy(s->pacer);
    free(s->obuf);
    ibWriter_Free(&s->enc);
    free(s->accounts);
    free(s->host);
    free(s);
}

static ibbStatus add_handler(sessHandler *arr, int *n, void *fn, void *ud)
{
    if (!fn)
        return IBB_ERR_INVALID_ARG;
    if (*n >= CORE_MAX_HANDLERS)
        return IBB_ERR_LIMIT;
    arr[*n].fn = fn;
    arr[*n].ud = ud;
    (*n)++;
    return IBB_OK;
}

ibbStatus coreSession_OnState(coreSession *s, coreStateFn fn, void *ud)
{
    return s ? add_handler(s->state_handlers, &s->n_state_handlers, (void *)fn, ud) : IBB_ERR_INVALID_ARG;
}

ibbStatus coreSession_OnReply(coreSession *s, coreReplyFn fn, void *ud)
{
    return s ? add_handler(s->reply_handlers, &s->n_reply_handlers, (void *)fn, ud) : IBB_ERR_INVALID_ARG;
}

ibbStatus coreSession_OnReadDone(coreSession *s, coreReadDoneFn fn, void *ud)
{
    return s ? add_handler(s->read_done_handlers, &s->n_read_done_handlers, (void *)fn, ud)
             : IBB_ERR_INVALID_ARG;
}

int64_t coreSession_ReadTimeNs(const coreSession *s) { return s ? s->read_time_ns : 0; }

ibbStatus coreSession_Start(coreSession *s)
{
    if (!s)
        return IBB_ERR_INVALID_ARG;
    if (s->started)
        return IBB_OK;
    s->started = true;
    s->attempt = 0;
    start_connect(s);
    return IBB_OK;
}

void coreSession_Disconnect(coreSession *s)
{
    if (!s)
        return;
    bool was = s->started || s->conn;
    s->started = false;
    close_conn(s);
    stop_timers(s);
    reset_link_state(s);
    if (was)
        IBB_INFO("ib.disconnect", "host=%s port=%d reason=requested", s->host, s->cfg.port);
    set_state(s, CORE_STATE_DISCONNECTED, IBB_OK);
}

coreState coreSession_State(const coreSession *s) { return s ? s->state : CORE_STATE_DISCONNECTED; }
int coreSession_ServerVersion(const coreSession *s) { return s ? s->sv : 0; }
const char *coreSession_ConnectionTime(const coreSession *s) { return s ? s->conn_time : ""; }
const char *coreSession_Accounts(const coreSession *s) { return s && s->accounts ? s->accounts : ""; }
int64_t coreSession_NextOrderId(const coreSession *s) { return s && s->have_next_id ? s->next_order_id : -1; }
int64_t coreSession_ClientId(const coreSession *s) { return s ? s->cfg.client_id : -1; }

int64_t coreSession_TakeOrderId(coreSession *s)
{
    if (!s || s->state != CORE_STATE_READY || !s->have_next_id)
        return -1;
    return s->next_order_id++;
}

void coreSession_GetStats(const coreSession *s, coreSessionStats *out)
{
    if (!out)
        return;
    memset(out, 0, sizeof *out);
    if (!s)
        return;
    *out = s->stats;
    out->dropped_stale = corePacer_Dropped(s->pacer);
    corePacer_Depth(s->pacer, &out->queue_cancel, &out->queue_normal);
}

ibbStatus coreSession_LastError(const coreSession *s, int64_t *ib_code, const char **text)
{
    if (ib_code)
        *ib_code = s ? s->last_ib_code : 0;
    if (text)
        *text = s ? s->last_error_text : "";
    return s ? s->last_error : IBB_ERR_INVALID_ARG;
}
