/* sim_discovery.c — symbol search (reqMatchingSymbols -> symbolSamples, PROTOCOL.md §3.18) and the
 * market scanner (reqScannerParameters, reqScannerSubscription -> scannerData, §3.19) over ib-sim's
 * universe.
 *
 * Search: a pattern matches a symbol it starts (case-insensitive) or a word of the company name it
 * starts; exact symbols first, then other symbols, then names; one item per symbol and type; at most
 * 16 (IB's limit). The times of the requests are kept for the control port (stats
 * matching_symbols_min_gap_ms: IB asks for at least one second between two).
 * Scanner: the stocks ranked by the scan code (TOP_PERC_GAIN / TOP_PERC_LOSE: change from the
 * previous close; MOST_ACTIVE / HOT_BY_VOLUME: today's volume), filtered by price and volume, at most
 * 50 rows; one scannerData per subscription, which stays open until cancelled; at most SIM_MAX_SCANS
 * per client (error 162 past it, as IB reports scanner failures). */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sim.h"

#define MAX_SAMPLES 16
#define MAX_SCAN_ROWS 50

/* ---- symbol search ----------------------------------------------------------------------------- */

static bool starts_with(const char *s, const char *prefix)
{
    return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

/* 0 exact symbol, 1 symbol prefix, 2 name word prefix, -1 no match. */
static int match_rank(const simInstrument *in, const char *pattern)
{
    if (!strcasecmp(in->symbol, pattern))
        return 0;
    if (starts_with(in->symbol, pattern))
        return 1;
    for (const char *w = in->long_name; *w; w++)
        if ((w == in->long_name || !isalnum((unsigned char)w[-1])) && starts_with(w, pattern))
            return 2;
    return -1;
}

static bool listed(const simServer *srv, const int *hits, int n, const simInstrument *in)
{
    for (int i = 0; i < n; i++) {
        const simInstrument *o = &srv->insts[hits[i]];
        if (!strcmp(o->symbol, in->symbol) && !strcmp(o->sec_type, in->sec_type))
            return true;
    }
    return false;
}

static void note_request_time(simServer *srv)
{
    uint64_t now = sim_nowMs();
    if (srv->match_last_ms) {
        uint64_t gap = now - srv->match_last_ms;
        if (!srv->match_min_gap_ms || gap < srv->match_min_gap_ms)
            srv->match_min_gap_ms = gap ? gap : 1;
    }
    srv->match_last_ms = now;
}

void sim_handleMatchingSymbols(simConn *c, const ibReqMatchingSymbols *r)
{
    simServer *srv = c->srv;
    note_request_time(srv);
    int hits[MAX_SAMPLES], n = 0;
    const char *pat = r->pattern ? r->pattern : "";
    for (int rank = 0; rank <= 2 && *pat; rank++)
        for (int i = 0; i < srv->n_insts && n < MAX_SAMPLES; i++)
            if (match_rank(&srv->insts[i], pat) == rank && !listed(srv, hits, n, &srv->insts[i]))
                hits[n++] = i;
    static const char *const STK_DERIVS[] = {"OPT"};
    ibSymbolSample items[MAX_SAMPLES];
    memset(items, 0, sizeof items);
    for (int i = 0; i < n; i++) {
        const simInstrument *in = &srv->insts[hits[i]];
        ibSymbolSample *s = &items[i];
        s->con_id = in->con_id;
        s->symbol = in->symbol;
        s->sec_type = in->sec_type;
        s->primary_exchange = in->primary_exchange[0] ? in->primary_exchange : in->exchange;
        s->currency = in->currency;
        bool stk = !strcmp(in->sec_type, "STK");
        s->deriv_count = stk ? 1 : 0;
        s->deriv_sec_types = stk ? STK_DERIVS : NULL;
        s->description = in->long_name;
        s->issuer_id = "";
    }
    ibReply rep;
    memset(&rep, 0, sizeof rep);
    rep.id = IB_MSG_SYMBOL_SAMPLES;
    rep.u.symbol_samples.req_id = r->req_id;
    rep.u.symbol_samples.count = n;
    rep.u.symbol_samples.samples = items;
    sim_send(c, &rep, NULL);
}

/* ---- scanner parameters ------------------------------------------------------------------------- */

static const char SCANNER_XML[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ScanParameterResponse>"
    "<InstrumentList><Instrument><name>US Stocks</name><type>STK</type>"
    "<filters>priceAbove,priceBelow,volumeAbove</filters></Instrument></InstrumentList>"
    "<LocationTree><Location><displayName>US Stocks</displayName><locationCode>STK.US</locationCode>"
    "<instruments>STK</instruments><LocationTree><Location><displayName>Listed/NASDAQ</displayName>"
    "<locationCode>STK.US.MAJOR</locationCode><instruments>STK</instruments></Location></LocationTree>"
    "</Location></LocationTree>"
    "<ScanTypeList>"
    "<ScanType><displayName>Top % Gainers</displayName><scanCode>TOP_PERC_GAIN</scanCode>"
    "<instruments>STK</instruments></ScanType>"
    "<ScanType><displayName>Top % Losers</displayName><scanCode>TOP_PERC_LOSE</scanCode>"
    "<instruments>STK</instruments></ScanType>"
    "<ScanType><displayName>Most Active</displayName><scanCode>MOST_ACTIVE</scanCode>"
    "<instruments>STK</instruments></ScanType>"
    "<ScanType><displayName>Hot Contracts by Volume</displayName><scanCode>HOT_BY_VOLUME</scanCode>"
    "<instruments>STK</instruments></ScanType>"
    "</ScanTypeList>"
    "<FilterList>"
    "<RangeFilter><id>PRICE</id><category>Price</category>"
    "<AbstractField type=\"scanner.filter.DoubleField\"><code>priceAbove</code><displayName>Price Above"
    "</displayName></AbstractField>"
    "<AbstractField type=\"scanner.filter.DoubleField\"><code>priceBelow</code><displayName>Price Below"
    "</displayName></AbstractField></RangeFilter>"
    "<RangeFilter><id>VOLUME</id><category>Volume</category>"
    "<AbstractField type=\"scanner.filter.IntField\"><code>volumeAbove</code><displayName>Volume Above"
    "</displayName></AbstractField></RangeFilter>"
    "</FilterList></ScanParameterResponse>";

void sim_handleScannerParams(simConn *c)
{
    ibReply rep;
    memset(&rep, 0, sizeof rep);
    rep.id = IB_MSG_SCANNER_PARAMETERS;
    rep.u.scanner_params.xml = SCANNER_XML;
    sim_send(c, &rep, NULL);
}

/* ---- scanner ------------------------------------------------------------------------------------- */

typedef struct scanItem {
    int inst;
    double key;
} scanItem;

static int cmp_item(const void *a, const void *b)
{
    const scanItem *x = a, *y = b;
    if (x->key != y->key)
        return x->key > y->key ? -1 : 1;
    return x->inst - y->inst;
}

static double change_pct(const simInstrument *in)
{
    double close = sim_tickPrice(in, in->close_t);
    return close > 0 ? (sim_tickPrice(in, in->last_t) - close) / close : 0;
}

int sim_scanRank(simServer *srv, const char *scan_code, double above_price, double below_price,
                 double above_volume, int *out, int max)
{
    int kind = !strcmp(scan_code, "TOP_PERC_GAIN")                                        ? 0
               : !strcmp(scan_code, "TOP_PERC_LOSE")                                      ? 1
               : !strcmp(scan_code, "MOST_ACTIVE") || !strcmp(scan_code, "HOT_BY_VOLUME") ? 2
                                                                                          : -1;
    if (kind < 0)
        return -1;
    scanItem *items = malloc((size_t)(srv->n_insts ? srv->n_insts : 1) * sizeof *items);
    if (!items)
        return 0;
    int n = 0;
    for (int i = 0; i < srv->n_insts; i++) {
        const simInstrument *in = &srv->insts[i];
        double last = sim_tickPrice(in, in->last_t);
        if (strcmp(in->sec_type, "STK") || (!ib_isUnsetDouble(above_price) && !(last > above_price)) ||
            (!ib_isUnsetDouble(below_price) && !(last < below_price)) ||
            (!ib_isUnsetDouble(above_volume) && !(in->volume > above_volume)))
            continue;
        double key = kind == 0 ? change_pct(in) : kind == 1 ? -change_pct(in) : in->volume;
        items[n++] = (scanItem){i, key};
    }
    qsort(items, (size_t)n, sizeof *items, cmp_item);
    int k = n < max ? n : max;
    for (int i = 0; i < k; i++)
        out[i] = items[i].inst;
    free(items);
    return k;
}

/* The value of `tag` in IB's "tag=value;tag=value;" filter options, or IB_UNSET_DOUBLE. */
static double filter_value(const char *opts, const char *tag)
{
    size_t n = strlen(tag);
    for (const char *p = opts; p && *p;) {
        if (!strncmp(p, tag, n) && p[n] == '=')
            return strtod(p + n + 1, NULL);
        p = strchr(p, ';');
        p = p ? p + 1 : NULL;
    }
    return IB_UNSET_DOUBLE;
}

static void scan_error(simConn *c, int64_t req_id, const char *what)
{
    char msg[200];
    snprintf(msg, sizeof msg, "Historical Market Data Service error message:%s", what);
    sim_sendError(c, req_id, 162, msg);
}

/* Filters from the subscription's own fields, overridden by the filter options. */
static void scan_filters(const ibReqScannerSubscription *r, double *above, double *below, double *vol)
{
    *above = r->above_price;
    *below = r->below_price;
    *vol = ib_isUnsetInt(r->above_volume) ? IB_UNSET_DOUBLE : (double)r->above_volume;
    double v;
    if (!ib_isUnsetDouble(v = filter_value(r->filter_options, "priceAbove")))
        *above = v;
    if (!ib_isUnsetDouble(v = filter_value(r->filter_options, "priceBelow")))
        *below = v;
    if (!ib_isUnsetDouble(v = filter_value(r->filter_options, "volumeAbove")))
        *vol = v;
}

static void send_scan(simConn *c, const ibReqScannerSubscription *r, const int *ranked, int n)
{
    simServer *srv = c->srv;
    ibScannerRow rows[MAX_SCAN_ROWS];
    memset(rows, 0, sizeof rows);
    for (int i = 0; i < n; i++) {
        const simInstrument *in = &srv->insts[ranked[i]];
        rows[i].rank = i;
        sim_fillContract(in, &rows[i].contract);
        rows[i].contract.strike = 0;
        rows[i].market_name = in->trading_class;
        rows[i].distance = rows[i].benchmark = rows[i].projection = rows[i].legs = "";
    }
    ibReply rep;
    memset(&rep, 0, sizeof rep);
    rep.id = IB_MSG_SCANNER_DATA;
    rep.u.scanner_data.req_id = r->req_id;
    rep.u.scanner_data.count = n;
    rep.u.scanner_data.rows = rows;
    sim_send(c, &rep, NULL);
}

void sim_handleScanner(simConn *c, const ibReqScannerSubscription *r)
{
    for (int i = 0; i < c->n_scans; i++)
        if (c->scans[i] == r->req_id) {
            sim_sendError(c, r->req_id, 385, "Duplicate ticker ID for API scanner subscription");
            return;
        }
    if (c->n_scans >= SIM_MAX_SCANS) {
        scan_error(c, r->req_id,
                   "Error: Max number (10) of simultaneous API scanner subscriptions exceeded.");
        return;
    }
    if (strcmp(r->instrument ? r->instrument : "", "STK") ||
        (strcmp(r->location_code, "STK.US.MAJOR") && strcmp(r->location_code, "STK.US"))) {
        scan_error(c, r->req_id, "Error: Market Scanner is not configured for one of the chosen locations.");
        return;
    }
    double above, below, vol;
    scan_filters(r, &above, &below, &vol);
    int rows =
        r->number_of_rows > 0 && r->number_of_rows < MAX_SCAN_ROWS ? (int)r->number_of_rows : MAX_SCAN_ROWS;
    int ranked[MAX_SCAN_ROWS];
    int n = sim_scanRank(c->srv, r->scan_code ? r->scan_code : "", above, below, vol, ranked, rows);
    if (n < 0) {
        scan_error(c, r->req_id, "Error: Unknown scan code.");
        return;
    }
    c->scans[c->n_scans++] = r->req_id;
    send_scan(c, r, ranked, n);
}

void sim_handleCancelScanner(simConn *c, int64_t req_id)
{
    for (int i = 0; i < c->n_scans; i++)
        if (c->scans[i] == req_id) {
            c->scans[i] = c->scans[--c->n_scans];
            return;
        }
    sim_sendError(c, req_id, 365, "No scanner subscription found for ticker id:");
}
