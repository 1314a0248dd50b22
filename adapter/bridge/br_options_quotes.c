/* br_options_quotes.c — ib.rpc.options.quotes: a one-shot slice of an option chain with greeks.
 *
 * {underlying, expiration, right?, strikes? | window?, exchange?}: the chain (br_options.c) says which
 * strikes exist; without `strikes` the `window` strikes on each side of the underlying's price (a
 * snapshot of the underlying) are taken. Each option is one br_quoteSnapshot; they run as a queue
 * that never holds more snapshots than the market-data lines free (ib.md_line_budget minus leased
 * instruments minus snapshots in flight), so IB never sees more lines than the budget: a snapshot
 * that finds no free line waits and retries. The reply lists every option with its quote (greeks
 * included) or its own error.
 *
 * Ownership: the module's job list owns each job until it answers; the job's timer frees it (close
 * callback). A job is cancelled (its snapshots withdrawn) when its request expires. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "br_options_int.h"
#include "ibb_log.h"

#define MAX_OPTIONS 100
#define DEFAULT_WINDOW 5
#define MAX_WINDOW 25
#define RETRY_MS 50

typedef enum { IT_PENDING, IT_RUNNING, IT_DONE } itemState;

typedef struct optItem {
    optQuotesJob *job;
    char key[ST_KEY_MAX];
    char right;
    double strike;
    itemState state;
    bool have_q;
    stQuote q;                       /* a copy of the snapshot (user pointer cleared) */
    char slug[32], msg[240];
    int ib_code;
} optItem;

struct optQuotesJob {
    brBridge *b;
    busRequest *req;
    char und[ST_KEY_MAX];
    char expiration[12], exchange[ST_FIELD_MAX], rights[3];
    double strikes[MAX_OPTIONS];
    size_t n_strikes;
    int64_t window;
    stChainClass cls;                /* the class used (its lists not kept) */
    double und_price;                /* NAN when not asked */
    bool waiting_chain, waiting_und, ended;
    bool refused;                    /* a snapshot found no free line: wait for the retry timer */
    optItem *items;
    size_t n, running, done;
    uv_timer_t timer;                /* retries when no line is free */
    optQuotesJob *next;
};

static void pump(optQuotesJob *j);

/* ---- the job's life ---------------------------------------------------------------------------- */

static void job_free_cb(uv_handle_t *h)
{
    optQuotesJob *j = h->data;
    free(j->items);
    free(j);
}

static void on_item_quote(brBridge *b, void *ctx, const stQuote *q, const char *slug, const char *msg,
                          int ib_code);
static void on_und_quote(brBridge *b, void *ctx, const stQuote *q, const char *slug, const char *msg,
                         int ib_code);
static void on_job_chain(brBridge *b, void *ctx, const stChain *c, const char *slug, const char *msg, int ib_code);

/* Withdraws what the job still waits for, unlinks it and frees it (after its timer closed). */
static void job_end(optQuotesJob *j)
{
    brBridge *b = j->b;
    if (j->ended)
        return;
    j->ended = true;
    if (j->waiting_chain)
        brOpt_chainCancel(b, j->und, on_job_chain, j);
    if (j->waiting_und)
        br_quoteSnapshotCancel(b, j->und, on_und_quote, j);
    for (size_t i = 0; i < j->n; i++)
        if (j->items[i].state == IT_RUNNING)
            br_quoteSnapshotCancel(b, j->items[i].key, on_item_quote, &j->items[i]);
    for (optQuotesJob **p = &brOpt_mod(b)->jobs; *p; p = &(*p)->next)
        if (*p == j) {
            *p = j->next;
            break;
        }
    busRequest_Release(j->req);
    uv_close((uv_handle_t *)&j->timer, job_free_cb);
}

static void job_fail(optQuotesJob *j, const char *slug, const char *msg, int ib_code)
{
    busRequest_Error(j->req, slug, msg, ib_code);
    job_end(j);
}

static void on_job_expire(busRequest *req, void *arg)
{
    (void)req;
    job_end(arg);
}

void brOpt_quotesStop(brBridge *b)
{
    while (brOpt_mod(b) && brOpt_mod(b)->jobs)
        job_fail(brOpt_mod(b)->jobs, "unavailable", "ib-bridge is shutting down", 0);
}

/* ---- the reply ----------------------------------------------------------------------------------- */

static void pack_item(msgpack_packer *pk, const optItem *it)
{
    msgpack_pack_map(pk, 4);
    busPack_KeyStr(pk, "key", it->key);
    busPack_KeyStr(pk, "right", it->right == 'C' ? "C" : "P");
    busPack_KeyDouble(pk, "strike", it->strike);
    if (it->have_q && !it->slug[0]) {
        busPack_Str(pk, "quote");
        br_packSnapshotQuote(pk, &it->q);
        return;
    }
    busPack_Str(pk, "error");
    msgpack_pack_map(pk, it->ib_code ? 3 : 2);
    busPack_KeyStr(pk, "code", it->slug[0] ? it->slug : "internal");
    busPack_KeyStr(pk, "message", it->msg);
    if (it->ib_code)
        busPack_KeyInt(pk, "ib_code", it->ib_code);
}

static void answer(optQuotesJob *j)
{
    msgpack_packer *pk = busRequest_Packer(j->req);
    bool price = !isnan(j->und_price);
    msgpack_pack_map(pk, 7 + price);
    busPack_KeyStr(pk, "underlying", j->und);
    busPack_KeyStr(pk, "expiration", j->expiration);
    busPack_KeyStr(pk, "exchange", j->cls.exchange);
    busPack_KeyStr(pk, "trading_class", j->cls.trading_class);
    busPack_KeyStr(pk, "multiplier", j->cls.multiplier);
    if (price)
        busPack_KeyDouble(pk, "underlying_price", j->und_price);
    busPack_KeyInt(pk, "count", (int64_t)j->n);
    busPack_Str(pk, "options");
    msgpack_pack_array(pk, j->n);
    for (size_t i = 0; i < j->n; i++)
        pack_item(pk, &j->items[i]);
    busRequest_ReplyPacked(j->req);
    IBB_INFO("options.quotes", "underlying=%s expiration=%s options=%zu", j->und, j->expiration, j->n);
    job_end(j);
}

/* ---- snapshots within the line budget ------------------------------------------------------------ */

static int64_t free_lines(const brBridge *b)
{
    return b->opt.md_line_budget - (int64_t)stLeases_KeyCount(b->leases) - (int64_t)br_quoteSnapshotLines(b);
}

static void on_retry(uv_timer_t *t)
{
    optQuotesJob *j = t->data;
    j->refused = false;
    pump(j);
}

static void on_item_quote(brBridge *b, void *ctx, const stQuote *q, const char *slug, const char *msg,
                          int ib_code)
{
    (void)b;
    optItem *it = ctx;
    optQuotesJob *j = it->job;
    j->running--;
    if (slug && strcmp(slug, "line_limit") == 0) { /* another module took the line meanwhile: queue again */
        it->state = IT_PENDING;
        j->refused = true;
        uv_timer_start(&j->timer, on_retry, RETRY_MS, 0);
        return;
    }
    it->state = IT_DONE;
    j->done++;
    if (q) {
        it->q = *q;
        it->q.user = NULL;
        it->have_q = true;
    }
    snprintf(it->slug, sizeof it->slug, "%s", slug ? slug : "");
    snprintf(it->msg, sizeof it->msg, "%s", msg ? msg : "");
    it->ib_code = ib_code;
    if (j->done == j->n)
        answer(j);
    else
        pump(j);
}

/* Starts pending snapshots while lines are free. With none free, the job's own snapshots ending pump
 * again; with none of its own running (others hold the lines) the timer polls. */
static void pump(optQuotesJob *j)
{
    brBridge *b = j->b;
    for (size_t i = 0; i < j->n && !j->ended && !j->refused; i++) {
        optItem *it = &j->items[i];
        if (it->state != IT_PENDING)
            continue;
        if (free_lines(b) <= 0) {
            if (j->running == 0 && !uv_is_active((uv_handle_t *)&j->timer))
                uv_timer_start(&j->timer, on_retry, RETRY_MS, 0);
            return;
        }
        it->state = IT_RUNNING;
        j->running++;
        int64_t ms = busRequest_RemainingMs(j->req) - 300;
        br_quoteSnapshot(b, it->key, ms > 100 ? ms : 100, on_item_quote, it); /* may answer at once */
    }
}

/* ---- choosing the options ------------------------------------------------------------------------ */

static bool has_strike(const stChainClass *k, double s)
{
    for (size_t i = 0; i < k->n_strikes; i++)
        if (fabs(k->strikes[i] - s) < 1e-9)
            return true;
    return false;
}

/* The class: the one on the asked exchange, else SMART, else the first that lists the expiration. */
static const stChainClass *pick_class(const optQuotesJob *j, const stChain *c)
{
    const stChainClass *first = NULL;
    for (size_t i = 0; i < c->n; i++) {
        const stChainClass *k = &c->classes[i];
        bool listed = false;
        for (size_t e = 0; e < k->n_exp && !listed; e++)
            listed = strcmp(k->expirations[e], j->expiration) == 0;
        if (!listed)
            continue;
        if (j->exchange[0] ? strcmp(k->exchange, j->exchange) == 0 : strcmp(k->exchange, "SMART") == 0)
            return k;
        if (!first && !j->exchange[0])
            first = k;
    }
    return first;
}

/* Fills j->items from j->strikes x j->rights. false = answered (too many). */
static bool build_items(optQuotesJob *j)
{
    size_t nr = strlen(j->rights);
    if (j->n_strikes * nr > MAX_OPTIONS) {
        job_fail(j, "bad_request", "at most 100 options per request: ask for fewer strikes or one right", 0);
        return false;
    }
    j->items = calloc(j->n_strikes * nr + 1, sizeof *j->items);
    if (!j->items) {
        job_fail(j, "internal", "out of memory", 0);
        return false;
    }
    stInstrumentSpec und;
    stInstrument_ParseKey(j->und, &und, NULL);
    for (size_t s = 0; s < j->n_strikes; s++)
        for (size_t r = 0; r < nr; r++) {
            optItem *it = &j->items[j->n++];
            stInstrumentSpec o = {.strike = j->strikes[s]};
            snprintf(o.sec_type, sizeof o.sec_type, "%s", strcmp(und.sec_type, "FUT") == 0 ? "FOP" : "OPT");
            snprintf(o.symbol, sizeof o.symbol, "%s", und.symbol);
            snprintf(o.exchange, sizeof o.exchange, "%s", j->cls.exchange);
            snprintf(o.currency, sizeof o.currency, "%s", und.currency[0] ? und.currency : "USD");
            snprintf(o.expiry, sizeof o.expiry, "%s", j->expiration);
            snprintf(o.right, sizeof o.right, "%c", j->rights[r]);
            snprintf(o.multiplier, sizeof o.multiplier, "%s", j->cls.multiplier);
            stInstrument_FormatKey(&o, it->key, sizeof it->key);
            it->job = j;
            it->right = j->rights[r];
            it->strike = j->strikes[s];
        }
    return true;
}

static void start_items(optQuotesJob *j)
{
    if (build_items(j))
        pump(j);
}

/* The strikes of the window around price: the nearest strike and window on each side. */
static void window_strikes(optQuotesJob *j, const stChain *c, double price)
{
    (void)c;
    const stChainClass *k = &j->cls;
    size_t best = 0;
    for (size_t i = 1; i < k->n_strikes; i++)
        if (fabs(k->strikes[i] - price) < fabs(k->strikes[best] - price))
            best = i;
    size_t lo = best > (size_t)j->window ? best - (size_t)j->window : 0;
    size_t hi = best + (size_t)j->window < k->n_strikes ? best + (size_t)j->window : k->n_strikes - 1;
    j->n_strikes = 0;
    for (size_t i = lo; i <= hi && j->n_strikes < MAX_OPTIONS; i++)
        j->strikes[j->n_strikes++] = k->strikes[i];
}

static double quote_price(const stQuote *q)
{
    if (!isnan(q->last))
        return q->last;
    if (!isnan(q->bid) && !isnan(q->ask))
        return (q->bid + q->ask) / 2;
    return q->close;
}

static void on_und_quote(brBridge *b, void *ctx, const stQuote *q, const char *slug, const char *msg,
                         int ib_code)
{
    optQuotesJob *j = ctx;
    j->waiting_und = false;
    double price = q ? quote_price(q) : NAN;
    if (isnan(price)) {
        job_fail(j, slug && strcmp(slug, "timeout") != 0 ? slug : "unavailable", msg ? msg
                 : "IB sent no price for the underlying: give 'strikes' instead of a window", ib_code);
        return;
    }
    j->und_price = price;
    const stChain *c = stChains_Get(brOpt_mod(b)->cache, j->und, br_wallNs() / ((int64_t)86400 * 1000000000));
    const stChainClass *k = c ? pick_class(j, c) : NULL;
    if (!k) { /* the chain left the cache at midnight: rare, and a retry fetches it again */
        job_fail(j, "unavailable", "the option chain changed while the request ran: retry", 0);
        return;
    }
    j->cls = *k;
    window_strikes(j, c, price);
    start_items(j);
}

static void on_job_chain(brBridge *b, void *ctx, const stChain *c, const char *slug, const char *msg, int ib_code)
{
    optQuotesJob *j = ctx;
    j->waiting_chain = false;
    if (!c) {
        char m[400];
        snprintf(m, sizeof m, "%s: %s", j->und, msg ? msg : "");
        job_fail(j, slug, m, ib_code);
        return;
    }
    if (!stChain_HasExpiration(c, j->expiration)) {
        busRequest_Errorf(j->req, "bad_request", 0,
                          "field 'expiration': %s is not an expiration of %s (ib.rpc.options.chain lists them)",
                          j->expiration, j->und);
        job_end(j);
        return;
    }
    const stChainClass *k = pick_class(j, c);
    if (!k) {
        busRequest_Errorf(j->req, "bad_request", 0, "field 'exchange': %s lists no %s options expiring %s",
                          j->exchange, j->und, j->expiration);
        job_end(j);
        return;
    }
    j->cls = *k;
    for (size_t i = 0; i < j->n_strikes; i++)
        if (!has_strike(k, j->strikes[i])) {
            busRequest_Errorf(j->req, "bad_request", 0, "field 'strikes': %g is not a strike of %s on %s", j->strikes[i],
                              j->und, k->exchange);
            job_end(j);
            return;
        }
    if (j->n_strikes) {
        start_items(j);
        return;
    }
    j->waiting_und = true;
    int64_t ms = busRequest_RemainingMs(j->req) / 2;
    br_quoteSnapshot(b, j->und, ms > 100 ? ms : 100, on_und_quote, j);
}

/* ---- the request --------------------------------------------------------------------------------- */

/* Reads expiration, right, strikes, window, exchange. false = answered with a bad_request. */
static bool parse_body(busRequest *req, optQuotesJob *j)
{
    const msgpack_object *body = busRequest_Body(req);
    char right[8] = "";
    ibbStatus s = busObj_StrCopy(body, "expiration", j->expiration, sizeof j->expiration);
    if (s != IBB_OK || strlen(j->expiration) != 8 || strspn(j->expiration, "0123456789") != 8) {
        busRequest_Error(req, "bad_request", "field 'expiration' is required: a date yyyymmdd, e.g. \"20261218\"", 0);
        return false;
    }
    s = busObj_StrCopy(body, "right", right, sizeof right);
    if (s == IBB_OK && (strcmp(right, "C") == 0 || strcmp(right, "P") == 0))
        snprintf(j->rights, sizeof j->rights, "%s", right);
    else if (s == IBB_ERR_NOT_FOUND)
        snprintf(j->rights, sizeof j->rights, "CP");
    else {
        busRequest_Error(req, "bad_request", "field 'right' must be \"C\" or \"P\" (absent: both)", 0);
        return false;
    }
    s = busObj_StrCopy(body, "exchange", j->exchange, sizeof j->exchange);
    if (s != IBB_OK && s != IBB_ERR_NOT_FOUND) {
        busRequest_BadField(req, "exchange", s, "string (e.g. \"SMART\")");
        return false;
    }
    j->window = DEFAULT_WINDOW;
    s = busObj_Int(body, "window", &j->window);
    if ((s != IBB_OK && s != IBB_ERR_NOT_FOUND) || j->window < 0 || j->window > MAX_WINDOW) {
        busRequest_Errorf(req, "bad_request", 0, "field 'window' must be an integer 0 to %d (strikes on each side)",
                          MAX_WINDOW);
        return false;
    }
    const msgpack_object_array *arr = NULL;
    s = busObj_Array(body, "strikes", &arr);
    if ((s != IBB_OK && s != IBB_ERR_NOT_FOUND) || (arr && (arr->size == 0 || arr->size > MAX_OPTIONS))) {
        busRequest_Errorf(req, "bad_request", 0, "field 'strikes' must be an array of 1 to %d numbers", MAX_OPTIONS);
        return false;
    }
    for (size_t i = 0; arr && i < arr->size; i++) {
        const msgpack_object *o = &arr->ptr[i];
        double v = o->type == MSGPACK_OBJECT_FLOAT64 || o->type == MSGPACK_OBJECT_FLOAT32 ? o->via.f64
                   : o->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? (double)o->via.u64 : -1;
        if (!(v > 0) || !isfinite(v)) {
            busRequest_Errorf(req, "bad_request", 0, "field 'strikes': item %zu must be a positive number", i);
            return false;
        }
        j->strikes[j->n_strikes++] = v;
    }
    return true;
}

void brOpt_onQuotes(busRequest *req, void *arg)
{
    brBridge *b = arg;
    optQuotesJob *j = calloc(1, sizeof *j);
    if (!j) {
        busRequest_Fail(req, "internal", "out of memory", 0);
        return;
    }
    if (!brOpt_underlyingKey(req, j->und, sizeof j->und) || !parse_body(req, j)) {
        busRequest_Release(req);
        free(j);
        return;
    }
    j->b = b;
    j->req = req;
    j->und_price = NAN;
    uv_timer_init(b->loop, &j->timer);
    j->timer.data = j;
    j->next = brOpt_mod(b)->jobs;
    brOpt_mod(b)->jobs = j;
    busRequest_OnExpire(req, on_job_expire, j);
    j->waiting_chain = true;
    brOpt_chain(b, j->und, on_job_chain, j); /* may answer at once (cached) */
}
