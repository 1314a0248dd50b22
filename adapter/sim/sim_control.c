/* sim_control.c — the control port: a line-based TCP channel for fault injection and counters.
 *
 *   stats                      one line of JSON counters
 *   drop                       close every client connection now
 *   restart <secs>             close every connection and the listener; listen again after secs
 *   reset <1101|1102> <secs>   nightly reset: 1100 + farms broken, market data paused, then
 *                              1101 (subscriptions dropped) or 1102 (kept) + farms OK
 *   stall <secs>               stop reading and writing every connection for secs
 *   garbage [frame|length|fields]  send a malformed frame to every client
 *   inject <code> <request>    answer the next <request> (name like reqHistoricalData, or its
 *                              numeric id) with error <code> instead; "inject clear" forgets all
 *   newday [keep-completed]    the next trading day, as IB Gateway shows it after its nightly
 *                              restart: executions forgotten, non-GTC working orders cancelled
 *                              silently and forgotten, completed orders forgotten (kept with
 *                              keep-completed); ids keep counting; connections are not touched
 *   execs [since-epoch-s]      the ids of ib-sim's executions (at or after the time), comma-separated
 *   scan <scan code>           ib-sim's own ranking for a scanner scan code: symbols, comma-separated
 *   depthreset                 error 317 on every market-depth subscription, then its book again
 *   depthbook <symbol> [rows]  ib-sim's book of a symbol with depth subscribers, as JSON
 *                              from inserts (PROTOCOL.md §3.12)
 *   help, quit
 * Every command answers one line starting with "ok" or "error". */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sim.h"

#define CTRL_LINE_MAX 512

typedef struct ctrlConn {
    uv_tcp_t tcp;
    simServer *srv;
    char line[CTRL_LINE_MAX];
    size_t len;
} ctrlConn;

typedef struct ctrlWrite { uv_write_t req; char *buf; } ctrlWrite;

static void on_ctrl_write(uv_write_t *req, int status)
{
    (void)status;
    ctrlWrite *w = (ctrlWrite *)req;
    free(w->buf);
    free(w);
}

static void reply(ctrlConn *cc, const char *text)
{
    size_t n = strlen(text);
    ctrlWrite *w = malloc(sizeof *w);
    char *buf = malloc(n + 1);
    if (!w || !buf) {
        free(w);
        free(buf);
        return;
    }
    memcpy(buf, text, n);
    buf[n] = '\n';
    w->buf = buf;
    uv_buf_t b = uv_buf_init(buf, (unsigned)n + 1);
    if (uv_write(&w->req, (uv_stream_t *)&cc->tcp, &b, 1, on_ctrl_write) != 0) {
        free(buf);
        free(w);
    }
}

/* ---- JSON counters ------------------------------------------------------------------------------ */

typedef struct jbuf { char *p; size_t len, cap; } jbuf;

static void jcat(jbuf *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void jcat(jbuf *j, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(j->p + j->len, j->cap - j->len, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if (j->len + (size_t)n < j->cap) {
            j->len += (size_t)n;
            return;
        }
        size_t cap = j->cap * 2 + (size_t)n;
        char *np = realloc(j->p, cap);
        if (!np)
            return;
        j->p = np;
        j->cap = cap;
    }
}

static char *stats_json(simServer *srv)
{
    jbuf j = { malloc(1024), 0, 1024 };
    if (!j.p)
        return NULL;
    int live = 0;
    for (simConn *c = srv->conns; c; c = c->next)
        live += !c->closing;
    jcat(&j, "{\"connections\":%d,\"connections_total\":%llu,\"rejected_clients\":%llu,\"clients\":[", live,
         (unsigned long long)srv->stat_connections, (unsigned long long)srv->stat_rejected_clients);
    bool first = true;
    for (simConn *c = srv->conns; c; c = c->next) {
        if (c->closing || c->state != SIM_CONN_READY)
            continue;
        jcat(&j, "%s%lld", first ? "" : ",", (long long)c->client_id);
        first = false;
    }
    jcat(&j, "],\"conns\":[");
    first = true;
    uint64_t from = srv->conn_serial > SIM_CONN_HIST ? srv->conn_serial - SIM_CONN_HIST + 1 : 1;
    for (uint64_t s = from; s <= srv->conn_serial; s++) {
        const simConnHist *h = &srv->conn_hist[s % SIM_CONN_HIST];
        if (h->serial != s)
            continue;
        int64_t cid = h->client_id;
        for (simConn *c = srv->conns; c; c = c->next)
            if (c->serial == s)
                cid = c->client_id;
        jcat(&j,
             "%s{\"serial\":%llu,\"client_id\":%lld,\"peer\":\"%s\",\"msgs\":%llu,\"bytes\":%llu,"
             "\"opened_ms\":%llu,\"last_msg_ms\":%llu,\"closed_ms\":%llu}",
             first ? "" : ",", (unsigned long long)s, (long long)cid, h->peer, (unsigned long long)h->msgs,
             (unsigned long long)h->bytes, (unsigned long long)h->opened_ms, (unsigned long long)h->last_msg_ms,
             (unsigned long long)h->closed_ms);
        first = false;
    }
    jcat(&j, "],\"requests\":{");
    first = true;
    for (int i = 0; i <= SIM_REQ_NAMES; i++) {
        if (!srv->stat_requests[i])
            continue;
        const char *name = i < SIM_REQ_NAMES ? sim_requestName(i) : NULL;
        if (name)
            jcat(&j, "%s\"%s\":%llu", first ? "" : ",", name, (unsigned long long)srv->stat_requests[i]);
        else
            jcat(&j, "%s\"%s%d\":%llu", first ? "" : ",", i < SIM_REQ_NAMES ? "msg" : "malformed",
                 i < SIM_REQ_NAMES ? i : 0, (unsigned long long)srv->stat_requests[i]);
        first = false;
    }
    jcat(&j, "},\"market_data_lines\":%d,\"max_lines\":%d,\"errors\":{", sim_linesInUse(srv),
         srv->cfg.max_lines);
    first = true;
    for (int i = 0; i < SIM_MAX_ERROR_CODES && srv->stat_errors[i].n; i++) {
        jcat(&j, "%s\"%d\":%llu", first ? "" : ",", srv->stat_errors[i].code,
             (unsigned long long)srv->stat_errors[i].n);
        first = false;
    }
    int working = 0, completed = 0;
    for (int i = 0; i < srv->n_orders; i++) {
        const simOrder *o = &srv->orders[i];
        working += o->working;
        completed += !o->forgotten && !o->working && o->completed_time[0] != '\0';
    }
    jcat(&j,
         "},\"orders\":%llu,\"working_orders\":%d,\"completed_orders\":%d,\"executions\":%d,"
         "\"fills\":%llu,\"ticks\":%llu,\"ticks_dropped\":%llu,"
         "\"historical_requests\":%llu,\"decode_errors\":%llu,\"listening\":%s,\"market_data_paused\":%s,"
         "\"stalled\":%s,\"server_version\":%d,\"port\":%d,",
         (unsigned long long)srv->stat_orders, working, completed, srv->n_execs,
         (unsigned long long)srv->stat_fills,
         (unsigned long long)srv->stat_ticks, (unsigned long long)srv->stat_ticks_dropped,
         (unsigned long long)srv->stat_hist_requests, (unsigned long long)srv->stat_decode_errors,
         srv->listening ? "true" : "false", srv->md_paused ? "true" : "false",
         srv->stalled ? "true" : "false", srv->cfg.server_version, srv->bound_port);
    jcat(&j,
         "\"depth_subscriptions\":%d,\"max_depth\":%d,\"depth_ops\":%llu,\"depth_resets\":%llu,"
         "\"tick_by_tick_subscriptions\":%d,\"max_tick_by_tick\":%d,\"tick_by_tick_events\":%llu,"
         "\"real_time_bar_subscriptions\":%d,\"real_time_bars\":%llu,",
         sim_depthInUse(srv), srv->cfg.max_depth, (unsigned long long)srv->stat_depth_ops,
         (unsigned long long)srv->stat_depth_resets, sim_tickByTickInUse(srv), srv->cfg.max_tick_by_tick,
         (unsigned long long)srv->stat_tbt_events, sim_realTimeBarsInUse(srv),
         (unsigned long long)srv->stat_rt_bars);
    jcat(&j, "\"matching_symbols_min_gap_ms\":%lld,\"previews\":%llu}",
         srv->match_min_gap_ms ? (long long)srv->match_min_gap_ms : -1LL,
         (unsigned long long)srv->stat_previews);
    return j.p;
}

/* ---- faults ------------------------------------------------------------------------------------- */

static void notice_all(simServer *srv, int code, const char *msg)
{
    for (simConn *c = srv->conns; c; c = c->next)
        if (!c->closing && c->state == SIM_CONN_READY)
            sim_sendError(c, -1, code, msg);
}

static void on_restart_timer(uv_timer_t *t)
{
    simServer *srv = t->data;
    if (sim_listen(srv) != IBB_OK) {
        IBB_WARN("sim.restart_retry", "port=%d", srv->bound_port);
        uv_timer_start(&srv->restart_timer, on_restart_timer, 500, 0);
        return;
    }
    IBB_INFO("sim.restarted", "port=%d", srv->bound_port);
}

static void on_reset_end(uv_timer_t *t)
{
    simServer *srv = t->data;
    if (srv->reset_code == 1101) {
        sim_dropAllMarketData(srv);
        for (simConn *c = srv->conns; c; c = c->next)
            c->n_hsubs = 0;
        notice_all(srv, 1101,
                   "Connectivity between IB and Trader Workstation has been restored - data lost.");
    } else {
        notice_all(srv, 1102,
                   "Connectivity between IB and Trader Workstation has been restored - data maintained. "
                   "All data farms are connected: usfarm; ushmds; secdefnj.");
    }
    notice_all(srv, 2104, "Market data farm connection is OK:usfarm");
    notice_all(srv, 2106, "HMDS data farm connection is OK:ushmds");
    srv->md_paused = false;
    IBB_INFO("sim.reset_end", "code=%d", srv->reset_code);
    sim_flushAll(srv);
}

static void garbage(simServer *srv, const char *kind)
{
    for (simConn *c = srv->conns; c; c = c->next) {
        if (c->closing || c->state != SIM_CONN_READY)
            continue;
        if (kind && !strcmp(kind, "length")) {
            static const char big[] = "\x7f\xff\xff\xff" "1\0";
            sim_sendRaw(c, big, sizeof big - 1);
        } else if (kind && !strcmp(kind, "fields")) {
            static const char bad[] = "\0\0\0\x0a" "1\0" "6\0" "x\0" "y\0" "z\0";
            sim_sendRaw(c, bad, sizeof bad - 1);
        } else {
            static const char bad[] = "\0\0\0\x08" "\x01\x02garb!";  /* no NUL terminator, no id */
            sim_sendRaw(c, bad, sizeof bad - 1);
        }
    }
    sim_flushAll(srv);
}

static int parse_request(const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s && !*end)
        return v > 0 && v < SIM_REQ_NAMES ? (int)v : -1;
    for (int i = 1; i < SIM_REQ_NAMES; i++)
        if (sim_requestName(i) && !strcasecmp(sim_requestName(i), s))
            return i;
    return -1;
}

static const char *inject_text(int code)
{
    switch (code) {
    case 100: return "Max rate of messages per second has been exceeded.";
    case 101: return "Max number of tickers has been reached";
    case 162: return "Historical Market Data Service error message:Historical data request pacing violation";
    case 165: return "Historical Market Data Service query message:HMDS server connection was successful";
    case 200: return "No security definition has been found for the request";
    case 201: return "Order rejected - reason:Simulated rejection (ib-sim inject)";
    case 322: return "Error processing request.-'bW' : cause - simulated server error";
    case 354: return "Requested market data is not subscribed.";
    case 10167: return "Requested market data is not subscribed. Displaying delayed market data.";
    case 10168: return "Requested market data is not subscribed. Delayed market data is not enabled.";
    case 10197: return "No market data during competing live session";
    default: return "Simulated error (ib-sim inject)";
    }
}

bool sim_injectCheck(simConn *c, const ibRequest *req)
{
    simServer *srv = c->srv;
    for (int i = 0; i < srv->n_inject; i++) {
        if (srv->inject[i].req_type != (int)req->id)
            continue;
        int code = srv->inject[i].code;
        srv->inject[i] = srv->inject[--srv->n_inject];
        int64_t id = -1;
        switch (req->id) {
        case IB_REQ_MKT_DATA: id = req->u.mkt_data.req_id; break;
        case IB_REQ_HISTORICAL_DATA: id = req->u.historical.req_id; break;
        case IB_REQ_CONTRACT_DETAILS: id = req->u.contract_details.req_id; break;
        case IB_REQ_EXECUTIONS: id = req->u.executions.req_id; break;
        case IB_REQ_ACCOUNT_SUMMARY: id = req->u.account_summary.req_id; break;
        case IB_REQ_PLACE_ORDER: id = req->u.place_order.order.order_id; break;
        case IB_REQ_CANCEL_ORDER: id = req->u.cancel_order.order_id; break;
        case IB_REQ_MKT_DEPTH: id = req->u.mkt_depth.req_id; break;
        case IB_REQ_TICK_BY_TICK: id = req->u.tick_by_tick.req_id; break;
        case IB_REQ_REAL_TIME_BARS: id = req->u.real_time_bars.req_id; break;
        case IB_REQ_SEC_DEF_OPT_PARAMS: id = req->u.sec_def_opt_params.req_id; break;
        case IB_REQ_CANCEL_TICK_BY_TICK: case IB_REQ_CANCEL_REAL_TIME_BARS: id = req->u.cancel.req_id; break;
        case IB_REQ_CANCEL_MKT_DEPTH: id = req->u.cancel_mkt_depth.req_id; break;
        case IB_REQ_CANCEL_MKT_DATA: case IB_REQ_CANCEL_HISTORICAL_DATA: case IB_REQ_CANCEL_ACCOUNT_SUMMARY:
            id = req->u.cancel.req_id; break;
        default: break;
        }
        IBB_INFO("sim.injected", "code=%d request=%s id=%lld", code, sim_requestName(req->id), (long long)id);
        sim_sendError(c, id, code, inject_text(code));
        return true;
    }
    return false;
}

/* `pnl`: every account's P&L and its positions' (sim_accountPnl / sim_positionPnl), unset as null. */
static void jnum(jbuf *j, const char *key, double v)
{
    if (ib_isUnsetDouble(v))
        jcat(j, "\"%s\":null", key);
    else
        jcat(j, "\"%s\":%.2f", key, v);
}

static char *pnl_json(simServer *srv)
{
    jbuf j = { malloc(1024), 0, 1024 };
    if (!j.p)
        return NULL;
    jcat(&j, "{");
    for (int k = 0; k < srv->n_accounts; k++) {
        const simAccount *a = &srv->accounts[k];
        simPnl v;
        sim_accountPnl(srv, a, &v);
        jcat(&j, "%s\"%s\":{", k ? "," : "", a->id);
        jnum(&j, "daily", v.daily);
        jcat(&j, ",");
        jnum(&j, "unrealized", v.unrealized);
        jcat(&j, ",");
        jnum(&j, "realized", v.realized);
        jcat(&j, ",\"positions\":{");
        for (int i = 0; i < a->n_pos; i++) {
            const simInstrument *in = &srv->insts[a->pos[i].inst];
            sim_positionPnl(srv, a, a->pos[i].inst, &v);
            jcat(&j, "%s\"%lld\":{\"symbol\":\"%s\",\"position\":%g,", i ? "," : "", (long long)in->con_id,
                 in->symbol, v.position);
            jnum(&j, "daily", v.daily);
            jcat(&j, ",");
            jnum(&j, "unrealized", v.unrealized);
            jcat(&j, ",");
            jnum(&j, "realized", v.realized);
            jcat(&j, ",");
            jnum(&j, "value", v.value);
            jcat(&j, "}");
        }
        jcat(&j, "}}");
    }
    jcat(&j, "}");
    return j.p;
}

/* ---- commands ----------------------------------------------------------------------------------- */

static int arg_secs(const char *s, int dflt)
{
    if (!s)
        return dflt;
    int v = atoi(s);
    return v < 0 ? 0 : (v > 86400 ? 86400 : v);
}

/* `execs [since]` and `scan <code>`: what ib-sim itself holds, for tests to compare ib-bridge with. */
static void discovery_command(ctrlConn *cc, const char *cmd, const char *arg)
{
    simServer *srv = cc->srv;
    jbuf j = { malloc(256), 0, 256 };
    if (!j.p) {
        reply(cc, "error out of memory");
        return;
    }
    jcat(&j, "ok ");
    if (!strcasecmp(cmd, "execs")) {
        long long since = arg ? atoll(arg) : 0;
        for (int i = 0, k = 0; i < srv->n_execs; i++)
            if (srv->execs[i].epoch >= since)
                jcat(&j, "%s%s", k++ ? "," : "", srv->execs[i].exec_id);
    } else {
        int ranked[50];
        const double none = IB_UNSET_DOUBLE;
        int n = sim_scanRank(srv, arg ? arg : "", none, none, none, ranked, 50);
        if (n < 0) {
            free(j.p);
            reply(cc, "error unknown scan code");
            return;
        }
        for (int i = 0; i < n; i++)
            jcat(&j, "%s%s", i ? "," : "", srv->insts[ranked[i]].symbol);
    }
    reply(cc, j.p);
    free(j.p);
}

static void command(ctrlConn *cc, char *line)
{
    simServer *srv = cc->srv;
    char *argv[4] = { 0 };
    int argc = 0;
    for (char *tok = strtok(line, " \t\r"); tok && argc < 4; tok = strtok(NULL, " \t\r"))
        argv[argc++] = tok;
    if (argc == 0)
        return;
    char msg[160];
    const char *cmd = argv[0];
    if (!strcasecmp(cmd, "stats")) {
        char *js = stats_json(srv);
        reply(cc, js ? js : "error out of memory");
        free(js);
    } else if (!strcasecmp(cmd, "pnl")) {
        char *js = pnl_json(srv);
        reply(cc, js ? js : "error out of memory");
        free(js);
    } else if (!strcasecmp(cmd, "drop")) {
        int n = srv->n_conns;
        sim_closeAll(srv);
        snprintf(msg, sizeof msg, "ok dropped %d", n);
        reply(cc, msg);
    } else if (!strcasecmp(cmd, "restart")) {
        int secs = arg_secs(argv[1], 5);
        sim_closeAll(srv);
        sim_closeListener(srv);
        uv_timer_start(&srv->restart_timer, on_restart_timer, (uint64_t)secs * 1000u + 1, 0);
        IBB_INFO("sim.restart", "secs=%d", secs);
        snprintf(msg, sizeof msg, "ok restart %d", secs);
        reply(cc, msg);
    } else if (!strcasecmp(cmd, "reset")) {
        int code = argv[1] ? atoi(argv[1]) : 1102;
        if (code != 1101 && code != 1102) {
            reply(cc, "error usage: reset <1101|1102> <secs>");
            return;
        }
        int secs = arg_secs(argv[2], 5);
        srv->reset_code = code;
        srv->md_paused = true;
        notice_all(srv, 1100, "Connectivity between IB and Trader Workstation has been lost.");
        notice_all(srv, 2103, "Market data farm connection is broken:usfarm");
        notice_all(srv, 2105, "HMDS data farm connection is broken:ushmds");
        sim_flushAll(srv);
        uv_timer_start(&srv->reset_timer, on_reset_end, (uint64_t)secs * 1000u + 1, 0);
        IBB_INFO("sim.reset", "code=%d secs=%d", code, secs);
        snprintf(msg, sizeof msg, "ok reset %d %d", code, secs);
        reply(cc, msg);
    } else if (!strcasecmp(cmd, "stall")) {
        int secs = arg_secs(argv[1], 5);
        sim_stall(srv, secs);
        snprintf(msg, sizeof msg, "ok stall %d", secs);
        reply(cc, msg);
    } else if (!strcasecmp(cmd, "garbage")) {
        garbage(srv, argv[1]);
        reply(cc, "ok garbage");
    } else if (!strcasecmp(cmd, "inject")) {
        if (argv[1] && !strcasecmp(argv[1], "clear")) {
            srv->n_inject = 0;
            reply(cc, "ok cleared");
            return;
        }
        int code = argv[1] ? atoi(argv[1]) : 0;
        int req = argv[2] ? parse_request(argv[2]) : -1;
        if (code <= 0 || req < 0) {
            reply(cc, "error usage: inject <code> <request name or id>");
            return;
        }
        if (srv->n_inject >= SIM_MAX_INJECT) {
            reply(cc, "error too many pending injections");
            return;
        }
        srv->inject[srv->n_inject++] = (simInject){ code, req };
        snprintf(msg, sizeof msg, "ok inject %d %s", code, sim_requestName(req));
        reply(cc, msg);
    } else if (!strcasecmp(cmd, "newday")) {
        bool keep = argv[1] && !strcasecmp(argv[1], "keep-completed");
        if (argv[1] && !keep) {
            reply(cc, "error usage: newday [keep-completed]");
            return;
        }
        int orders, execs, working, kept;
        sim_ordersNewDay(srv, keep, &orders, &execs, &working, &kept);
        snprintf(msg, sizeof msg,
                 "ok newday forgot_orders=%d forgot_executions=%d kept_working=%d kept_completed=%d",
                 orders, execs, working, kept);
        reply(cc, msg);
    } else if (!strcasecmp(cmd, "execs") || !strcasecmp(cmd, "scan")) {
        discovery_command(cc, cmd, argv[1]);
    } else if (!strcasecmp(cmd, "depthreset")) {
        snprintf(msg, sizeof msg, "ok depthreset %d", sim_depthReset(srv));
        reply(cc, msg);
    } else if (!strcasecmp(cmd, "depthbook")) {
        char book[8192];
        if (!argv[1] || sim_depthDump(srv, argv[1], argv[2] ? atoi(argv[2]) : 10, book, sizeof book) != 0) {
            reply(cc, "error usage: depthbook <symbol with a depth subscription> [rows]");
            return;
        }
        char line[8200];
        snprintf(line, sizeof line, "ok %s", book);
        reply(cc, line);
    } else if (!strcasecmp(cmd, "help")) {
        reply(cc, "ok commands: stats | drop | restart <secs> | reset <1101|1102> <secs> | stall <secs> | "
                  "garbage [frame|length|fields] | inject <code> <request> | inject clear | "
                  "newday [keep-completed] | execs [since] | scan <code> | depthreset | depthbook <symbol> [rows] | "
                  "pnl | quit");
    } else if (!strcasecmp(cmd, "quit")) {
        reply(cc, "ok bye");
        uv_close((uv_handle_t *)&cc->tcp, (uv_close_cb)free);
    } else {
        snprintf(msg, sizeof msg, "error unknown command '%.40s' (try help)", cmd);
        reply(cc, msg);
    }
}

static void on_ctrl_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    buf->base = malloc(4096);
    buf->len = buf->base ? 4096 : 0;
}

static void on_ctrl_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    ctrlConn *cc = s->data;
    if (nread < 0) {
        free(buf->base);
        if (!uv_is_closing((uv_handle_t *)s))
            uv_close((uv_handle_t *)s, (uv_close_cb)free);
        return;
    }
    for (ssize_t i = 0; i < nread && !uv_is_closing((uv_handle_t *)s); i++) {
        char ch = buf->base[i];
        if (ch == '\n') {
            cc->line[cc->len] = '\0';
            cc->len = 0;
            command(cc, cc->line);
        } else if (cc->len + 1 < CTRL_LINE_MAX) {
            cc->line[cc->len++] = ch;
        }
    }
    free(buf->base);
}

static void on_ctrl_connection(uv_stream_t *server, int status)
{
    if (status < 0)
        return;
    ctrlConn *cc = calloc(1, sizeof *cc);
    if (!cc)
        return;
    cc->srv = server->data;
    uv_tcp_init(server->loop, &cc->tcp);
    cc->tcp.data = cc;
    if (uv_accept(server, (uv_stream_t *)&cc->tcp) != 0) {
        uv_close((uv_handle_t *)&cc->tcp, (uv_close_cb)free);
        return;
    }
    uv_read_start((uv_stream_t *)&cc->tcp, on_ctrl_alloc, on_ctrl_read);
}

ibbStatus sim_controlStart(simServer *srv)
{
    uv_timer_init(srv->loop, &srv->reset_timer);
    srv->reset_timer.data = srv;
    if (srv->cfg.control_port < 0)
        return IBB_OK;
    struct sockaddr_in addr;
    if (uv_ip4_addr(srv->cfg.host, srv->cfg.control_port, &addr) != 0)
        return IBB_ERR_CONFIG;
    uv_tcp_init(srv->loop, &srv->control);
    srv->control.data = srv;
    int rc = uv_tcp_bind(&srv->control, (const struct sockaddr *)&addr, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&srv->control, 16, on_ctrl_connection);
    if (rc != 0) {
        IBB_ERROR("sim.control_listen_failed", "port=%d error=%s", srv->cfg.control_port, uv_strerror(rc));
        return IBB_ERR_IO;
    }
    struct sockaddr_storage sa;
    int salen = sizeof sa;
    if (uv_tcp_getsockname(&srv->control, (struct sockaddr *)&sa, &salen) == 0)
        srv->control_port = ntohs(((struct sockaddr_in *)&sa)->sin_port);
    IBB_INFO("sim.control_listening", "port=%d", srv->control_port);
    return IBB_OK;
}
