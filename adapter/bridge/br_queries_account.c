/* br_queries_account.c — ib.rpc.positions and ib.rpc.account, answered from memory.
 *
 * On every IB "ready" the module subscribes to three IB streams and keeps their latest values:
 *   reqPositions                      position + avg cost of every account (pushed on each change)
 *   reqAccountSummary("All", tags)    the values per account (IB re-sends every 3 minutes)
 *   reqAccountUpdates(1, account)     account values and portfolio rows (market price / value,
 *                                     unrealized and realized P&L) of ONE account — IB allows one
 *                                     such subscription per session: the first managed account
 * A value carries the time it arrived; the newest of summary and updates wins. So a request costs
 * no IB round trip. Until the first snapshot of a stream is complete (positionEnd,
 * accountSummaryEnd) requests wait for it (up to their deadline); when the link is down the
 * replies say live=false with the last known values. After a reconnect everything is subscribed
 * again and positions missing from the new snapshot are forgotten.
 *
 * Ownership: rows and accounts are owned by the module (brAccount); requests that wait are held
 * (one reference each) in the module's wait lists until answered or expired. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "br_queries_int.h"
#include "ibb_log.h"

#define MAX_ACCOUNTS 32

/* The tags the issue names, plus a few of IB's that explain them. RealizedPnL/UnrealizedPnL are
 * not account-summary tags at IB: they come from account updates (one account). */
static const char *const ACCT_TAGS[] = {
    "NetLiquidation", "TotalCashValue",      "SettledCash",        "AccruedCash",
    "BuyingPower",    "EquityWithLoanValue", "GrossPositionValue", "InitMarginReq",
    "MaintMarginReq", "AvailableFunds",      "ExcessLiquidity",    "Cushion",
    "Leverage",       "DayTradesRemaining",  "AccountType",        "RealizedPnL",
    "UnrealizedPnL",
};
#define N_TAGS (sizeof ACCT_TAGS / sizeof ACCT_TAGS[0])
#define SUMMARY_TAGS                                                                                         \
    "NetLiquidation,TotalCashValue,SettledCash,AccruedCash,BuyingPower,EquityWithLoanValue,"                 \
    "GrossPositionValue,InitMarginReq,MaintMarginReq,AvailableFunds,ExcessLiquidity,Cushion,"                \
    "Leverage,DayTradesRemaining,AccountType"

typedef struct acctValue {
    char value[48];
    char currency[8];
    int64_t ns; /* 0 = never received */
    bool from_updates;
} acctValue;

typedef struct acctEntry {
    char account[32];
    acctValue v[N_TAGS];
} acctEntry;

typedef struct posRow {
    char account[32];
    char key[ST_KEY_MAX];
    stInstrumentSpec spec;
    double position, avg_cost;
    bool has_position;
    bool has_portfolio;
    double market_price, market_value, unrealized_pnl, realized_pnl;
    int64_t ns;
    uint64_t gen; /* positions snapshot generation that last saw it */
} posRow;

typedef struct waitReq {
    busRequest *req;
    brBridge *b;
    bool account; /* ib.rpc.account (else positions) */
    struct waitReq *prev, *next;
} waitReq;

struct brAccount {
    ibbMap *rows; /* "account|conId" -> posRow* */
    acctEntry accounts[MAX_ACCOUNTS];
    int naccounts;
    char updates_account[32]; /* the account of reqAccountUpdates */
    char updates_time[16]; /* IB's account time (HH:MM) */
    int64_t summary_req_id;
    bool positions_done, summary_done, updates_done;
    bool ever_loaded;
    uint64_t gen;
    int64_t positions_ns, summary_ns, updates_ns;
    char summary_error[200];
    waitReq *waiting;
};

static brAccount *amod(const brBridge *b) { return brq_mod(b)->account; }

/* ---- tables -------------------------------------------------------------------------------------- */

static acctEntry *account_entry(brAccount *a, const char *account, bool create)
{
    for (int i = 0; i < a->naccounts; i++)
        if (strcmp(a->accounts[i].account, account) == 0)
            return &a->accounts[i];
    if (!create || a->naccounts >= MAX_ACCOUNTS || !*account ||
        strlen(account) >= sizeof a->accounts[0].account)
        return NULL;
    acctEntry *e = &a->accounts[a->naccounts++];
    memset(e, 0, sizeof *e);
    snprintf(e->account, sizeof e->account, "%s", account);
    return e;
}

static void set_value(brAccount *a, const char *account, const char *tag, const char *value, const char *ccy,
                      bool from_updates, int64_t ns)
{
    if (!tag || !value || (ccy && strcmp(ccy, "BASE") == 0))
        return;
    for (size_t i = 0; i < N_TAGS; i++) {
        if (strcmp(ACCT_TAGS[i], tag) != 0)
            continue;
        acctEntry *e = account_entry(a, account ? account : "", true);
        if (!e)
            return;
        acctValue *v = &e->v[i];
        snprintf(v->value, sizeof v->value, "%s", value);
        snprintf(v->currency, sizeof v->currency, "%s", ccy ? ccy : "");
        v->ns = ns;
        v->from_updates = from_updates;
        return;
    }
}

static posRow *row_for(brAccount *a, const char *account, const ibContract *c)
{
    char k[64 + ST_KEY_MAX];
    snprintf(k, sizeof k, "%s|%" PRId64, account ? account : "", c->con_id);
    posRow *r = ibbMap_Get(a->rows, k);
    if (r)
        return r;
    r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    snprintf(r->account, sizeof r->account, "%s", account ? account : "");
    stInstrument_FromContract(&r->spec, c);
    /* position rows name the listing exchange, portfolio rows only the primary exchange */
    if (strcmp(r->spec.sec_type, "STK") == 0) {
        if (!r->spec.primary_exchange[0] && r->spec.exchange[0])
            snprintf(r->spec.primary_exchange, sizeof r->spec.primary_exchange, "%s", r->spec.exchange);
        snprintf(r->spec.exchange, sizeof r->spec.exchange, "SMART");
    }
    stInstrumentSpec keyspec = r->spec;
    stInstrument_FormatKey(&keyspec, r->key, sizeof r->key);
    if (ibbMap_Put(a->rows, k, r) != IBB_OK) {
        free(r);
        return NULL;
    }
    return r;
}

static void on_position(brBridge *b, const ibPosition *p)
{
    brAccount *a = amod(b);
    posRow *r = row_for(a, p->account, &p->contract);
    if (!r)
        return;
    r->position = p->position;
    r->avg_cost = p->avg_cost;
    r->has_position = true;
    r->ns = coreSession_ReadTimeNs(b->ib);
    r->gen = a->gen;
    if (!r->spec.exchange[0] && p->contract.exchange)
        snprintf(r->spec.exchange, sizeof r->spec.exchange, "%s", p->contract.exchange);
}

static void on_portfolio(brBridge *b, const ibPortfolioValue *p)
{
    brAccount *a = amod(b);
    posRow *r = row_for(a, p->account, &p->contract);
    if (!r)
        return;
    r->has_portfolio = true;
    r->market_price = p->market_price;
    r->market_value = p->market_value;
    r->unrealized_pnl = p->unrealized_pnl;
    r->realized_pnl = p->realized_pnl;
    if (!r->has_position || r->gen != a->gen) { /* the position stream will confirm it */
        r->position = p->position;
        r->avg_cost = p->average_cost;
    }
    r->ns = coreSession_ReadTimeNs(b->ib);
    if (p->contract.primary_exchange && *p->contract.primary_exchange)
        snprintf(r->spec.primary_exchange, sizeof r->spec.primary_exchange, "%s",
                 p->contract.primary_exchange);
}

/* positionEnd after a (re)subscription: rows this snapshot did not mention are gone at IB. */
static void prune_rows(brAccount *a)
{
    char keys[64][64 + ST_KEY_MAX];
    size_t n;
    do {
        n = 0;
        ibbMapIter it;
        const char *k;
        size_t klen;
        void *v;
        ibbMapIter_Init(&it, a->rows);
        while (n < 64 && ibbMapIter_Next(&it, &k, &klen, &v)) {
            posRow *r = v;
            if (r->gen != a->gen && klen < sizeof keys[0]) {
                memcpy(keys[n], k, klen);
                keys[n++][klen] = '\0';
            }
        }
        for (size_t i = 0; i < n; i++)
            free(ibbMap_Del(a->rows, keys[i]));
    } while (n == 64);
}

/* ---- replies ------------------------------------------------------------------------------------- */

static bool numeric(const char *s, double *d)
{
    char *end;
    if (!*s)
        return false;
    *d = strtod(s, &end);
    return *end == '\0' && isfinite(*d);
}

static int cmp_rows(const void *x, const void *y)
{
    const posRow *a = *(const posRow *const *)x, *b = *(const posRow *const *)y;
    int c = strcmp(a->account, b->account);
    return c ? c : strcmp(a->key, b->key);
}

static void pack_row(msgpack_packer *pk, const posRow *r)
{
    msgpack_pack_map(pk, r->has_portfolio ? 11 : 7);
    busPack_KeyStr(pk, "account", r->account);
    busPack_KeyStr(pk, "key", r->key);
    busPack_KeyInt(pk, "con_id", r->spec.con_id);
    busPack_Str(pk, "contract");
    br_packContract(pk, &r->spec);
    busPack_KeyDouble(pk, "position", r->position);
    busPack_KeyDouble(pk, "avg_cost", r->avg_cost);
    busPack_KeyInt(pk, "updated_ns", r->ns);
    if (r->has_portfolio) {
        busPack_KeyDouble(pk, "market_price", r->market_price);
        busPack_KeyDouble(pk, "market_value", r->market_value);
        busPack_KeyDouble(pk, "unrealized_pnl", r->unrealized_pnl);
        busPack_KeyDouble(pk, "realized_pnl", r->realized_pnl);
    }
}

static bool live(const brBridge *b, const brAccount *a) { return b->ib_ready && a->positions_done; }

static void pack_positions(brBridge *b, msgpack_packer *pk, const char *account)
{
    brAccount *a = amod(b);
    size_t n = ibbMap_Count(a->rows), k = 0;
    posRow **rows = n ? malloc(n * sizeof *rows) : NULL;
    ibbMapIter it;
    void *v;
    ibbMapIter_Init(&it, a->rows);
    while (rows && k < n && ibbMapIter_Next(&it, NULL, NULL, &v)) {
        posRow *r = v;
        if (r->position != 0 && (!account || strcmp(account, r->account) == 0))
            rows[k++] = r;
    }
    if (k > 1)
        qsort(rows, k, sizeof *rows, cmp_rows);
    msgpack_pack_map(pk, 6);
    busPack_KeyInt(pk, "as_of_ns", br_wallNs());
    busPack_KeyBool(pk, "live", live(b, a));
    busPack_KeyInt(pk, "snapshot_ns", a->positions_ns);
    busPack_KeyStr(pk, "portfolio_account", a->updates_account);
    busPack_KeyInt(pk, "count", (int64_t)k);
    busPack_Str(pk, "positions");
    msgpack_pack_array(pk, k);
    for (size_t i = 0; i < k; i++)
        pack_row(pk, rows[i]);
    free(rows);
}

static void pack_account(brBridge *b, msgpack_packer *pk, const char *account)
{
    brAccount *a = amod(b);
    int n = 0;
    for (int i = 0; i < a->naccounts; i++)
        n += !account || strcmp(account, a->accounts[i].account) == 0;
    msgpack_pack_map(pk, 6);
    busPack_KeyInt(pk, "as_of_ns", br_wallNs());
    busPack_KeyBool(pk, "live", b->ib_ready && a->summary_done);
    busPack_KeyInt(pk, "summary_ns", a->summary_ns);
    busPack_KeyInt(pk, "updates_ns", a->updates_ns);
    busPack_KeyInt(pk, "count", n);
    busPack_Str(pk, "accounts");
    msgpack_pack_array(pk, (size_t)n);
    for (int i = 0; i < a->naccounts; i++) {
        const acctEntry *e = &a->accounts[i];
        if (account && strcmp(account, e->account) != 0)
            continue;
        int nv = 0;
        int64_t newest = 0;
        const char *ccy = "";
        for (size_t t = 0; t < N_TAGS; t++)
            if (e->v[t].ns) {
                nv++;
                if (e->v[t].ns > newest)
                    newest = e->v[t].ns;
                if (strcmp(ACCT_TAGS[t], "NetLiquidation") == 0)
                    ccy = e->v[t].currency;
            }
        msgpack_pack_map(pk, 5);
        busPack_KeyStr(pk, "account", e->account);
        busPack_KeyStr(pk, "currency", ccy);
        busPack_KeyBool(pk, "portfolio", strcmp(e->account, a->updates_account) == 0);
        busPack_KeyInt(pk, "updated_ns", newest);
        busPack_Str(pk, "values");
        msgpack_pack_map(pk, (size_t)nv);
        for (size_t t = 0; t < N_TAGS; t++) {
            const acctValue *v = &e->v[t];
            if (!v->ns)
                continue;
            busPack_Str(pk, ACCT_TAGS[t]);
            msgpack_pack_map(pk, 4);
            busPack_Str(pk, "value");
            double d;
            if (numeric(v->value, &d))
                msgpack_pack_double(pk, d);
            else
                busPack_Str(pk, v->value);
            busPack_KeyStr(pk, "currency", v->currency);
            busPack_KeyInt(pk, "updated_ns", v->ns);
            busPack_KeyStr(pk, "source", v->from_updates ? "updates" : "summary");
        }
    }
}

/* Answers now; account filter already checked. */
static void answer(brBridge *b, busRequest *req, bool account)
{
    char acc[32] = "";
    busObj_StrCopy(busRequest_Body(req), "account", acc, sizeof acc);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    if (account)
        pack_account(b, &pk, acc[0] ? acc : NULL);
    else
        pack_positions(b, &pk, acc[0] ? acc : NULL);
    brq_replyChecked(b, req, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
}

static void unlink_wait(brAccount *a, waitReq *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        a->waiting = w->next;
    if (w->next)
        w->next->prev = w->prev;
}

static void on_wait_expire(busRequest *req, void *arg)
{
    waitReq *w = arg;
    unlink_wait(amod(w->b), w);
    busRequest_Release(req);
    free(w);
}

/* Answers every waiting request of one kind (the snapshot it waited for is complete). */
static void flush_waiting(brBridge *b, bool account)
{
    brAccount *a = amod(b);
    for (waitReq *w = a->waiting, *nx; w; w = nx) {
        nx = w->next;
        if (w->account != account)
            continue;
        unlink_wait(a, w);
        answer(b, w->req, account);
        busRequest_OnExpire(w->req, NULL, NULL);
        busRequest_Release(w->req);
        free(w);
    }
}

static void on_query(busRequest *req, brBridge *b, bool account)
{
    brAccount *a = amod(b);
    char acc[32];
    ibbStatus st = busObj_StrCopy(busRequest_Body(req), "account", acc, sizeof acc);
    if (st != IBB_OK && st != IBB_ERR_NOT_FOUND) {
        busRequest_FailField(req, "account", st, "string: an account id such as DU1234567");
        return;
    }
    if (st == IBB_OK && acc[0]) {
        const char *list = coreSession_Accounts(b->ib);
        size_t n = strlen(acc);
        bool known = account_entry(a, acc, false) != NULL;
        for (const char *p = list; !known && p && (p = strstr(p, acc)) != NULL; p += n)
            known = (p == list || p[-1] == ',') && (p[n] == ',' || p[n] == '\0');
        if (!known) {
            busRequest_Failf(req, "not_found", 0,
                             "account '%s' is not managed by this IB session (accounts: %s)", acc,
                             list && *list ? list : "none yet");
            return;
        }
    }
    bool ready = account ? a->summary_done : a->positions_done;
    if (!b->ib_ready && !a->ever_loaded) {
        br_requireIb(b, req);
        busRequest_Release(req);
        return;
    }
    if (b->ib_ready && !ready) { /* the first snapshot is on its way: answer when it is complete */
        waitReq *w = calloc(1, sizeof *w);
        if (w) {
            w->req = req;
            w->b = b;
            w->account = account;
            w->next = a->waiting;
            if (a->waiting)
                a->waiting->prev = w;
            a->waiting = w;
            busRequest_OnExpire(req, on_wait_expire, w);
            return;
        }
    }
    answer(b, req, account);
    busRequest_Release(req);
}

static void on_positions(busRequest *req, void *arg) { on_query(req, arg, false); }
static void on_account(busRequest *req, void *arg) { on_query(req, arg, true); }

/* ---- IB streams ---------------------------------------------------------------------------------- */

static void on_summary_reply(brBridge *b, int64_t req_id, const ibReply *r, void *ctx)
{
    (void)req_id;
    (void)ctx;
    brAccount *a = amod(b);
    if (r->id == IB_MSG_ACCOUNT_SUMMARY) {
        const ibAccountSummary *s = &r->u.account_summary;
        set_value(a, s->account, s->tag, s->value, s->currency, false, coreSession_ReadTimeNs(b->ib));
    } else if (r->id == IB_MSG_ACCOUNT_SUMMARY_END) {
        bool first = !a->summary_done;
        a->summary_done = true;
        a->summary_ns = br_wallNs();
        a->ever_loaded = true;
        if (first)
            IBB_INFO("account.summary_loaded", "accounts=%d", a->naccounts);
        flush_waiting(b, true);
    }
}

static void on_summary_error(brBridge *b, int64_t req_id, const ibError *e, void *ctx)
{
    (void)ctx;
    brAccount *a = amod(b);
    IBB_WARN("account.summary_error", "req_id=%" PRId64 " code=%" PRId64 " text=\"%s\"", req_id, e->code,
             e->message);
    snprintf(a->summary_error, sizeof a->summary_error, "IB error %" PRId64 ": %s", e->code, e->message);
    if (e->code >= 2100 && e->code < 2200)
        return; /* warnings */
    br_reqClose(b, req_id);
    a->summary_req_id = 0;
    a->summary_done = true; /* answer with what we have rather than wait forever */
    flush_waiting(b, true);
}

static void on_summary_lost(brBridge *b, int64_t req_id, void *ctx)
{
    (void)ctx;
    br_reqClose(b, req_id);
    amod(b)->summary_req_id = 0;
}

static const brPendingOps summary_ops = {on_summary_reply, on_summary_error, on_summary_lost};

void brq_accountUpdateValue(brBridge *b, const char *account, const char *tag, const char *value,
                            const char *ccy)
{
    brAccount *a = amod(b);
    set_value(a, account, tag, value, ccy, true, coreSession_ReadTimeNs(b->ib));
    a->updates_ns = br_wallNs();
}

const char *brq_accountUpdatesAccount(const brBridge *b) { return amod(b)->updates_account; }

bool brq_accountOnReply(brBridge *b, const ibReply *r)
{
    brAccount *a = amod(b);
    switch (r->id) {
    case IB_MSG_POSITION: on_position(b, &r->u.position); break;
    case IB_MSG_POSITION_END:
        if (!a->positions_done)
            prune_rows(a);
        a->positions_done = true;
        a->ever_loaded = true;
        a->positions_ns = br_wallNs();
        flush_waiting(b, false);
        break;
    case IB_MSG_PORTFOLIO_VALUE: on_portfolio(b, &r->u.portfolio); break;
    case IB_MSG_ACCOUNT_VALUE: {
        const ibAccountValue *v = &r->u.account_value;
        brq_accountUpdateValue(b, v->account, v->key, v->value, v->currency);
        break;
    }
    case IB_MSG_ACCOUNT_TIME:
        snprintf(a->updates_time, sizeof a->updates_time, "%s",
                 r->u.account_time.time ? r->u.account_time.time : "");
        a->updates_ns = br_wallNs();
        break;
    case IB_MSG_ACCOUNT_DOWNLOAD_END:
        a->updates_done = true;
        a->updates_ns = br_wallNs();
        break;
    default: break;
    }
    return false; /* observed, never consumed: other modules may read the same streams */
}

void brq_accountIbReady(brBridge *b)
{
    brAccount *a = amod(b);
    a->gen++;
    a->positions_done = a->summary_done = a->updates_done = false;
    a->summary_error[0] = '\0';
    ibRequest rq;
    ibRequest_Init(&rq, IB_REQ_POSITIONS);
    if (br_send(b, &rq) != IBB_OK)
        a->positions_done = true;
    ibRequest_Init(&rq, IB_REQ_ACCOUNT_SUMMARY);
    int64_t id = br_reqOpen(b, &summary_ops, NULL);
    if (id > 0) {
        rq.u.account_summary.req_id = id;
        rq.u.account_summary.group = "All";
        rq.u.account_summary.tags = SUMMARY_TAGS;
        if (br_send(b, &rq) == IBB_OK) {
            a->summary_req_id = id;
        } else {
            br_reqClose(b, id);
            a->summary_done = true;
        }
    }
    /* reqAccountUpdates: one account per IB session, the first managed one */
    const char *accts = coreSession_Accounts(b->ib);
    size_t n = accts ? strcspn(accts, ",") : 0;
    snprintf(a->updates_account, sizeof a->updates_account, "%.*s", (int)(n < 31 ? n : 31),
             accts ? accts : "");
    if (a->updates_account[0]) {
        ibRequest_Init(&rq, IB_REQ_ACCOUNT_UPDATES);
        rq.u.account_updates.subscribe = true;
        rq.u.account_updates.account = a->updates_account;
        br_send(b, &rq);
    }
    IBB_INFO("account.subscribed", "summary_req_id=%" PRId64 " updates_account=%s", a->summary_req_id,
             a->updates_account);
}

void brq_accountIbDown(brBridge *b)
{
    brAccount *a = amod(b);
    a->summary_req_id = 0; /* lost with the link (on_lost closed it) */
    /* requests waiting for a first snapshot get what memory holds */
    a->positions_done = a->summary_done = true;
    flush_waiting(b, false);
    flush_waiting(b, true);
    a->positions_done = a->summary_done = a->updates_done = false;
}

void brq_accountStop(brBridge *b)
{
    brAccount *a = amod(b);
    if (!b->ib_ready)
        return;
    ibRequest rq;
    ibRequest_Init(&rq, IB_REQ_CANCEL_POSITIONS);
    br_send(b, &rq);
    if (a->summary_req_id > 0) {
        ibRequest_Init(&rq, IB_REQ_CANCEL_ACCOUNT_SUMMARY);
        rq.u.cancel.req_id = a->summary_req_id;
        br_send(b, &rq);
        br_reqClose(b, a->summary_req_id);
        a->summary_req_id = 0;
    }
    if (a->updates_account[0]) {
        ibRequest_Init(&rq, IB_REQ_ACCOUNT_UPDATES);
        rq.u.account_updates.subscribe = false;
        rq.u.account_updates.account = a->updates_account;
        br_send(b, &rq);
    }
}

ibbStatus brq_accountInit(brBridge *b)
{
    brAccount *a = calloc(1, sizeof *a);
    if (!a)
        return IBB_ERR_NOMEM;
    brq_mod(b)->account = a;
    ibbStatus s = ibbMap_Create(&a->rows);
    if (s != IBB_OK)
        return s;
    busEndpointDef d = {.name = "positions", .subject = "positions", .handler = on_positions, .arg = b};
    if ((s = busService_AddEndpoint(b->svc, &d)) != IBB_OK)
        return s;
    busEndpointDef d2 = {.name = "account", .subject = "account", .handler = on_account, .arg = b};
    return busService_AddEndpoint(b->svc, &d2);
}

void brq_accountFini(brBridge *b)
{
    brAccount *a = amod(b);
    if (!a)
        return;
    while (a->waiting) {
        waitReq *w = a->waiting;
        a->waiting = w->next;
        busRequest_Release(w->req);
        free(w);
    }
    if (a->rows) {
        ibbMapIter it;
        void *v;
        ibbMapIter_Init(&it, a->rows);
        while (ibbMapIter_Next(&it, NULL, NULL, &v))
            free(v);
        ibbMap_Destroy(a->rows);
    }
    free(a);
    brq_mod(b)->account = NULL;
}
