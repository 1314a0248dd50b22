/* br_ord_completed.c — ib.rpc.order.completed {since?, api_only?}: the orders IB reports as finished
 * (reqCompletedOrders, PROTOCOL.md §3.16) with their final status and filled quantity, merged with the
 * ledger (order id, average fill price where the order is ours; client_order_id is the orderRef
 * ib-bridge gave the order, so it survives a restart of ib-bridge).
 *
 * reqCompletedOrders carries no request id: its answers (completedOrder..., completedOrdersEnd) belong to
 * the oldest request still open, and the reconciler (br_ord_recon.c) sends one on every IB ready. So at
 * most one goes out at a time: a request waits until none is open, then one reqCompletedOrders answers
 * every waiter asking the same api_only; the collected orders are filtered per waiter by `since`.
 * Loop thread. */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "br_candles_terms.h"
#include "br_ord_int.h"
#include "ibb_log.h"

typedef struct compWaiter {
    busRequest *req;
    int64_t since_s; /* 0 = no filter */
    bool api_only;
    struct compWaiter *next;
} compWaiter;

typedef struct compRow {
    stInstrumentSpec spec; /* the contract */
    char action[8], order_type[16], tif[8], account[32], order_ref[ST_CLIENT_ORDER_ID_MAX + 1];
    char status[24], completed_time[64], completed_status[176];
    double qty, lmt, aux, filled, remaining;
    int64_t perm_id, completed_s; /* completed_s 0 = time not understood */
} compRow;

struct brOrdCompletedQ {
    int outstanding; /* reqCompletedOrders sent whose end has not come */
    bool collecting; /* the oldest open request is ours: its orders go to rows */
    bool round_api_only;
    compWaiter *waiters; /* answered at the end of the collected round */
    compWaiter *queued;  /* wait for a round of their own */
    compRow *rows;
    size_t n, cap;
};

static brOrdCompletedQ *q_of(brBridge *b)
{
    brOrders *m = brOrd_mod(b);
    if (!m->completed_q)
        m->completed_q = calloc(1, sizeof *m->completed_q);
    return m->completed_q;
}

/* US Eastern time's offset from UTC (s) at a local wall time: DST from the second Sunday of March 2:00
 * to the first Sunday of November 2:00. */
static int et_offset(int y, int mo, int d, int h)
{
    struct tm t = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = 1, .tm_hour = 12};
    time_t first = timegm(&t);
    struct tm w;
    gmtime_r(&first, &w);
    int first_sun = 1 + (7 - w.tm_wday) % 7;
    bool dst = mo > 3 && mo < 11;
    if (mo == 3)
        dst = d > first_sun + 7 || (d == first_sun + 7 && h >= 2);
    else if (mo == 11)
        dst = d < first_sun || (d == first_sun && h < 2);
    return dst ? -4 * 3600 : -5 * 3600;
}

int64_t brOrd_ibTimeEpoch(const char *s)
{
    int y, mo, d, h, mi, se;
    char zone[48] = "";
    if (sscanf(s, "%4d%2d%2d %d:%d:%d %47s", &y, &mo, &d, &h, &mi, &se, zone) < 6)
        return 0;
    struct tm t = {
        .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi, .tm_sec = se};
    int64_t utc = (int64_t)timegm(&t);
    if (!strcmp(zone, "America/New_York") || !strcmp(zone, "US/Eastern") || !strcmp(zone, "EST5EDT"))
        return utc - et_offset(y, mo, d, h);
    return !zone[0] || !strcmp(zone, "UTC") || !strcmp(zone, "GMT") ? utc : 0;
}

static void add_row(brOrdCompletedQ *q, const ibCompletedOrder *c)
{
    if (q->n == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 32;
        compRow *nr = realloc(q->rows, cap * sizeof *nr);
        if (!nr)
            return;
        q->rows = nr;
        q->cap = cap;
    }
    compRow *r = &q->rows[q->n++];
    memset(r, 0, sizeof *r);
    stInstrument_FromContract(&r->spec, &c->contract);
#define CP(dst, src) snprintf(dst, sizeof dst, "%s", (src) ? (src) : "")
    CP(r->action, c->order.action);
    CP(r->order_type, c->order.order_type);
    CP(r->tif, c->order.tif);
    CP(r->account, c->order.account);
    CP(r->order_ref, c->order.order_ref);
    CP(r->status, c->status);
    CP(r->completed_time, c->completed_time);
    CP(r->completed_status, c->completed_status);
#undef CP
    r->qty = c->order.total_qty;
    r->lmt = c->order.lmt_price;
    r->aux = c->order.aux_price;
    r->filled = c->filled_qty;
    r->remaining = c->remaining;
    r->perm_id = c->perm_id;
    r->completed_s = brOrd_ibTimeEpoch(r->completed_time);
}

static bool price_set(double v) { return !ib_isUnsetDouble(v) && v > 0; }
static double or_zero(double v) { return ib_isUnsetDouble(v) ? 0 : v; }

/* One completed order in the shape of an order of ib.rpc.order.list, plus when and how it ended. */
static void pack_row(brBridge *b, msgpack_packer *pk, const compRow *r)
{
    const stOrder *o = r->order_ref[0] ? stOrders_ByClientId(b->orders, r->order_ref) : NULL;
    bool lmt = strstr(r->order_type, "LMT") && price_set(r->lmt),
         stp = !strncmp(r->order_type, "STP", 3) && price_set(r->aux);
    msgpack_pack_map(pk, 17 + lmt + stp + (r->completed_s ? 1 : 0));
    busPack_KeyInt(pk, "order_id", o ? o->order_id : 0);
    busPack_KeyStr(pk, "client_order_id", r->order_ref);
    ibContract c;
    stInstrument_ToContract(&r->spec, &c);
    br_packKeyContract(pk, &c, o ? o->key : NULL);
    busPack_KeyStr(pk, "side", r->action);
    busPack_KeyDouble(pk, "qty", or_zero(r->qty));
    busPack_KeyStr(pk, "order_type", brOrd_apiType(r->order_type));
    if (lmt)
        busPack_KeyDouble(pk, "limit_price", r->lmt);
    if (stp)
        busPack_KeyDouble(pk, "stop_price", r->aux);
    busPack_KeyStr(pk, "tif", r->tif);
    busPack_KeyStr(pk, "account", r->account);
    busPack_KeyStr(pk, "status", r->status);
    busPack_KeyDouble(pk, "filled", or_zero(r->filled));
    busPack_KeyDouble(pk, "remaining", or_zero(r->remaining));
    busPack_KeyDouble(pk, "avg_fill_price", o && o->avg_fill_price > 0 ? o->avg_fill_price : 0);
    busPack_KeyInt(pk, "perm_id", r->perm_id);
    busPack_KeyBool(pk, "in_ledger", o != NULL);
    busPack_KeyStr(pk, "completed_time", r->completed_time);
    if (r->completed_s)
        busPack_KeyInt(pk, "completed_ns", r->completed_s * 1000000000);
    busPack_KeyStr(pk, "completed_status", r->completed_status);
}

static bool row_wanted(const compRow *r, const compWaiter *w)
{
    return !w->since_s || (r->completed_s && r->completed_s >= w->since_s);
}

static void answer(brBridge *b, compWaiter *w, const brOrdCompletedQ *q)
{
    size_t n = 0;
    for (size_t i = 0; i < q->n; i++)
        n += row_wanted(&q->rows[i], w);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pkr;
    msgpack_packer_init(&pkr, &sb, msgpack_sbuffer_write);
    msgpack_packer *pk = &pkr;
    msgpack_pack_map(pk, 4);
    busPack_KeyStr(pk, "source", "ib");
    busPack_KeyBool(pk, "api_only", w->api_only);
    busPack_KeyInt(pk, "count", (int64_t)n);
    busPack_Str(pk, "orders");
    msgpack_pack_array(pk, n);
    for (size_t i = 0; i < q->n; i++)
        if (row_wanted(&q->rows[i], w))
            pack_row(b, pk, &q->rows[i]);
    br_replyChecked(b, w->req, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
}

static void free_waiters(compWaiter **list, const char *slug, const char *msg)
{
    compWaiter *w = *list;
    *list = NULL;
    while (w) {
        compWaiter *n = w->next;
        if (slug)
            busRequest_Error(w->req, slug, msg, 0);
        busRequest_Release(w->req);
        free(w);
        w = n;
    }
}

/* No request open: one reqCompletedOrders for the first queued waiter and every one asking the same. */
static void send_round(brBridge *b, brOrdCompletedQ *q)
{
    if (q->outstanding > 0 || !q->queued || !b->ib_ready)
        return;
    q->round_api_only = q->queued->api_only;
    compWaiter **pp = &q->queued;
    while (*pp) {
        compWaiter *w = *pp;
        if (w->api_only == q->round_api_only) {
            *pp = w->next;
            w->next = q->waiters;
            q->waiters = w;
        } else {
            pp = &w->next;
        }
    }
    ibRequest rq;
    ibRequest_Init(&rq, IB_REQ_COMPLETED_ORDERS);
    rq.u.api_only = q->round_api_only;
    if (br_send(b, &rq) != IBB_OK) {
        free_waiters(&q->waiters, "ib_unavailable", "reqCompletedOrders could not be sent to IB; retry");
        return;
    }
    q->outstanding++;
    q->collecting = true;
    q->n = 0;
}

void brOrd_completedSent(brBridge *b)
{
    brOrdCompletedQ *q = q_of(b);
    if (q)
        q->outstanding++;
}

void brOrd_completedOnReply(brBridge *b, const ibReply *r)
{
    brOrdCompletedQ *q = brOrd_mod(b)->completed_q;
    if (!q)
        return;
    if (r->id == IB_MSG_COMPLETED_ORDER && q->collecting) {
        add_row(q, &r->u.completed_order);
        return;
    }
    if (r->id != IB_MSG_COMPLETED_ORDERS_END || q->outstanding <= 0)
        return;
    q->outstanding--;
    if (q->collecting) {
        q->collecting = false;
        for (compWaiter *w = q->waiters; w; w = w->next)
            answer(b, w, q);
        free_waiters(&q->waiters, NULL, NULL);
        IBB_INFO("orders.completed_listed", "orders=%zu api_only=%d", q->n, q->round_api_only);
    }
    send_round(b, q);
}

void brOrd_completedDown(brBridge *b)
{
    brOrdCompletedQ *q = brOrd_mod(b)->completed_q;
    if (!q)
        return;
    q->outstanding = 0;
    q->collecting = false;
    const char *msg = "the IB link dropped before IB listed its completed orders; retry when ib.evt.conn "
                      "reports ready";
    free_waiters(&q->waiters, "ib_unavailable", msg);
    free_waiters(&q->queued, "ib_unavailable", msg);
}

void brOrd_completedFini(brBridge *b)
{
    brOrdCompletedQ *q = brOrd_mod(b)->completed_q;
    if (!q)
        return;
    free_waiters(&q->waiters, "unavailable", "ib-bridge is stopping");
    free_waiters(&q->queued, "unavailable", "ib-bridge is stopping");
    free(q->rows);
    free(q);
    brOrd_mod(b)->completed_q = NULL;
}

/* Reads {since?, api_only?}; false after answering and releasing. */
static bool parse_completed(busRequest *req, compWaiter *w)
{
    const msgpack_object *body = busRequest_Body(req);
    ibbStatus st = busObj_Bool(body, "api_only", &w->api_only);
    if (st != IBB_OK && st != IBB_ERR_NOT_FOUND) {
        busRequest_FailField(req, "api_only", st, "boolean");
        return false;
    }
    const char *s;
    size_t n;
    st = busObj_Str(body, "since", &s, &n);
    if (st == IBB_ERR_NOT_FOUND)
        return true;
    if (st != IBB_OK) {
        busRequest_FailField(req, "since", st, "ISO-8601 string");
        return false;
    }
    if (!brq_parseIso(s, n, &w->since_s)) {
        busRequest_Failf(req, "bad_request", 0,
                         "field 'since' \"%.*s\" is not an ISO-8601 time such as \"2024-01-05T16:00:00Z\"",
                         (int)(n > 64 ? 64 : n), s);
        return false;
    }
    return true;
}

void brOrd_onCompleted(busRequest *req, void *arg)
{
    brBridge *b = arg;
    compWaiter *w = calloc(1, sizeof *w);
    brOrdCompletedQ *q = q_of(b);
    if (!w || !q) {
        free(w);
        busRequest_Fail(req, "internal", "out of memory", 0);
        return;
    }
    if (!parse_completed(req, w)) {
        free(w);
        return;
    }
    if (!br_requireIb(b, req)) {
        free(w);
        busRequest_Release(req);
        return;
    }
    if (coreSession_ServerVersion(b->ib) < IB_SV_COMPLETED_ORDERS) {
        free(w);
        busRequest_Failf(req, "not_implemented", 0,
                         "the gateway's server version %d has no completed orders (%d needed)",
                         coreSession_ServerVersion(b->ib), IB_SV_COMPLETED_ORDERS);
        return;
    }
    w->req = req;
    w->next = q->queued;
    q->queued = w;
    send_round(b, q);
}
