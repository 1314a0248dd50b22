/* sim_server.c — the gateway side of the socket: listener, connections, handshake, startApi and
 * client-id rules, request dispatch, the 50 msg/s rate limit, and batched output.
 *
 * Output: replies are appended to the connection's ibWriter and written with one uv_write per
 * event-loop callback (sim_flushAll). A write request owns its buffer until its callback. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim.h"

#define SIM_QUEUE_DROP_TICKS (8u << 20)   /* above this, ticks to that client are dropped */
#define SIM_QUEUE_DISCONNECT (64u << 20)  /* above this, the client is disconnected */

typedef struct simWrite { uv_write_t req; char *buf; } simWrite;

/* ---- time ------------------------------------------------------------------------------------- */

uint64_t sim_nowMs(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int64_t sim_epoch(void) { return (int64_t)time(NULL); }

/* Formats epoch with strftime in UTC. */
void sim_formatTime(char *out, size_t cap, int64_t epoch, const char *fmt, bool utc_label)
{
    time_t t = (time_t)epoch;
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t n = strftime(out, cap, fmt, &tm);
    if (utc_label && n + 5 < cap)
        snprintf(out + n, cap - n, " UTC");
}

/* ---- names and counters ------------------------------------------------------------------------ */

const char *sim_requestName(int id)
{
    const char *name = ib_requestName(id); /* one name table: the codec's */
    return strcmp(name, "unknown") == 0 ? NULL : name;
}

void sim_countError(simServer *srv, int code)
{
    for (int i = 0; i < SIM_MAX_ERROR_CODES; i++) {
        if (srv->stat_errors[i].code == code && srv->stat_errors[i].n) {
            srv->stat_errors[i].n++;
            return;
        }
        if (srv->stat_errors[i].n == 0) {
            srv->stat_errors[i].code = code;
            srv->stat_errors[i].n = 1;
            return;
        }
    }
}

/* ---- output ------------------------------------------------------------------------------------ */

void sim_send(simConn *c, const ibReply *r, const ibBar *bars)
{
    if (c->closing)
        return;
    ibbStatus st = ib_encodeReply(&c->out, c->sv, r, bars);
    if (st != IBB_OK) {
        IBB_ERROR("sim.encode_failed", "client=%lld msg=%d status=%s", (long long)c->client_id, (int)r->id,
                  ibbStatus_Name(st));
        c->out.err = IBB_OK;
    }
    if (r->id == IB_MSG_ERROR)
        sim_countError(c->srv, (int)r->u.error.code);
}

void sim_sendError(simConn *c, int64_t id, int code, const char *msg)
{
    ibReply r;
    memset(&r, 0, sizeof r);
    r.id = IB_MSG_ERROR;
    r.u.error.id = id;
    r.u.error.code = code;
    r.u.error.message = msg;
    r.u.error.advanced_order_reject_json = "";
    r.u.error.error_time_ms = (int64_t)sim_epoch() * 1000;
    sim_send(c, &r, NULL);
}

void sim_sendRaw(simConn *c, const void *data, size_t len)
{
    if (c->closing)
        return;
    ibWriter *w = &c->out;
    if (w->len + len > w->cap) {
        size_t cap = w->cap ? w->cap : 256;
        while (cap < w->len + len)
            cap *= 2;
        char *nb = realloc(w->buf, cap);
        if (!nb)
            return;
        w->buf = nb;
        w->cap = cap;
    }
    memcpy(w->buf + w->len, data, len);
    w->len += len;
}

static void on_write(uv_write_t *req, int status)
{
    simWrite *wr = (simWrite *)req;
    if (status < 0 && status != UV_ECANCELED)
        IBB_DEBUG("sim.write_failed", "error=%s", uv_strerror(status));
    free(wr->buf);
    free(wr);
}

bool sim_connCongested(const simConn *c) { return c->tcp.write_queue_size > SIM_QUEUE_DROP_TICKS; }

void sim_flush(simConn *c)
{
    if (c->closing || c->srv->stalled || c->out.len == 0)
        return;
    if (c->tcp.write_queue_size > SIM_QUEUE_DISCONNECT) {
        sim_closeConn(c, false, "slow_consumer");
        return;
    }
    simWrite *wr = malloc(sizeof *wr);
    if (!wr)
        return;
    wr->buf = c->out.buf;
    uv_buf_t b = uv_buf_init(wr->buf, (unsigned)c->out.len);
    c->out.buf = NULL;
    c->out.cap = 0;
    ibWriter_Reset(&c->out);
    int rc = uv_write(&wr->req, (uv_stream_t *)&c->tcp, &b, 1, on_write);
    if (rc < 0) {
        free(wr->buf);
        free(wr);
        sim_closeConn(c, false, "write_error");
    }
}

void sim_flushAll(simServer *srv)
{
    simConn *next;
    for (simConn *c = srv->conns; c; c = next) {
        next = c->next;
        sim_flush(c);
    }
}

/* ---- connection lifetime ----------------------------------------------------------------------- */

simConn *sim_findClient(simServer *srv, int64_t client_id)
{
    for (simConn *c = srv->conns; c; c = c->next)
        if (!c->closing && c->state == SIM_CONN_READY && c->client_id == client_id)
            return c;
    return NULL;
}

static void on_conn_closed(uv_handle_t *h)
{
    simConn *c = h->data;
    simServer *srv = c->srv;
    for (simConn **pp = &srv->conns; *pp; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    }
    srv->n_conns--;
    simConnHist *hh = &srv->conn_hist[c->serial % SIM_CONN_HIST];
    if (hh->serial == c->serial) {
        hh->closed_ms = uv_now(srv->loop);
        hh->client_id = c->client_id;
    }
    ibFramer_Destroy(c->framer);
    ibWriter_Free(&c->out);
    free(c->subs);
    free(c->dsubs);
    free(c->tsubs);
    free(c->rsubs);
    free(c->hsubs);
    free(c->sums);
    free(c->psubs);
    free(c->rate_ring);
    free(c);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    (void)status;
    uv_handle_t *h = (uv_handle_t *)req->handle;
    free(req);
    if (!uv_is_closing(h))
        uv_close(h, on_conn_closed);
}

void sim_closeConn(simConn *c, bool graceful, const char *reason)
{
    if (c->closing)
        return;
    IBB_INFO("sim.disconnect", "peer=%s client=%lld reason=%s", c->peer, (long long)c->client_id, reason);
    if (graceful && !c->srv->stalled)
        sim_flush(c);
    c->closing = true;
    sim_dropConnMarketData(c);
    c->n_hsubs = 0;
    c->n_sums = 0;
    uv_read_stop((uv_stream_t *)&c->tcp);
    if (graceful) {
        uv_shutdown_t *req = malloc(sizeof *req);
        if (req && uv_shutdown(req, (uv_stream_t *)&c->tcp, on_shutdown) == 0)
            return;
        free(req);
    }
    uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

void sim_closeAll(simServer *srv)
{
    simConn *next;
    for (simConn *c = srv->conns; c; c = next) {
        next = c->next;
        sim_closeConn(c, false, "dropped");
    }
}

/* ---- handshake and startApi -------------------------------------------------------------------- */

static void send_handshake(simConn *c, const char *range)
{
    int lo = 0, hi = 0;
    if (ib_parseVersionRange(range, &lo, &hi) != IBB_OK || hi < IB_SV_MIN_CLIENT) {
        IBB_WARN("sim.bad_handshake", "peer=%s text=\"%.40s\"", c->peer, range);
        sim_closeConn(c, false, "bad_handshake");
        return;
    }
    int claim = c->srv->cfg.server_version;
    c->sv = hi < claim ? hi : claim;
    if (c->sv < lo)
        IBB_WARN("sim.version_mismatch", "peer=%s min=%d claim=%d", c->peer, lo, c->sv);
    char when[64];
    sim_formatTime(when, sizeof when, sim_epoch(), "%Y%m%d %H:%M:%S", true);
    ibServerVersion v = { .server_version = c->sv, .connection_time = when };
    ib_encodeServerVersion(&c->out, &v);
    c->state = SIM_CONN_AWAIT_START;
}

static void notice(simConn *c, int code, const char *msg) { sim_sendError(c, -1, code, msg); }

static void handle_start_api(simConn *c, const ibStartApi *s)
{
    simServer *srv = c->srv;
    if (sim_findClient(srv, s->client_id)) {
        sim_sendError(c, -1, 326,
                      "Unable to connect as the client id is already in use. Retry with a unique client id.");
        sim_closeConn(c, true, "client_id_in_use");
        return;
    }
    c->client_id = s->client_id;
    c->state = SIM_CONN_READY;
    IBB_INFO("sim.client_ready", "peer=%s client=%lld sv=%d", c->peer, (long long)c->client_id, c->sv);
    char accts[SIM_MAX_ACCOUNTS * 33];
    ibReply r;
    memset(&r, 0, sizeof r);
    r.id = IB_MSG_MANAGED_ACCOUNTS;
    r.u.managed_accounts.accounts = sim_managedAccounts(srv, accts, sizeof accts);
    sim_send(c, &r, NULL);
    memset(&r, 0, sizeof r);
    r.id = IB_MSG_NEXT_VALID_ID;
    r.u.next_valid_id.order_id = srv->max_order_id + 1;
    sim_send(c, &r, NULL);
    if (srv->md_paused) {
        notice(c, 2103, "Market data farm connection is broken:usfarm");
        notice(c, 2105, "HMDS data farm connection is broken:ushmds");
    } else {
        notice(c, 2104, "Market data farm connection is OK:usfarm");
        notice(c, 2106, "HMDS data farm connection is OK:ushmds");
    }
    notice(c, 2158, "Sec-def data farm connection is OK:secdefnj");
    sim_ordersReplay(c);
}

static void handle_simple(simConn *c, const ibRequest *req)
{
    ibReply r;
    memset(&r, 0, sizeof r);
    char accts[SIM_MAX_ACCOUNTS * 33];
    switch (req->id) {
    case IB_REQ_IDS:
        r.id = IB_MSG_NEXT_VALID_ID;
        r.u.next_valid_id.order_id = c->srv->max_order_id + 1;
        break;
    case IB_REQ_CURRENT_TIME:
        r.id = IB_MSG_CURRENT_TIME;
        r.u.current_time.time = sim_epoch();
        break;
    case IB_REQ_MANAGED_ACCTS:
        r.id = IB_MSG_MANAGED_ACCOUNTS;
        r.u.managed_accounts.accounts = sim_managedAccounts(c->srv, accts, sizeof accts);
        break;
    default:
        return;
    }
    sim_send(c, &r, NULL);
}

static void dispatch(simConn *c, const ibRequest *req)
{
    switch (req->id) {
    case IB_REQ_IDS:
    case IB_REQ_CURRENT_TIME:
    case IB_REQ_MANAGED_ACCTS: handle_simple(c, req); break;
    case IB_REQ_MKT_DATA: sim_handleMktData(c, &req->u.mkt_data); break;
    case IB_REQ_CANCEL_MKT_DATA: sim_handleCancelMktData(c, req->u.cancel.req_id); break;
    case IB_REQ_MARKET_DATA_TYPE:
        sim_handleMarketDataType(c, req->u.market_data_type.market_data_type);
        break;
    case IB_REQ_CONTRACT_DETAILS: sim_handleContractDetails(c, &req->u.contract_details); break;
    case IB_REQ_HISTORICAL_DATA: sim_handleHistorical(c, &req->u.historical); break;
    case IB_REQ_CANCEL_HISTORICAL_DATA: sim_handleCancelHistorical(c, req->u.cancel.req_id); break;
    case IB_REQ_PLACE_ORDER: sim_handlePlaceOrder(c, &req->u.place_order); break;
    case IB_REQ_CANCEL_ORDER: sim_handleCancelOrder(c, &req->u.cancel_order); break;
    case IB_REQ_GLOBAL_CANCEL: sim_handleGlobalCancel(c); break;
    case IB_REQ_OPEN_ORDERS: sim_handleOpenOrders(c, false); break;
    case IB_REQ_ALL_OPEN_ORDERS: sim_handleOpenOrders(c, true); break;
    case IB_REQ_AUTO_OPEN_ORDERS:
        if (c->client_id != 0)
            sim_sendError(c, -1, 327, "Only API connections with clientId set to 0 can set the auto bind "
                                      "TWS orders property.");
        break;
    case IB_REQ_EXECUTIONS: sim_handleExecutions(c, &req->u.executions); break;
    case IB_REQ_COMPLETED_ORDERS: sim_handleCompletedOrders(c, req->u.api_only); break;
    case IB_REQ_POSITIONS: sim_handlePositions(c); break;
    case IB_REQ_CANCEL_POSITIONS: sim_handleCancelPositions(c); break;
    case IB_REQ_ACCOUNT_SUMMARY: sim_handleAccountSummary(c, &req->u.account_summary); break;
    case IB_REQ_CANCEL_ACCOUNT_SUMMARY: sim_handleCancelAccountSummary(c, req->u.cancel.req_id); break;
    case IB_REQ_ACCOUNT_UPDATES: sim_handleAccountUpdates(c, &req->u.account_updates); break;
    case IB_REQ_START_API: break; /* a second startApi is ignored, as TWS does */
    case IB_REQ_MKT_DEPTH: sim_handleMktDepth(c, &req->u.mkt_depth); break;
    case IB_REQ_CANCEL_MKT_DEPTH: sim_handleCancelMktDepth(c, req->u.cancel_mkt_depth.req_id); break;
    case IB_REQ_TICK_BY_TICK: sim_handleTickByTick(c, &req->u.tick_by_tick); break;
    case IB_REQ_CANCEL_TICK_BY_TICK: sim_handleCancelTickByTick(c, req->u.cancel.req_id); break;
    case IB_REQ_REAL_TIME_BARS: sim_handleRealTimeBars(c, &req->u.real_time_bars); break;
    case IB_REQ_CANCEL_REAL_TIME_BARS: sim_handleCancelRealTimeBars(c, req->u.cancel.req_id); break;
    case IB_REQ_SEC_DEF_OPT_PARAMS: sim_handleSecDefOptParams(c, &req->u.sec_def_opt_params); break;
    case IB_REQ_MATCHING_SYMBOLS: sim_handleMatchingSymbols(c, &req->u.matching_symbols); break;
    case IB_REQ_SCANNER_PARAMETERS: sim_handleScannerParams(c); break;
    case IB_REQ_SCANNER_SUBSCRIPTION: sim_handleScanner(c, &req->u.scanner); break;
    case IB_REQ_CANCEL_SCANNER_SUBSCRIPTION: sim_handleCancelScanner(c, req->u.cancel.req_id); break;
    default: sim_pnlDispatch(c, req); break;   /* P&L and the multi-account subscriptions */
    }
}

/* ---- rate limit -------------------------------------------------------------------------------- */

/* True when the connection must be dropped. */
static bool rate_check(simConn *c)
{
    int limit = c->srv->cfg.rate_limit;
    if (limit <= 0)
        return false;
    uint64_t now = sim_nowMs();
    bool exceeded = c->rate_fill >= limit && now - c->rate_ring[c->rate_pos] < 1000;
    c->rate_ring[c->rate_pos] = now;
    c->rate_pos = (c->rate_pos + 1) % limit;
    if (c->rate_fill < limit)
        c->rate_fill++;
    if (!exceeded || now - c->last_violation_ms < 1000)
        return false;
    c->last_violation_ms = now;
    char msg[96];
    snprintf(msg, sizeof msg, "Max rate of messages per second has been exceeded:max=%d rec=%d (1)", limit,
             limit + 1);
    sim_sendError(c, -1, 100, msg);
    /* keep the violations of the last 10 s */
    int k = 0;
    for (int i = 0; i < c->n_strikes; i++)
        if (now - c->strikes[i] < 10000)
            c->strikes[k++] = c->strikes[i];
    c->n_strikes = k;
    if (c->n_strikes < 8)
        c->strikes[c->n_strikes++] = now;
    return c->n_strikes >= c->srv->cfg.rate_strikes;
}

/* ---- reading ----------------------------------------------------------------------------------- */

static void handle_payload(simConn *c, const char *payload, size_t len)
{
    simServer *srv = c->srv;
    ibRequest req;
    ibbStatus st = ib_decodeRequest(c->sv, payload, len, &req);
    if (c->state == SIM_CONN_AWAIT_START && !(st == IBB_OK && req.id == IB_REQ_START_API)) {
        IBB_WARN("sim.before_start_api", "peer=%s msg=%d", c->peer, (int)req.id);
        return;
    }
    int idx = (st == IBB_OK || st == IBB_ERR_UNKNOWN_MSG) && req.id > 0 && req.id < SIM_REQ_NAMES
                  ? (int)req.id : SIM_REQ_NAMES;
    srv->stat_requests[idx]++;
    simConnHist *h = &srv->conn_hist[c->serial % SIM_CONN_HIST];
    if (h->serial == c->serial) {
        h->msgs++;
        h->last_msg_ms = uv_now(srv->loop);
    }
    if (c->state == SIM_CONN_READY && rate_check(c)) {
        sim_closeConn(c, true, "rate_limit");
        return;
    }
    if (st == IBB_ERR_UNKNOWN_MSG) {
        IBB_INFO("sim.unsupported_request", "client=%lld msg=%d", (long long)c->client_id, (int)req.id);
        return;
    }
    if (st != IBB_OK) {
        /* TWS answers a malformed request with 321 and keeps the session. */
        srv->stat_decode_errors++;
        char msg[160];
        snprintf(msg, sizeof msg, "Error validating request.-'%s' : cause - malformed message (%s)",
                 sim_requestName(req.id) ? sim_requestName(req.id) : "?", ibbStatus_Name(st));
        IBB_WARN("sim.bad_request", "client=%lld msg=%d status=%s", (long long)c->client_id, (int)req.id,
                 ibbStatus_Name(st));
        sim_sendError(c, -1, 321, msg);
        return;
    }
    if (req.id == IB_REQ_START_API && c->state == SIM_CONN_AWAIT_START) {
        handle_start_api(c, &req.u.start_api);
        return;
    }
    if (sim_injectCheck(c, &req))
        return;
    dispatch(c, &req);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    size_t n = suggested < 65536 ? 65536 : suggested;
    buf->base = malloc(n);
    buf->len = buf->base ? n : 0;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    simConn *c = s->data;
    if (nread < 0) {
        free(buf->base);
        sim_closeConn(c, false, nread == UV_EOF ? "eof" : uv_strerror((int)nread));
        return;
    }
    if (nread == 0 || c->closing) {
        free(buf->base);
        return;
    }
    simConnHist *h = &c->srv->conn_hist[c->serial % SIM_CONN_HIST];
    if (h->serial == c->serial)
        h->bytes += (uint64_t)nread;
    ibbStatus st = ibFramer_Feed(c->framer, buf->base, (size_t)nread);
    free(buf->base);
    while (st == IBB_OK && !c->closing) {
        const char *payload;
        size_t len;
        bool hs = false;
        st = ibFramer_Next(c->framer, &payload, &len, &hs);
        if (st != IBB_OK)
            break;
        if (hs)
            send_handshake(c, payload);
        else
            handle_payload(c, payload, len);
    }
    if (st != IBB_OK && st != IBB_NEED_MORE && !c->closing) {
        IBB_WARN("sim.bad_frame", "peer=%s status=%s", c->peer, ibbStatus_Name(st));
        sim_closeConn(c, false, "bad_frame");
    }
    sim_flushAll(c->srv);
}

static void on_connection(uv_stream_t *server, int status)
{
    simServer *srv = server->data;
    if (status < 0)
        return;
    simConn *c = calloc(1, sizeof *c);
    if (!c)
        return;
    c->srv = srv;
    c->serial = ++srv->conn_serial;
    c->client_id = -1;
    c->md_type = 1;
    ibWriter_Init(&c->out);
    uv_tcp_init(srv->loop, &c->tcp);
    c->tcp.data = c;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0 ||
        ibFramer_Create(&c->framer, IB_FRAMER_SERVER) != IBB_OK ||
        !(c->rate_ring =
              calloc((size_t)(srv->cfg.rate_limit > 0 ? srv->cfg.rate_limit : 1), sizeof(uint64_t)))) {
        ibFramer_Destroy(c->framer);
        c->framer = NULL;
        c->next = srv->conns;
        srv->conns = c;
        srv->n_conns++;
        c->closing = true;
        uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
        return;
    }
    struct sockaddr_storage sa;
    int salen = sizeof sa;
    snprintf(c->peer, sizeof c->peer, "?");
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&sa, &salen) == 0 && sa.ss_family == AF_INET) {
        char ip[32];
        uv_ip4_name((struct sockaddr_in *)&sa, ip, sizeof ip);
        snprintf(c->peer, sizeof c->peer, "%s:%d", ip, ntohs(((struct sockaddr_in *)&sa)->sin_port));
    }
    uv_tcp_nodelay(&c->tcp, 1);
    simConnHist *h = &srv->conn_hist[c->serial % SIM_CONN_HIST];
    memset(h, 0, sizeof *h);
    h->serial = c->serial;
    h->client_id = -1;
    snprintf(h->peer, sizeof h->peer, "%s", c->peer);
    h->opened_ms = uv_now(srv->loop);
    c->next = srv->conns;
    srv->conns = c;
    srv->n_conns++;
    srv->stat_connections++;
    int live = 0;
    for (simConn *o = srv->conns; o; o = o->next)
        live += !o->closing;
    if (live > srv->cfg.max_clients) {
        /* The gateway refuses the 33rd client by closing (clients report 502). */
        srv->stat_rejected_clients++;
        sim_closeConn(c, false, "max_clients");
        return;
    }
    IBB_INFO("sim.accept", "peer=%s", c->peer);
    if (!srv->stalled)
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

/* ---- listener ---------------------------------------------------------------------------------- */

ibbStatus sim_listen(simServer *srv)
{
    struct sockaddr_in addr;
    if (uv_ip4_addr(srv->cfg.host, srv->bound_port, &addr) != 0)
        return IBB_ERR_CONFIG;
    uv_tcp_init(srv->loop, &srv->listener);
    srv->listener.data = srv;
    int rc = uv_tcp_bind(&srv->listener, (const struct sockaddr *)&addr, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&srv->listener, 64, on_connection);
    if (rc != 0) {
        IBB_ERROR("sim.listen_failed", "host=%s port=%d error=%s", srv->cfg.host, srv->bound_port,
                  uv_strerror(rc));
        uv_close((uv_handle_t *)&srv->listener, NULL);
        return IBB_ERR_IO;
    }
    struct sockaddr_storage sa;
    int salen = sizeof sa;
    if (uv_tcp_getsockname(&srv->listener, (struct sockaddr *)&sa, &salen) == 0)
        srv->bound_port = ntohs(((struct sockaddr_in *)&sa)->sin_port);
    srv->listening = true;
    IBB_INFO("sim.listening", "host=%s port=%d", srv->cfg.host, srv->bound_port);
    return IBB_OK;
}

void sim_closeListener(simServer *srv)
{
    if (!srv->listening)
        return;
    srv->listening = false;
    uv_close((uv_handle_t *)&srv->listener, NULL);
}

/* ---- stall ------------------------------------------------------------------------------------- */

static void on_stall_end(uv_timer_t *t)
{
    simServer *srv = t->data;
    srv->stalled = false;
    IBB_INFO("sim.stall_end", NULL);
    for (simConn *c = srv->conns; c; c = c->next)
        if (!c->closing)
            uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    sim_flushAll(srv);
}

void sim_stall(simServer *srv, int secs)
{
    srv->stalled = true;
    IBB_INFO("sim.stall", "secs=%d", secs);
    for (simConn *c = srv->conns; c; c = c->next)
        if (!c->closing)
            uv_read_stop((uv_stream_t *)&c->tcp);
    uv_timer_start(&srv->stall_timer, on_stall_end, (uint64_t)secs * 1000u, 0);
}

ibbStatus sim_serverStart(simServer *srv)
{
    srv->bound_port = srv->cfg.port;
    uv_timer_init(srv->loop, &srv->restart_timer);
    uv_timer_init(srv->loop, &srv->stall_timer);
    srv->restart_timer.data = srv;
    srv->stall_timer.data = srv;
    return sim_listen(srv);
}
