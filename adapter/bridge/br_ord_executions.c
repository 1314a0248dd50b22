/* br_ord_executions.c — ib.rpc.executions {since?, symbol?, account?, side?, source?}: executions with
 * their commissions, so a consumer that was down can rebuild its fills.
 *
 * From the order stream when it covers the window: with `since`, and the stream's oldest event no younger
 * than `since` (source "stream": ib-bridge's own orders' fill and commission events). From IB otherwise
 * (source "ib": reqExecutions with an ExecutionFilter, PROTOCOL.md §3.16, every client's executions).
 * `source` "ib" or "stream" forces one ("stream" that does not cover the window is `unavailable`).
 *
 * IB keeps about a day of executions and reads the filter's time in the gateway's own time zone, so the
 * request asks IB from a day before `since` and the answer is cut at `since` here, on the execution
 * times IB reports. Each query has its own request id; commissionReport carries none, so the commission
 * of an execution is matched by its exec id while the query is open (IB sends it right after the
 * execution). Loop thread. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "br_candles_terms.h"
#include "br_ord_int.h"
#include "ibb_log.h"

typedef struct execRow {
    char exec_id[64], account[32], side[8], exchange[16];
    char order_ref[ST_CLIENT_ORDER_ID_MAX + 1], time[40], comm_currency[8], key[ST_KEY_MAX];
    stInstrumentSpec spec; /* the contract */
    int64_t order_id, perm_id, client_id, time_s;
    double shares, price, cum_qty, avg_price, commission, realized_pnl; /* IB_UNSET_DOUBLE: none yet */
} execRow;

struct brOrdExecQuery {
    brBridge *b;
    busRequest *req;
    int64_t req_id;
    int64_t since_s;                       /* 0 = no filter */
    char symbol[32], account[32], side[8]; /* the filter (side BUY / SELL) */
    char source[8];                        /* "auto", "ib", "stream" */
    bool from_stream;
    ibRequest rq; /* the IB request, should the stream not cover the window */
    char time[24];
    execRow *rows;
    size_t n, cap;
    struct brOrdExecQuery *next;
};

static void query_free(brBridge *b, brOrdExecQuery *q)
{
    brOrders *m = brOrd_mod(b);
    for (brOrdExecQuery **pp = &m->exec_queries; *pp; pp = &(*pp)->next)
        if (*pp == q) {
            *pp = q->next;
            break;
        }
    if (q->req_id > 0)
        br_reqClose(b, q->req_id);
    if (q->req)
        busRequest_Release(q->req);
    free(q->rows);
    free(q);
}

static execRow *new_row(brOrdExecQuery *q)
{
    if (q->n == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 32;
        execRow *nr = realloc(q->rows, cap * sizeof *nr);
        if (!nr)
            return NULL;
        q->rows = nr;
        q->cap = cap;
    }
    execRow *r = &q->rows[q->n++];
    memset(r, 0, sizeof *r);
    r->commission = r->realized_pnl = IB_UNSET_DOUBLE;
    return r;
}

static void add_exec(brBridge *b, brOrdExecQuery *q, const ibExecDetails *e)
{
    int64_t t = brOrd_ibTimeEpoch(e->time ? e->time : "");
    execRow *r;
    if ((q->since_s && t && t < q->since_s) || !(r = new_row(q)))
        return;
#define CP(dst, src) snprintf(dst, sizeof dst, "%s", (src) ? (src) : "")
    CP(r->exec_id, e->exec_id);
    CP(r->account, e->account);
    CP(r->side, e->side);
    CP(r->exchange, e->exchange);
    CP(r->order_ref, e->order_ref);
    CP(r->time, e->time);
#undef CP
    stInstrument_FromContract(&r->spec, &e->contract);
    if (!strcmp(r->spec.sec_type, "STK")) /* the execution's venue is not the contract's routing */
        snprintf(r->spec.exchange, sizeof r->spec.exchange, "SMART");
    const stOrder *o = r->order_ref[0] ? stOrders_ByClientId(b->orders, r->order_ref) : NULL;
    if (o)
        snprintf(r->key, sizeof r->key, "%s", o->key);
    r->order_id = e->order_id;
    r->perm_id = e->perm_id;
    r->client_id = e->client_id;
    r->time_s = t;
    r->shares = e->shares;
    r->price = e->price;
    r->cum_qty = e->cum_qty;
    r->avg_price = e->avg_price;
}

void brOrd_execQueriesOnReply(brBridge *b, const ibReply *r)
{
    if (r->id != IB_MSG_COMMISSION_REPORT || !r->u.commission.exec_id)
        return;
    const ibCommissionReport *c = &r->u.commission;
    for (brOrdExecQuery *q = brOrd_mod(b)->exec_queries; q; q = q->next)
        for (size_t i = q->n; i-- > 0;)
            if (!strcmp(q->rows[i].exec_id, c->exec_id)) {
                q->rows[i].commission = c->commission;
                q->rows[i].realized_pnl = c->realized_pnl;
                snprintf(q->rows[i].comm_currency, sizeof q->rows[i].comm_currency, "%s",
                         c->currency ? c->currency : "");
                break;
            }
}

/* One execution: the order event's fill fields, the order's ids, key and contract, the commission. */
static void pack_row(msgpack_packer *pk, const execRow *r, bool stream)
{
    bool comm = !ib_isUnsetDouble(r->commission), pnl = !ib_isUnsetDouble(r->realized_pnl) && comm;
    msgpack_pack_map(pk, 16 + (r->time_s ? 1 : 0) + (comm ? 1 : 0));
    busPack_KeyStr(pk, "exec_id", r->exec_id);
    busPack_KeyDouble(pk, "qty", r->shares);
    busPack_KeyDouble(pk, "price", r->price);
    busPack_KeyStr(pk, "time", r->time);
    busPack_KeyStr(pk, "side", r->side);
    busPack_KeyStr(pk, "exchange", r->exchange);
    busPack_KeyDouble(pk, "cum_qty", r->cum_qty);
    busPack_KeyDouble(pk, "avg_price", r->avg_price);
    busPack_KeyStr(pk, "account", r->account);
    busPack_KeyInt(pk, "order_id", r->order_id);
    busPack_KeyStr(pk, "client_order_id", r->order_ref);
    ibContract c;
    stInstrument_ToContract(&r->spec, &c);
    br_packKeyContract(pk, &c, r->key);
    busPack_KeyInt(pk, "perm_id", r->perm_id);
    busPack_KeyInt(pk, "client_id", r->client_id);
    if (r->time_s)
        busPack_KeyInt(pk, "time_ns", r->time_s * 1000000000);
    if (comm) {
        busPack_Str(pk, "commission");
        msgpack_pack_map(pk, 3 + (pnl ? 1 : 0));
        busPack_KeyStr(pk, "exec_id", r->exec_id);
        busPack_KeyDouble(pk, "commission", r->commission);
        busPack_KeyStr(pk, "currency", r->comm_currency);
        if (pnl)
            busPack_KeyDouble(pk, "realized_pnl", r->realized_pnl);
    }
    busPack_KeyStr(pk, "source", stream ? "stream" : "ib");
}

static void answer(brBridge *b, brOrdExecQuery *q)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    busPack_KeyStr(&pk, "source", q->from_stream ? "stream" : "ib");
    busPack_KeyInt(&pk, "count", (int64_t)q->n);
    busPack_Str(&pk, "executions");
    msgpack_pack_array(&pk, q->n);
    for (size_t i = 0; i < q->n; i++)
        pack_row(&pk, &q->rows[i], q->from_stream);
    br_replyChecked(b, q->req, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
}

static void on_reply(brBridge *b, int64_t req_id, const ibReply *r, void *ctx)
{
    brOrdExecQuery *q = ctx;
    (void)req_id;
    if (r->id == IB_MSG_EXEC_DETAILS) {
        add_exec(b, q, &r->u.exec_details);
    } else if (r->id == IB_MSG_EXEC_DETAILS_END) {
        IBB_INFO("orders.executions_listed", "req_id=%" PRId64 " executions=%zu", q->req_id, q->n);
        answer(b, q);
        query_free(b, q);
    }
}

static void on_error(brBridge *b, int64_t req_id, const ibError *e, void *ctx)
{
    (void)req_id;
    brOrdExecQuery *q = ctx;
    br_replyIbError(q->req, e);
    query_free(b, q);
}

static void on_lost(brBridge *b, int64_t req_id, void *ctx)
{
    (void)req_id;
    brOrdExecQuery *q = ctx;
    busRequest_Error(q->req, "ib_unavailable", "the IB link dropped before IB listed the executions; retry",
                     0);
    query_free(b, q);
}

static const brPendingOps exec_ops = {on_reply, on_error, on_lost};

/* Reads the filter into q (and its IB request q->rq); false after answering and releasing. */
static bool parse_filter(busRequest *req, brOrdExecQuery *q)
{
    const msgpack_object *body = busRequest_Body(req);
    static const char *const fields[] = {"symbol", "account", "side", "source"};
    char *dst[] = {q->symbol, q->account, q->side, q->source};
    for (int i = 0; i < 4; i++) {
        ibbStatus st = busObj_StrCopy(body, fields[i], dst[i], i == 2 || i == 3 ? 8 : 32);
        if (st != IBB_OK && st != IBB_ERR_NOT_FOUND) {
            busRequest_FailField(req, fields[i], st,
                                 i >= 2 ? "short string" : "string of at most 31 characters");
            return false;
        }
    }
    for (char *p = q->side; *p; p++)
        *p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
    if (q->side[0] && strcmp(q->side, "BUY") && strcmp(q->side, "SELL"))
        return brOrd_bad(req, "field 'side' must be BUY or SELL%s", "");
    if (!q->source[0])
        snprintf(q->source, sizeof q->source, "auto");
    if (strcmp(q->source, "auto") && strcmp(q->source, "ib") && strcmp(q->source, "stream"))
        return brOrd_bad(req, "field 'source' must be auto, ib or stream%s", "");
    const char *s;
    size_t n;
    ibbStatus st = busObj_Str(body, "since", &s, &n);
    if (st == IBB_OK && !brq_parseIso(s, n, &q->since_s)) {
        busRequest_Failf(req, "bad_request", 0,
                         "field 'since' \"%.*s\" is not an ISO-8601 time such as \"2024-01-05T16:00:00Z\"",
                         (int)(n > 64 ? 64 : n), s);
        return false;
    }
    if (st != IBB_OK && st != IBB_ERR_NOT_FOUND) {
        busRequest_FailField(req, "since", st, "ISO-8601 string");
        return false;
    }
    if (q->since_s) { /* a day before: IB reads the time in the gateway's zone; cut here exactly */
        time_t t = (time_t)(q->since_s - 86400);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(q->time, sizeof q->time, "%Y%m%d-%H:%M:%S", &tm);
    }
    ibRequest_Init(&q->rq, IB_REQ_EXECUTIONS);
    ibReqExecutions *x = &q->rq.u.executions;
    x->time = q->time;
    x->symbol = q->symbol;
    x->account = q->account;
    x->side = q->side;
    x->sec_type = x->exchange = "";
    return true;
}

static void ask_ib(brBridge *b, brOrdExecQuery *q)
{
    if (!b->ib_ready) {
        busRequest_Error(q->req, "ib_unavailable",
                         "the IB link is not ready; retry when ib.evt.conn reports ready", 0);
        query_free(b, q);
        return;
    }
    q->req_id = br_reqOpen(b, &exec_ops, q);
    q->rq.u.executions.req_id = q->req_id;
    if (q->req_id < 0 || br_send(b, &q->rq) != IBB_OK) {
        if (q->req_id < 0)
            q->req_id = 0;
        busRequest_Error(q->req, "ib_unavailable", "reqExecutions could not be sent to IB; retry", 0);
        query_free(b, q);
    }
}

/* ---- from the order stream ------------------------------------------------------------------------- */

static void copy_str(const msgpack_object *m, const char *key, char *out, size_t cap)
{
    if (busObj_StrCopy(m, key, out, cap) != IBB_OK)
        out[0] = '\0';
}

static double num_or(const msgpack_object *m, const char *key, double dflt)
{
    double v;
    return busObj_Double(m, key, &v) == IBB_OK ? v : dflt;
}

/* A "fill" event as a row, when it passes the filter. */
static void stream_fill(brBridge *b, brOrdExecQuery *q, const msgpack_object *ev, const msgpack_object *f)
{
    execRow r;
    memset(&r, 0, sizeof r);
    const msgpack_object *c = NULL;
    copy_str(f, "exec_id", r.exec_id, sizeof r.exec_id);
    copy_str(f, "account", r.account, sizeof r.account);
    copy_str(f, "side", r.side, sizeof r.side);
    copy_str(f, "exchange", r.exchange, sizeof r.exchange);
    copy_str(f, "time", r.time, sizeof r.time);
    copy_str(ev, "client_order_id", r.order_ref, sizeof r.order_ref);
    copy_str(ev, "key", r.key, sizeof r.key);
    if (busObj_Map(ev, "contract", &c) == IBB_OK)
        br_specFromMap(c, &r.spec, true);
    else
        stInstrument_ParseKey(r.key, &r.spec, NULL);
    busObj_Int(ev, "order_id", &r.order_id);
    busObj_Int(ev, "perm_id", &r.perm_id);
    r.client_id = coreSession_ClientId(b->ib);
    r.shares = num_or(f, "qty", 0);
    r.price = num_or(f, "price", 0);
    r.cum_qty = num_or(f, "cum_qty", 0);
    r.avg_price = num_or(f, "avg_price", 0);
    r.commission = r.realized_pnl = IB_UNSET_DOUBLE;
    r.time_s = brOrd_ibTimeEpoch(r.time);
    bool buy = !strcmp(r.side, "BOT") || !strcmp(r.side, "BUY");
    if ((q->since_s && r.time_s && r.time_s < q->since_s) ||
        (q->symbol[0] && strcasecmp(q->symbol, r.spec.symbol)) ||
        (q->account[0] && strcasecmp(q->account, r.account)) ||
        (q->side[0] && buy != !strcmp(q->side, "BUY")))
        return;
    for (size_t i = 0; i < q->n; i++)
        if (!strcmp(q->rows[i].exec_id, r.exec_id))
            return;
    execRow *dst = new_row(q);
    if (dst)
        *dst = r;
}

static void stream_commission(brOrdExecQuery *q, const msgpack_object *c)
{
    char id[64];
    copy_str(c, "exec_id", id, sizeof id);
    for (size_t i = 0; i < q->n; i++)
        if (!strcmp(q->rows[i].exec_id, id)) {
            q->rows[i].commission = num_or(c, "commission", IB_UNSET_DOUBLE);
            q->rows[i].realized_pnl = num_or(c, "realized_pnl", IB_UNSET_DOUBLE);
            copy_str(c, "currency", q->rows[i].comm_currency, sizeof q->rows[i].comm_currency);
        }
}

static void stream_event(brBridge *b, brOrdExecQuery *q, const char *data, size_t len)
{
    busBody body;
    busBody_Init(&body);
    char e[128];
    if (busBody_Decode(&body, data, len, "application/msgpack", 0, e, sizeof e) == IBB_OK) {
        char type[16];
        const msgpack_object *sub = NULL;
        copy_str(&body.root, "type", type, sizeof type);
        if (!strcmp(type, "fill") && busObj_Map(&body.root, "fill", &sub) == IBB_OK)
            stream_fill(b, q, &body.root, sub);
        else if (!strcmp(type, "commission") && busObj_Map(&body.root, "commission", &sub) == IBB_OK)
            stream_commission(q, sub);
    }
    busBody_Free(&body);
}

static void on_events(brBridge *b, void *ctx, ibbStatus st, int64_t first_ns, char *const *msgs,
                      const size_t *lens, size_t n, const char *err)
{
    brOrdExecQuery *q = ctx;
    bool covers = st == IBB_OK && first_ns > 0 && first_ns <= q->since_s * 1000000000;
    if (!covers && !strcmp(q->source, "stream")) {
        busRequest_Errorf(q->req, "unavailable", 0, "the order stream does not cover the window%s%s",
                          st != IBB_OK ? ": " : " (its oldest event is younger than 'since')",
                          st != IBB_OK && err ? err : "");
        query_free(b, q);
        return;
    }
    if (!covers) {
        ask_ib(b, q);
        return;
    }
    q->from_stream = true;
    for (size_t i = 0; i < n; i++)
        stream_event(b, q, msgs[i], lens[i]);
    IBB_INFO("orders.executions_listed", "source=stream events=%zu executions=%zu", n, q->n);
    answer(b, q);
    query_free(b, q);
}

void brOrd_onExecutions(busRequest *req, void *arg)
{
    brBridge *b = arg;
    brOrdExecQuery *q = calloc(1, sizeof *q);
    if (!q) {
        busRequest_Fail(req, "internal", "out of memory", 0);
        return;
    }
    if (!parse_filter(req, q)) {
        free(q);
        return;
    }
    brOrders *m = brOrd_mod(b);
    bool stream = strcmp(q->source, "ib") != 0 && q->since_s > 0 && brOrdStore_Ready(m->store);
    if (!strcmp(q->source, "stream") && !stream) {
        free(q);
        busRequest_Fail(req, "unavailable", "the order stream answers only with 'since' and a ready store",
                        0);
        return;
    }
    if (!stream && !br_requireIb(b, req)) {
        free(q);
        busRequest_Release(req);
        return;
    }
    q->b = b;
    q->req = req;
    q->next = m->exec_queries;
    m->exec_queries = q;
    if (stream)
        brOrdStore_EventsSince(m->store, q->since_s * 1000000000, 100000, on_events, q);
    else
        ask_ib(b, q);
}

void brOrd_execQueriesDrop(brBridge *b)
{
    brOrders *m = brOrd_mod(b);
    while (m && m->exec_queries) {
        busRequest_Error(m->exec_queries->req, "unavailable", "ib-bridge is stopping", 0);
        query_free(b, m->exec_queries);
    }
}
